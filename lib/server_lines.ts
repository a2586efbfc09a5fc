/**
 * What the server sends, implemented once: every server line's type and
 * fields in wire order, formatted, parsed and encoded, the reasons `LEAVE`
 * and `BYE` lines give, and the greeting's parameters. `docs/protocol.md`
 * is its written form; the page keeps a checked copy of the field table
 * (`web/protocol.js`). Pure (no I/O); what clients send is `protocol.ts`'s.
 *
 * @module
 */

/**
 * Every line the server sends, by type: its fields in wire order. The last
 * field of a type (`text` or `aliases`) takes the rest of the line and may
 * hold spaces; every other field is a single token.
 */
export const SERVER_LINE_FIELDS = {
  HELLO: ["protocol", "server", "params", "text"],
  PASSWORD: ["kind", "text"],
  WELCOME: ["alias", "online", "text"],
  MSG: ["alias", "text"],
  ME: ["alias", "text"],
  PRIV: ["alias", "text"],
  SENT: ["alias", "text"],
  JOIN: ["alias", "online"],
  LEAVE: ["alias", "online", "reason", "text"],
  NICK: ["alias", "newAlias", "online"],
  PRESENCE: ["joined", "left", "online"],
  WHO: ["online", "aliases"],
  TOPIC: ["alias", "text"],
  HIST: ["seq", "time", "kind", "alias", "text"],
  HISTEND: ["count", "text"],
  MOD: ["action", "alias", "by", "text"],
  BAN: ["kind", "target", "until", "by", "text"],
  INFO: ["text"],
  ERR: ["code", "text"],
  PING: ["token"],
  BYE: ["reason", "text"],
  CAP: ["caps"],
  ROOM: ["room", "members", "flags", "topic"],
  CURRENT: ["room"],
  INVITE: ["room", "by"],
  FOUND: ["room", "seq", "time", "kind", "alias", "text"],
  FOUNDEND: ["count", "text"],
  RESUMED: ["last", "missing", "text"],
  RESUME: ["token", "seconds", "text"],
  READ: ["seq"],
  NOTICE: ["alias", "text"],
  PRIVNOTICE: ["alias", "text"],
  SENTNOTICE: ["alias", "text"],
} as const;

/** The type token that starts a server line. */
export type ServerLineType = keyof typeof SERVER_LINE_FIELDS;

/** One server line as fields; numbers travel as decimal strings. */
export type ServerLine<T extends ServerLineType = ServerLineType> = T extends
  ServerLineType ?
    & { readonly type: T }
    & {
      readonly [F in (typeof SERVER_LINE_FIELDS)[T][number]]: string;
    }
  : never;

/**
 * A line of a notice (IRC's `NOTICE`, `/notice`, `/privnotice`): a `MSG`,
 * `PRIV`, `SENT` or `HIST` (kind `MSG`) marked `notice: true`, which is
 * how it is stored and travels between servers. A client without the
 * `notice` capability is sent it as the line it is (a notice is a message
 * to it); {@linkcode noticeForm} gives what a client with it is sent.
 */
export type Notice<L extends ServerLine = ServerLine> = L & {
  readonly notice?: true;
};

/** Whether `line` is a notice (marked, of a type that can be one). */
export function isNotice(line: ServerLine): boolean {
  return (line as Notice).notice === true &&
    (line.type === "MSG" || line.type === "PRIV" || line.type === "SENT" ||
      (line.type === "HIST" && line.kind === "MSG"));
}

/** `line` marked as a notice when `notice` is true (else `line`). */
export function markNotice<L extends ServerLine>(
  line: L,
  notice: boolean | undefined,
): L {
  return notice === true ? { ...line, notice: true } : line;
}

/**
 * What a client with the `notice` capability is sent for `line`: a
 * notice's `MSG` as `NOTICE`, `PRIV` as `PRIVNOTICE`, `SENT` as
 * `SENTNOTICE`, a `HIST` of kind `MSG` as kind `NOTICE`; any other line as
 * it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatServerLine, markNotice, noticeForm } from "./server_lines.ts";
 *
 * const line = markNotice({ type: "MSG", alias: "bot", text: "hi" }, true);
 * assert.equal(formatServerLine(line), "MSG bot hi");
 * assert.equal(formatServerLine(noticeForm(line)), "NOTICE bot hi");
 * ```
 */
export function noticeForm(line: ServerLine): ServerLine {
  if (!isNotice(line)) return line;
  switch (line.type) {
    case "MSG":
      return { type: "NOTICE", alias: line.alias, text: line.text };
    case "PRIV":
      return { type: "PRIVNOTICE", alias: line.alias, text: line.text };
    case "SENT":
      return { type: "SENTNOTICE", alias: line.alias, text: line.text };
    case "HIST":
      return { ...line, kind: "NOTICE" };
  }
  return line;
}

/** Why a member left, as sent in `LEAVE` lines. */
export type LeaveReason =
  | "quit"
  | "disconnect"
  | "timeout"
  | "flood"
  | "slow"
  | "shutdown"
  | "line-too-long"
  | "kicked"
  | "banned"
  | "replaced"
  | "server-lost"
  | "part";

/** Why the server closes a connection, as sent in `BYE` lines. */
export type ByeReason =
  | "quit"
  | "timeout"
  | "flood"
  | "slow"
  | "shutdown"
  | "server-full"
  | "ip-limit"
  | "line-too-long"
  | "kicked"
  | "banned"
  | "replaced"
  | "auth-failed"
  | "too-many-attempts"
  | "server-lost";

/**
 * What the greeting tells a client about the server's limits, so that a
 * client can pace itself instead of being throttled or kicked.
 */
export interface HelloParams {
  /** Lines per second allowed on average; 0 when flood control is off. */
  readonly rate: number;
  /** Lines allowed at once (the token bucket's size). */
  readonly burst: number;
  /** Longest accepted line, in bytes. */
  readonly lineBytes: number;
  /**
   * Who may join: `room` (guests need the room password), `accounts` (only
   * account holders), or absent (anyone; accounts optional).
   */
  readonly auth?: "room" | "accounts";
  /**
   * The capabilities the server offers (see `CAPABILITIES` in `protocol.ts`); a
   * parsed greeting lists every name given, known here or not.
   */
  readonly caps?: readonly string[];
  /**
   * The epoch of the server's room log (`isEpoch` in `protocol.ts`): it
   * changes whenever the log's numbering restarts.
   */
  readonly epoch?: string;
}

/**
 * Formats the greeting's PARAMS field: comma-separated `key=value` pairs in
 * one token (`rate=5,burst=10,line=4096,caps=ids`; capabilities joined by
 * `+`).
 */
export function formatHelloParams(params: HelloParams): string {
  const auth = params.auth ? `,auth=${params.auth}` : "";
  const caps = params.caps?.length ? `,caps=${params.caps.join("+")}` : "";
  const epoch = params.epoch ? `,epoch=${params.epoch}` : "";
  return `rate=${params.rate},burst=${params.burst},line=${params.lineBytes}${auth}${caps}${epoch}`;
}

/**
 * Parses the greeting's PARAMS field. Unknown keys are ignored (newer
 * servers may add some); missing or malformed ones are left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHelloParams } from "./server_lines.ts";
 *
 * assert.deepEqual(parseHelloParams("rate=5,burst=10,line=4096,new=x"), {
 *   rate: 5,
 *   burst: 10,
 *   lineBytes: 4096,
 * });
 * assert.deepEqual(parseHelloParams("rate=5,caps=ids+later").caps, [
 *   "ids",
 *   "later",
 * ]);
 * assert.equal(parseHelloParams("rate=5,epoch=3fA9x").epoch, "3fA9x");
 * assert.deepEqual(parseHelloParams("rate=oops"), {});
 * ```
 */
export function parseHelloParams(field: string): Partial<HelloParams> {
  const keys: Record<string, "rate" | "burst" | "lineBytes"> = {
    rate: "rate",
    burst: "burst",
    line: "lineBytes",
  };
  const params: {
    -readonly [K in keyof HelloParams]?: HelloParams[K];
  } = {};
  for (const pair of field.split(",")) {
    const [key = "", value = ""] = pair.split("=");
    const number = Number(value);
    if (Object.hasOwn(keys, key) && value !== "" && Number.isFinite(number)) {
      params[keys[key]!] = number;
    } else if (key === "auth" && (value === "room" || value === "accounts")) {
      params.auth = value;
    } else if (key === "caps") {
      params.caps = value.split("+").filter((name) => name !== "");
    } else if (key === "epoch" && /^[A-Za-z0-9_-]{1,32}$/.test(value)) {
      params.epoch = value;
    }
  }
  return params;
}

/**
 * Formats a server line (without the line feed). Trailing empty fields are
 * left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatServerLine } from "./server_lines.ts";
 *
 * assert.deepEqual(
 *   formatServerLine({ type: "MSG", alias: "alice", text: "hi all" }),
 *   "MSG alice hi all",
 * );
 * ```
 */
export function formatServerLine(line: ServerLine): string {
  const fields: readonly string[] = SERVER_LINE_FIELDS[line.type];
  const values = line as unknown as Record<string, string>;
  let out: string = line.type;
  let pending = "";
  for (const field of fields) {
    const value = values[field] ?? "";
    if (value === "") {
      pending += " ";
      continue;
    }
    out += pending + " " + value;
    pending = "";
  }
  return out;
}

const encoder = new TextEncoder();

/** Encodes a server line as UTF-8 bytes ending in LF, ready to queue. */
export function encodeServerLine(line: ServerLine): Uint8Array {
  return encoder.encode(formatServerLine(line) + "\n");
}

/**
 * Parses a line received from the server, or returns `undefined` when its
 * type is unknown (a newer server) so that the caller can show it raw.
 */
export function parseServerLine(text: string): ServerLine | undefined {
  const space = text.indexOf(" ");
  const type = space === -1 ? text : text.slice(0, space);
  if (!Object.hasOwn(SERVER_LINE_FIELDS, type)) return undefined;
  const fields: readonly string[] = SERVER_LINE_FIELDS[type as ServerLineType];
  const line: Record<string, string> = { type };
  let rest = space === -1 ? "" : text.slice(space + 1);
  fields.forEach((field, i) => {
    if (i === fields.length - 1) {
      line[field] = rest;
      return;
    }
    const end = rest.indexOf(" ");
    line[field] = end === -1 ? rest : rest.slice(0, end);
    rest = end === -1 ? "" : rest.slice(end + 1);
  });
  return line as unknown as ServerLine;
}
