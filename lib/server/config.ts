/**
 * The server's configuration: one table of flags (name, default, help) and
 * one readonly, fully resolved {@linkcode ServerConfig} holding every limit
 * under the same name from flag to field to use (`--queue-bytes` is
 * `queueBytes` everywhere). Pure: it never reads `Deno.args` itself.
 *
 * @module
 */

import { checkSubjectName } from "../certs.ts";
import {
  type FlagTable,
  oneOf,
  parseFlags,
  toMilliseconds,
  toNumber,
  toToken,
} from "../flags.ts";
import { LOG_LEVELS, type LogLevel } from "../log.ts";
import { HISTORY_REQUEST_LIMIT } from "../protocol.ts";
import { type AddressRange, parseAddressRange } from "../address.ts";

/** TLS engines a server can listen with. */
export const TLS_ENGINES = ["node", "deno"] as const;

/** A TLS engine name. */
export type TlsEngine = (typeof TLS_ENGINES)[number];

/**
 * Why `engine` cannot listen as asked, or null when it can: the one place
 * that decides which settings need the node engine (the config refuses
 * them at start, `listenTls` refuses them too). The deno engine
 * (`Deno.listenTls`) cannot ask for client certificates, and starts TLS on
 * the socket itself, so it cannot read a PROXY header first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { engineCannot } from "./config.ts";
 *
 * const wants = { clientCa: true, trustedProxies: false };
 * assert.equal(engineCannot("node", wants), null);
 * assert.match(engineCannot("deno", wants) ?? "", /^Cannot use --client-ca/);
 * ```
 */
export function engineCannot(
  engine: TlsEngine,
  wants: { readonly clientCa: boolean; readonly trustedProxies: boolean },
): string | null {
  if (engine !== "deno") return null;
  if (wants.clientCa) {
    return "Cannot use --client-ca with --tls-engine deno: Deno.listenTls cannot ask for client certificates; use --tls-engine node";
  }
  if (wants.trustedProxies) {
    return "Cannot use --trusted-proxy with --tls-engine deno: Deno.listenTls cannot read a PROXY header before the TLS handshake; use --tls-engine node";
  }
  return null;
}

/** Port of a room when none is given. */
export const DEFAULT_PORT = 7443;

/** Port of the browser client when none is given. */
export const DEFAULT_WEB_PORT = 7444;

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
  "web-port": {
    type: "string",
    value: "N",
    default: String(DEFAULT_WEB_PORT),
    help:
      "HTTPS port of the browser client, same certificate (0: no web client)",
  },
  "web-origin": {
    type: "string",
    value: "ORIGIN",
    multiple: true,
    help:
      "Another origin whose pages may join, e.g. behind a proxy: https://chat.example (repeatable)",
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
  "data-dir": {
    type: "string",
    value: "DIR",
    default: "data",
    help: "Where the database lives (accounts, bans, topic); created mode 0700",
  },
  history: {
    type: "string",
    value: "N",
    default: "50",
    help:
      "Messages a member is shown on joining (0: no history, nothing stored)",
  },
  durability: {
    type: "string",
    value: "MODE",
    default: "normal",
    help:
      "History store: normal (database; survives a crash), full (also a power cut; slower), memory (lost at restart)",
  },
  "history-keep-days": {
    type: "string",
    value: "N",
    default: "30",
    help: "Days stored room events are kept (0: no age limit)",
  },
  "history-keep-rows": {
    type: "string",
    value: "N",
    default: "100000",
    help:
      "Newest messages kept in the database, and as many other events (0: no limit)",
  },
  redis: {
    type: "string",
    value: "URL",
    help:
      "Form one room with every server on this Redis (redis://[:password@]host:port/db or rediss://)",
  },
  cluster: {
    type: "string",
    value: "NAME",
    default: "tlschat",
    help:
      "With --redis: the room's name; servers with the same one are one room",
  },
  "redis-stream-entries": {
    type: "string",
    value: "N",
    default: "100000",
    help:
      "With --redis: newest room events the Redis stream keeps, joins and leaves included (0: no limit)",
  },
  "redis-timeout": {
    type: "string",
    value: "S",
    default: "5",
    help:
      "With --redis: seconds Redis has to answer a command before it counts as not answering",
  },
  "redis-retry": {
    type: "string",
    value: "S",
    default: "15",
    help:
      "With --redis: seconds a message whose storing is in doubt is sent again before its sender hears ERR unknown",
  },
  heartbeat: {
    type: "string",
    value: "S",
    default: "1",
    help: "With --redis: seconds between this server's heartbeats",
  },
  "lost-after": {
    type: "string",
    value: "S",
    default: "5",
    help:
      "With --redis: seconds without a heartbeat after which a server counts as lost and its members as gone",
  },
  "password-file": {
    type: "string",
    value: "FILE",
    help: "Room password guests must give (the file's first line)",
  },
  "accounts-only": {
    type: "boolean",
    help: "Only registered aliases (accounts) may join",
  },
  "client-ca": {
    type: "string",
    value: "FILE",
    help:
      "Ask clients for a certificate signed by this CA (PEM), on both ports; node engine only",
  },
  "client-cert": {
    type: "string",
    value: "MODE",
    default: "optional",
    help:
      "With --client-ca: require (no valid certificate, no handshake, on both ports) or optional",
  },
  "trusted-proxy": {
    type: "string",
    value: "ADDRESS[/PREFIX]",
    multiple: true,
    help:
      "A load balancer whose PROXY header (either port) or X-Forwarded-For (web port) names the client (repeatable; node engine)",
  },
  "login-attempts": {
    type: "string",
    value: "N",
    default: "5",
    help:
      "Failed logins and room passwords per address before waits (doubling, up to 64 times)",
  },
  "login-refill": {
    type: "string",
    value: "S",
    default: "60",
    help: "Seconds of the first wait after those failures",
  },
  "account-attempts": {
    type: "string",
    value: "N",
    default: "20",
    help:
      "Failures per account from addresses that never logged into it, and wrong room passwords in all and per IPv6 /48, before waits",
  },
  "max-line-bytes": {
    type: "string",
    value: "N",
    default: "4096",
    help: "Longest accepted line in bytes; longer lines are rejected",
  },
  "max-skip-bytes": {
    type: "string",
    value: "N",
    default: "65536",
    help:
      "Length at which an over-long line ends the connection instead of being skipped",
  },
  "max-input-bytes": {
    type: "string",
    value: "N",
    default: "65536",
    help:
      "Input that may still arrive after a connection stopped reading a client it is delaying, before it is disconnected",
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
  "max-refusals": {
    type: "string",
    value: "N",
    default: "64",
    help:
      "Refused connections told why at once (BYE line); more are closed without a word",
  },
  "max-unreleased": {
    type: "string",
    value: "N",
    default: "256",
    help:
      "Closed sockets not yet released by the TLS engine before accepting pauses",
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
      "Outbound bytes held for a member (counting shared buffers it pins) before it is dropped as too slow",
  },
  "stall-timeout": {
    type: "string",
    value: "S",
    default: "2",
    help:
      "Seconds a member may hold the room up (room lines queued for it over half of --queue-bytes, without a break: reading part of them does not count) before it is dropped as too slow",
  },
  "handshake-timeout": {
    type: "string",
    value: "S",
    default: "10",
    help:
      "Seconds allowed for the TLS handshake and a trusted proxy's PROXY header; on the web port also for each HTTP request to arrive (at most 30)",
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
  "close-grace": {
    type: "string",
    value: "S",
    default: "2",
    help: "Seconds a closing connection has to flush its last lines",
  },
  "shutdown-grace": {
    type: "string",
    value: "S",
    default: "3",
    help: "Seconds shutdown waits for every queue to flush",
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
    default: "node",
    help: `TLS listener: ${
      TLS_ENGINES.join(", ")
    } (deno must not face untrusted networks; see README)`,
  },
  help: { type: "boolean", help: "Show this help" },
} as const satisfies FlagTable;

/**
 * Limits and deadlines no flag changes (no user has needed to), each named
 * once here and passed down as the {@linkcode ServerConfig} field of the
 * same name, like those of the flags.
 */
export const SERVER_SETTINGS = {
  /** Wrong room passwords a connection may send before `BYE auth-failed`. */
  roomPasswordTries: 2,
  /** Failed account logins a connection may have before `BYE auth-failed`. */
  loginFailures: 3,
  /** The most `httpRequestTimeoutMs` can be, whatever `--handshake-timeout`. */
  maxHttpRequestTimeoutMs: 30_000,
  /** How long the web port keeps an idle HTTP connection after a response. */
  httpKeepAliveMs: 5_000,
  /** With `--redis`: how long connecting to Redis may take. */
  redisConnectTimeoutMs: 5_000,
  /** With `--redis`: connection attempts at start before giving up. */
  redisStartTries: 5,
  /**
   * With `--redis`: the longest wait between two attempts to reach Redis
   * again (reconnecting; reading the stream after a failed read).
   */
  redisReconnectMaxMs: 2_000,
  /** With `--redis`: lines sent to Redis in one script call, at most. */
  redisBatchLines: 1_000,
  /**
   * With `--redis`: ids of the last lines the cluster remembers so as to
   * store none twice (a bounded set and a hash in Redis, about 13 + 12 MB
   * when full, measured on Redis 7).
   */
  redisLineIdsKept: 100_000,
  /** With `--redis`: failed appends held back for the room's order, at most. */
  redisHeldFailures: 1_000,
  /** With `--redis`: stream entries read at most per `XREAD`. */
  redisReadCount: 1_000,
  /** With `--redis`: how long one `XREAD` blocks before it is asked again. */
  redisReadBlockMs: 1_000,
} as const;

/** The settings of {@linkcode SERVER_SETTINGS}, each a number. */
export type ServerSettings = {
  readonly [K in keyof typeof SERVER_SETTINGS]: number;
};

/**
 * The resolved server configuration; the only config passed around. Its
 * fields are those of the flags and the {@linkcode SERVER_SETTINGS}.
 */
export interface ServerConfig extends ServerSettings {
  /** `serve` runs the room; `certs` only (re)generates dev certificates. */
  readonly command: "serve" | "certs";
  /** With `certs client ALIAS`: issue a client certificate for ALIAS. */
  readonly clientCertFor: string | null;
  readonly help: boolean;
  readonly hostname: string;
  readonly port: number;
  /** HTTPS port of the browser client; 0: none. */
  readonly webPort: number;
  /** Origins allowed to open WebSockets besides the page's own. */
  readonly webOrigins: readonly string[];
  readonly certFile: string | null;
  readonly keyFile: string | null;
  readonly certsDir: string;
  readonly sans: readonly string[];
  readonly newCa: boolean;
  readonly name: string;
  readonly dataDir: string;
  /** Messages replayed on join; 0: history off (nothing stored). */
  readonly history: number;
  /** Where history lives: the database (`normal`, `full`) or `memory`. */
  readonly durability: "normal" | "full" | "memory";
  readonly historyKeepDays: number;
  readonly historyKeepRows: number;
  /** Redis URL of the cluster; null: this server alone is the room. */
  readonly redis: string | null;
  /**
   * Room events the cluster's Redis stream keeps (`MAXLEN ~`), every kind
   * counted (unlike `historyKeepRows`, messages in the database); 0: no
   * limit.
   */
  readonly redisStreamEntries: number;
  /** The cluster's name (keys `tlschat:{NAME}:...`). */
  readonly cluster: string;
  /** How long a Redis command may wait for its answer. */
  readonly redisTimeoutMs: number;
  /**
   * How long an append whose outcome is unknown (Redis did not answer) is
   * tried again before its senders hear `ERR unknown`.
   */
  readonly redisRetryMs: number;
  /** Time between this server's heartbeats in the cluster. */
  readonly heartbeatMs: number;
  /** Silence after which a server counts as lost, its members as gone. */
  readonly lostAfterMs: number;
  /** File whose first line is the room password; null: an open room. */
  readonly passwordFile: string | null;
  readonly accountsOnly: boolean;
  /** CA file for client certificates (mutual TLS); null: none asked. */
  readonly clientCa: string | null;
  /** Whether a client must present a valid certificate (with clientCa). */
  readonly clientCert: "require" | "optional";
  /**
   * Proxies trusted to name the client: a PROXY protocol header on the
   * chat port (or the web port), `X-Forwarded-For` on the web port.
   */
  readonly trustedProxies: readonly AddressRange[];
  /** Failures per address group before waiting. */
  readonly loginAttempts: number;
  readonly loginRefillMs: number;
  /**
   * Failures per account from unknown addresses, and wrong room passwords
   * server-wide, before the limiter's stricter waits.
   */
  readonly accountAttempts: number;
  readonly maxLineBytes: number;
  readonly maxSkipBytes: number;
  readonly maxInputBytes: number;
  readonly maxClients: number;
  readonly maxPerIp: number;
  readonly maxRefusals: number;
  readonly maxUnreleased: number;
  readonly floodRate: number;
  readonly floodBurst: number;
  readonly queueBytes: number;
  /**
   * How long a member whose queue is over half of `queueBytes` (the room
   * holds every sender back meanwhile) may read nothing before it is
   * dropped as slow.
   */
  readonly stallTimeoutMs: number;
  /**
   * The TLS handshake and a trusted proxy's PROXY header, on both ports
   * (`--handshake-timeout`).
   */
  readonly handshakeTimeoutMs: number;
  /**
   * How long an HTTP request on the web port may take to arrive, headers
   * and body (and how often that is checked: a request sent half is
   * answered 408 within twice this): `--handshake-timeout`, at most
   * `maxHttpRequestTimeoutMs`. Derived, no flag of its own.
   */
  readonly httpRequestTimeoutMs: number;
  readonly aliasTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly closeGraceMs: number;
  readonly shutdownGraceMs: number;
  readonly announceLimit: number;
  readonly logLevel: LogLevel;
  readonly tlsEngine: TlsEngine;
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
 * assert.equal(config.tlsEngine, "node");
 * assert.throws(() => parseServerArgs(["--port", "70000"]), RangeError);
 * ```
 */
export function parseServerArgs(args: readonly string[]): ServerConfig {
  const { values, positionals } = parseFlags(SERVER_FLAGS, args);
  const command = positionals[0] ?? "serve";
  const clientCert = command === "certs" && positionals[1] === "client" &&
    positionals.length === 3;
  if (
    command !== "serve" && command !== "certs" ||
    positionals.length > 1 && !clientCert
  ) {
    throw new TypeError(
      `Cannot parse arguments: unexpected "${
        positionals.join(" ")
      }" (the commands are "certs" and "certs client ALIAS")`,
    );
  }
  type Flag = keyof typeof SERVER_FLAGS;
  const number = (flag: Flag, min: number, max: number) =>
    toNumber(flag, values[flag] as string, min, max);
  const ms = (flag: Flag) => toMilliseconds(flag, values[flag] as string);
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
    clientCertFor: clientCert ? positionals[2]! : null,
    help: values.help ?? false,
    hostname: values.host,
    port: number("port", 0, 65_535),
    webPort: number("web-port", 0, 65_535),
    webOrigins: (values["web-origin"] ?? []).map(webOrigin),
    certFile,
    keyFile,
    certsDir: values["certs-dir"],
    sans: (values.san ?? []).map((name) => {
      try {
        return checkSubjectName(name);
      } catch (e) {
        throw new TypeError(`Cannot use --san: ${(e as Error).message}`);
      }
    }),
    newCa: values["new-ca"] ?? false,
    name: toToken("name", values.name),
    dataDir: values["data-dir"],
    history: number("history", 0, HISTORY_REQUEST_LIMIT),
    durability: oneOf(
      "durability",
      values.durability,
      ["normal", "full", "memory"] as const,
    ),
    historyKeepDays: number("history-keep-days", 0, 100_000),
    historyKeepRows: number("history-keep-rows", 0, 1_000_000_000),
    redis: values.redis === undefined ? null : redisUrl(values.redis),
    cluster: clusterName(values.cluster),
    redisStreamEntries: number("redis-stream-entries", 0, 1_000_000_000),
    redisTimeoutMs: ms("redis-timeout"),
    redisRetryMs: ms("redis-retry"),
    heartbeatMs: ms("heartbeat"),
    lostAfterMs: ms("lost-after"),
    passwordFile: values["password-file"] ?? null,
    accountsOnly: values["accounts-only"] ?? false,
    clientCa: values["client-ca"] ?? null,
    clientCert: oneOf(
      "client-cert",
      values["client-cert"],
      [
        "require",
        "optional",
      ] as const,
    ),
    trustedProxies: (values["trusted-proxy"] ?? []).map(trustedProxy),
    loginAttempts: number("login-attempts", 1, 1000),
    loginRefillMs: ms("login-refill"),
    accountAttempts: number("account-attempts", 1, 1_000_000),
    maxLineBytes,
    maxSkipBytes: number("max-skip-bytes", maxLineBytes, 1 << 30),
    maxInputBytes: number("max-input-bytes", maxLineBytes, 1 << 30),
    maxClients: number("max-clients", 1, 1_000_000),
    maxPerIp: number("max-per-ip", 0, 1_000_000),
    maxRefusals: number("max-refusals", 0, 1_000_000),
    maxUnreleased: number("max-unreleased", 1, 1_000_000),
    floodRate: toNumber(
      "flood-rate",
      values["flood-rate"],
      0,
      1_000_000,
      false,
    ),
    floodBurst: number("flood-burst", 1, 1_000_000),
    queueBytes: number("queue-bytes", maxLineBytes * 2, 1 << 30),
    stallTimeoutMs: ms("stall-timeout"),
    handshakeTimeoutMs: ms("handshake-timeout"),
    httpRequestTimeoutMs: Math.min(
      ms("handshake-timeout"),
      SERVER_SETTINGS.maxHttpRequestTimeoutMs,
    ),
    aliasTimeoutMs: ms("alias-timeout"),
    idleTimeoutMs: ms("idle-timeout"),
    closeGraceMs: ms("close-grace"),
    shutdownGraceMs: ms("shutdown-grace"),
    announceLimit: number("announce-limit", 0, 1_000_000),
    logLevel: oneOf("log-level", values["log-level"], LOG_LEVELS),
    tlsEngine: oneOf("tls-engine", values["tls-engine"], TLS_ENGINES),
    ...SERVER_SETTINGS,
  };
  const unsupported = engineCannot(config.tlsEngine, {
    clientCa: config.clientCa !== null,
    trustedProxies: config.trustedProxies.length > 0,
  });
  if (unsupported !== null) throw new TypeError(unsupported);
  if (config.handshakeTimeoutMs <= 0 || config.aliasTimeoutMs <= 0) {
    throw new RangeError(
      "Cannot use a zero --handshake-timeout or --alias-timeout: silent connections would pile up",
    );
  }
  for (const flag of ["redis-timeout", "heartbeat"] as const) {
    if (ms(flag) < 10) {
      throw new RangeError(`Cannot use --${flag} below 0.01 seconds`);
    }
  }
  if (config.lostAfterMs < 2 * config.heartbeatMs) {
    throw new RangeError(
      "Cannot use a --lost-after below twice --heartbeat: a live server would be counted lost between two heartbeats",
    );
  }
  if (config.stallTimeoutMs <= 0) {
    throw new RangeError(
      "Cannot use a zero --stall-timeout: a member that reads nothing would hold the room up for good",
    );
  }
  return config;
}

/**
 * Checks a `--web-origin` and writes it as browsers send it (lower case,
 * no default port): only `https://` pages, whose script no one on the
 * network can change, may make their visitors join.
 */
function webOrigin(origin: string): string {
  let url: URL | null = null;
  try {
    url = new URL(origin);
  } catch {
    // Said below.
  }
  if (
    url === null || url.protocol !== "https:" || url.origin === "null" ||
    !/^https:\/\/[^/\s]+$/i.test(origin)
  ) {
    throw new TypeError(
      `Cannot use --web-origin "${origin}": give https:// and a host, such as https://chat.example`,
    );
  }
  return url.origin;
}

/** Parses a `--trusted-proxy` address or range. */
function trustedProxy(text: string): AddressRange {
  const range = parseAddressRange(text);
  if (range === null) {
    throw new TypeError(
      `Cannot use --trusted-proxy "${text}": give an address or a range, such as 10.0.0.5 or 10.0.0.0/24`,
    );
  }
  return range;
}

/** Checks a `--redis` URL (it may hold a password: never echo it). */
function redisUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(
      "Cannot use --redis: not a URL (redis://host:6379/0 or rediss://...)",
    );
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new TypeError(
      `Cannot use --redis: the scheme must be redis: or rediss:, not ${url.protocol}`,
    );
  }
  return text;
}

/** Checks a `--cluster` name: it goes into Redis key names. */
function clusterName(text: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(text)) {
    throw new TypeError(
      `Cannot use --cluster: "${text}" must be 1 to 64 letters, digits, _ . -`,
    );
  }
  return text;
}
