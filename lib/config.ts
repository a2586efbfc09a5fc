/**
 * Command-line configuration of the server and the client: one table of
 * flags per role (name, default, help), parsed by `node:util` `parseArgs` into
 * one readonly, fully resolved config object with every limit range-checked.
 * Pure: it never reads `Deno.args` or the environment itself.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LOG_LEVELS, type LogLevel } from "./log.ts";

/** TLS engines a server can listen with (see `transport.ts`). */
export const TLS_ENGINES = ["deno", "node"] as const;

/** A TLS engine name. */
export type TlsEngine = (typeof TLS_ENGINES)[number];

/** Port of a room when none is given. */
export const DEFAULT_PORT = 7443;

interface FlagSpec {
  readonly type: "string" | "boolean";
  readonly multiple?: boolean;
  /** Value placeholder shown in help, e.g. `N`. */
  readonly value?: string;
  readonly default?: string;
  readonly help: string;
}

/** Server flags; outside tools rely on these names. */
export const SERVER_FLAGS = {
  host: {
    type: "string",
    value: "HOST",
    default: "0.0.0.0",
    help: "Address to listen on",
  },
  port: {
    type: "string",
    value: "N",
    default: String(DEFAULT_PORT),
    help: "Port to listen on (0 picks a free one)",
  },
  cert: {
    type: "string",
    value: "FILE",
    help:
      "PEM certificate chain to serve (with --key); default: the dev certificate in --certs-dir",
  },
  key: { type: "string", value: "FILE", help: "PEM private key of --cert" },
  "certs-dir": {
    type: "string",
    value: "DIR",
    default: "certs",
    help:
      "Where the dev CA and server certificate live (generated when missing)",
  },
  san: {
    type: "string",
    value: "NAME",
    multiple: true,
    help:
      "Extra DNS name or IP for a generated server certificate (repeatable)",
  },
  "new-ca": {
    type: "boolean",
    help: "With 'certs': make a new CA too (clients must fetch the new ca.pem)",
  },
  name: {
    type: "string",
    value: "NAME",
    default: "tlschat",
    help: "Server name sent in the greeting",
  },
  "max-line-bytes": {
    type: "string",
    value: "N",
    default: "4096",
    help: "Longest accepted line in bytes; longer lines are rejected",
  },
  "max-clients": {
    type: "string",
    value: "N",
    default: "10000",
    help: "Most connections at once",
  },
  "max-per-ip": {
    type: "string",
    value: "N",
    default: "20",
    help: "Most connections from one remote address (0: no cap)",
  },
  "flood-rate": {
    type: "string",
    value: "N",
    default: "5",
    help:
      "Lines per second a client may send on average (0: flood control off)",
  },
  "flood-burst": {
    type: "string",
    value: "N",
    default: "10",
    help: "Lines a client may send at once before being throttled",
  },
  "queue-bytes": {
    type: "string",
    value: "N",
    default: "262144",
    help:
      "Outbound bytes queued per member before it is disconnected as too slow",
  },
  "handshake-timeout": {
    type: "string",
    value: "S",
    default: "10",
    help: "Seconds allowed for the TLS handshake",
  },
  "alias-timeout": {
    type: "string",
    value: "S",
    default: "60",
    help: "Seconds allowed to choose an alias",
  },
  "idle-timeout": {
    type: "string",
    value: "S",
    default: "300",
    help:
      "Seconds of silence before a member is disconnected; PING at half (0: off)",
  },
  "announce-limit": {
    type: "string",
    value: "N",
    default: "100",
    help:
      "Largest room size at which joins and leaves are announced one by one",
  },
  "log-level": {
    type: "string",
    value: "LEVEL",
    default: "info",
    help: `Log detail: ${LOG_LEVELS.join(", ")}`,
  },
  "tls-engine": {
    type: "string",
    value: "ENGINE",
    default: "deno",
    help: `TLS listener: ${TLS_ENGINES.join(", ")} (node sets TCP_NODELAY)`,
  },
  help: { type: "boolean", help: "Show this help" },
} as const satisfies Record<string, FlagSpec>;

/** Client flags. */
export const CLIENT_FLAGS = {
  host: {
    type: "string",
    value: "HOST",
    default: "localhost",
    help: "Server to connect to",
  },
  port: {
    type: "string",
    value: "N",
    default: String(DEFAULT_PORT),
    help: "Server port",
  },
  ca: {
    type: "string",
    value: "FILE",
    help:
      "CA certificate that signed the server's (default: certs/ca.pem if readable, else the system roots)",
  },
  alias: {
    type: "string",
    value: "NAME",
    help: "Alias to join with (asked for when missing on a terminal)",
  },
  help: { type: "boolean", help: "Show this help" },
} as const satisfies Record<string, FlagSpec>;

/** CA file the client uses when `--ca` is not given and the file exists. */
export const DEFAULT_CA_FILE = "certs/ca.pem";

/** The resolved server configuration; the only config passed around. */
export interface ServerConfig {
  /** `serve` runs the room; `certs` only (re)generates dev certificates. */
  readonly command: "serve" | "certs";
  readonly help: boolean;
  readonly hostname: string;
  readonly port: number;
  readonly certFile: string | null;
  readonly keyFile: string | null;
  readonly certsDir: string;
  readonly sans: readonly string[];
  readonly newCa: boolean;
  readonly name: string;
  readonly maxLineBytes: number;
  readonly maxClients: number;
  readonly maxPerIp: number;
  readonly floodRate: number;
  readonly floodBurst: number;
  readonly queueBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly aliasTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly announceLimit: number;
  readonly logLevel: LogLevel;
  readonly tlsEngine: TlsEngine;
  /** How long shutdown waits for queues to flush before closing anyway. */
  readonly shutdownGraceMs: number;
}

/** The resolved client configuration. */
export interface ClientConfig {
  readonly help: boolean;
  readonly hostname: string;
  readonly port: number;
  /** CA file to trust; null means the system roots. */
  readonly caFile: string | null;
  /** Whether `caFile` was given explicitly (a missing file is then an error). */
  readonly caExplicit: boolean;
  readonly alias: string | null;
}

/**
 * Parses server arguments into a complete {@linkcode ServerConfig}. Throws
 * `TypeError` for unknown flags or bad values and `RangeError` for values out
 * of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseServerArgs } from "./config.ts";
 *
 * const config = parseServerArgs(["--port", "0", "--flood-rate", "0"]);
 * assert.equal(config.port, 0);
 * assert.equal(config.floodRate, 0);
 * assert.equal(config.maxLineBytes, 4096);
 * assert.throws(() => parseServerArgs(["--port", "70000"]), RangeError);
 * ```
 */
export function parseServerArgs(args: readonly string[]): ServerConfig {
  const { values, positionals } = parse(SERVER_FLAGS, args);
  const command = positionals[0] ?? "serve";
  if (command !== "serve" && command !== "certs" || positionals.length > 1) {
    throw new TypeError(
      `Cannot parse arguments: unexpected "${
        positionals.join(" ")
      }" (the only command is "certs")`,
    );
  }
  const number = (flag: keyof typeof SERVER_FLAGS, min: number, max: number) =>
    toNumber(flag, values[flag] as string, min, max);
  const seconds = (flag: keyof typeof SERVER_FLAGS) =>
    Math.round(toNumber(flag, values[flag] as string, 0, 86_400, false) * 1000);
  const certFile = values.cert ?? null;
  const keyFile = values.key ?? null;
  if ((certFile === null) !== (keyFile === null)) {
    throw new TypeError(
      "Cannot use --cert without --key, or --key without --cert",
    );
  }
  const maxLineBytes = number("max-line-bytes", 64, 1_048_576);
  const config: ServerConfig = {
    command,
    help: values.help ?? false,
    hostname: values.host,
    port: number("port", 0, 65_535),
    certFile,
    keyFile,
    certsDir: values["certs-dir"],
    sans: values.san ?? [],
    newCa: values["new-ca"] ?? false,
    name: token("name", values.name),
    maxLineBytes,
    maxClients: number("max-clients", 1, 1_000_000),
    maxPerIp: number("max-per-ip", 0, 1_000_000),
    floodRate: toNumber(
      "flood-rate",
      values["flood-rate"],
      0,
      1_000_000,
      false,
    ),
    floodBurst: number("flood-burst", 1, 1_000_000),
    queueBytes: number("queue-bytes", maxLineBytes * 2, 1 << 30),
    handshakeTimeoutMs: seconds("handshake-timeout"),
    aliasTimeoutMs: seconds("alias-timeout"),
    idleTimeoutMs: seconds("idle-timeout"),
    announceLimit: number("announce-limit", 0, 1_000_000),
    logLevel: oneOf("log-level", values["log-level"], LOG_LEVELS),
    tlsEngine: oneOf("tls-engine", values["tls-engine"], TLS_ENGINES),
    shutdownGraceMs: 3000,
  };
  if (config.handshakeTimeoutMs <= 0 || config.aliasTimeoutMs <= 0) {
    throw new RangeError(
      "Cannot use a zero --handshake-timeout or --alias-timeout: silent connections would pile up",
    );
  }
  return config;
}

/** Parses client arguments into a complete {@linkcode ClientConfig}. */
export function parseClientArgs(args: readonly string[]): ClientConfig {
  const { values, positionals } = parse(CLIENT_FLAGS, args);
  if (positionals.length > 0) {
    throw new TypeError(
      `Cannot parse arguments: unexpected "${positionals.join(" ")}"`,
    );
  }
  return {
    help: values.help ?? false,
    hostname: values.host,
    port: toNumber("port", values.port, 1, 65_535),
    caFile: values.ca ?? DEFAULT_CA_FILE,
    caExplicit: values.ca !== undefined,
    alias: values.alias ?? null,
  };
}

/** Formats a flag table as help text, one flag per line with its default. */
export function formatFlags(flags: Record<string, FlagSpec>): string {
  const rows = Object.entries(flags).map(([name, spec]) => {
    const left = `  --${name}${spec.value ? ` ${spec.value}` : ""}`;
    const def = spec.default === undefined ? "" : ` (default ${spec.default})`;
    return [left, spec.help + def] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, help]) => left.padEnd(width) + help).join("\n");
}

function parse<T extends Record<string, FlagSpec>>(
  flags: T,
  args: readonly string[],
) {
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, spec]) => [name, {
      type: spec.type,
      multiple: spec.multiple ?? false,
      ...(spec.default === undefined ? {} : { default: spec.default }),
    }]),
  ) as {
    [K in keyof T]: { type: T[K]["type"]; multiple: boolean; default: string };
  };
  try {
    return parseArgs({
      args: [...args],
      options,
      allowPositionals: true,
      strict: true,
    }) as unknown as {
      values: ParsedValues<T>;
      positionals: string[];
    };
  } catch (e) {
    throw new TypeError(
      `Cannot parse arguments: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
}

type ParsedValues<T extends Record<string, FlagSpec>> = {
  [K in keyof T]: T[K]["type"] extends "boolean" ? boolean | undefined
    : T[K]["multiple"] extends true ? string[] | undefined
    : T[K]["default"] extends string ? string
    : string | undefined;
};

function toNumber(
  flag: string,
  text: string,
  min: number,
  max: number,
  integer = true,
): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    throw new TypeError(`Cannot use --${flag}: "${text}" is not a number`);
  }
  if (integer && !Number.isInteger(value)) {
    throw new TypeError(
      `Cannot use --${flag}: "${text}" is not a whole number`,
    );
  }
  if (value < min || value > max) {
    throw new RangeError(
      `Cannot use --${flag}: ${value} is out of range (${min} to ${max})`,
    );
  }
  return value;
}

function oneOf<T extends string>(
  flag: string,
  text: string,
  allowed: readonly T[],
): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw new TypeError(
      `Cannot use --${flag}: "${text}" is not one of ${allowed.join(", ")}`,
    );
  }
  return text as T;
}

function token(flag: string, text: string): string {
  if (!/^[\x21-\x7e]{1,64}$/.test(text)) {
    throw new TypeError(
      `Cannot use --${flag}: "${text}" must be 1 to 64 visible ASCII characters without spaces`,
    );
  }
  return text;
}
