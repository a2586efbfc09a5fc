/**
 * The server's configuration: one readonly, fully resolved
 * {@linkcode ServerConfig} holding every limit under the same name from flag
 * to field to use (`--queue-bytes` is `queueBytes` everywhere), read from
 * the flag table (`server_flags.ts`) in small steps, one per area, then
 * checked as a whole. Pure: it never reads `Deno.args` itself.
 *
 * @module
 */

import { checkSubjectName } from "../cert_authority.ts";
import {
  type FlagValues,
  oneOf,
  parseFlags,
  toMilliseconds,
  toNumber,
  toToken,
} from "../flags.ts";
import { LOG_LEVELS, type LogLevel } from "../log.ts";
import { HISTORY_REQUEST_LIMIT } from "../protocol.ts";
import type { AddressRange } from "../address.ts";
import {
  SERVER_FLAGS,
  TLS_ENGINES,
  type TlsEngine,
  toClusterName,
  toRedisUrl,
  toTrustedProxy,
  toWebOrigin,
} from "./server_flags.ts";

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
  const flags = readFlags(values);
  const role = roleOf(positionals);
  const files = certificateFiles(values);
  const maxLineBytes = flags.number("max-line-bytes", 64, 1_048_576);
  // Read in this order, so that of several bad flags the same one is named.
  const config: ServerConfig = {
    ...role,
    help: values.help ?? false,
    ...listening(flags, files),
    ...historyFields(flags),
    ...clusterFields(flags),
    ...accessFields(flags),
    ...limitFields(flags, maxLineBytes),
    ...timeFields(flags),
    announceLimit: flags.number("announce-limit", 0, 1_000_000),
    logLevel: oneOf("log-level", values["log-level"], LOG_LEVELS),
    tlsEngine: oneOf("tls-engine", values["tls-engine"], TLS_ENGINES),
    ...SERVER_SETTINGS,
  };
  checkTogether(config);
  return config;
}

/** A server flag's name. */
type Flag = keyof typeof SERVER_FLAGS;

/** The parsed flags and how to read one as a number or a duration. */
interface FlagReader {
  readonly values: FlagValues<typeof SERVER_FLAGS>;
  number(flag: Flag, min: number, max: number): number;
  ms(flag: Flag): number;
}

/** Reads `values` (the parsed flags) by name, with the range checks. */
function readFlags(values: FlagValues<typeof SERVER_FLAGS>): FlagReader {
  return {
    values,
    number: (flag, min, max) =>
      toNumber(flag, values[flag] as string, min, max),
    ms: (flag) => toMilliseconds(flag, values[flag] as string),
  };
}

/** `serve` (no positional), `certs` or `certs client ALIAS`. */
function roleOf(
  positionals: readonly string[],
): Pick<ServerConfig, "command" | "clientCertFor"> {
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
  return { command, clientCertFor: clientCert ? positionals[2]! : null };
}

/** `--cert` and `--key`, both or neither. */
function certificateFiles(
  values: FlagValues<typeof SERVER_FLAGS>,
): Pick<ServerConfig, "certFile" | "keyFile"> {
  const certFile = values.cert ?? null;
  const keyFile = values.key ?? null;
  if ((certFile === null) !== (keyFile === null)) {
    throw new TypeError(
      "Cannot use --cert without --key, or --key without --cert",
    );
  }
  return { certFile, keyFile };
}

/** Where it listens, as what, and where its files live. */
function listening(
  { values, number }: FlagReader,
  files: Pick<ServerConfig, "certFile" | "keyFile">,
) {
  return {
    hostname: values.host,
    port: number("port", 0, 65_535),
    webPort: number("web-port", 0, 65_535),
    webOrigins: (values["web-origin"] ?? []).map(toWebOrigin),
    ...files,
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
  } satisfies Partial<ServerConfig>;
}

/** What the room remembers, where, and for how long. */
function historyFields({ values, number }: FlagReader) {
  return {
    history: number("history", 0, HISTORY_REQUEST_LIMIT),
    durability: oneOf(
      "durability",
      values.durability,
      ["normal", "full", "memory"] as const,
    ),
    historyKeepDays: number("history-keep-days", 0, 100_000),
    historyKeepRows: number("history-keep-rows", 0, 1_000_000_000),
  } satisfies Partial<ServerConfig>;
}

/** With `--redis`: the cluster and its clocks. */
function clusterFields({ values, number, ms }: FlagReader) {
  return {
    redis: values.redis === undefined ? null : toRedisUrl(values.redis),
    cluster: toClusterName(values.cluster),
    redisStreamEntries: number("redis-stream-entries", 0, 1_000_000_000),
    redisTimeoutMs: ms("redis-timeout"),
    redisRetryMs: ms("redis-retry"),
    heartbeatMs: ms("heartbeat"),
    lostAfterMs: ms("lost-after"),
  } satisfies Partial<ServerConfig>;
}

/** Who may join: passwords, accounts, certificates, proxies, failures. */
function accessFields({ values, number, ms }: FlagReader) {
  return {
    passwordFile: values["password-file"] ?? null,
    accountsOnly: values["accounts-only"] ?? false,
    clientCa: values["client-ca"] ?? null,
    clientCert: oneOf(
      "client-cert",
      values["client-cert"],
      ["require", "optional"] as const,
    ),
    trustedProxies: (values["trusted-proxy"] ?? []).map(toTrustedProxy),
    loginAttempts: number("login-attempts", 1, 1000),
    loginRefillMs: ms("login-refill"),
    accountAttempts: number("account-attempts", 1, 1_000_000),
  } satisfies Partial<ServerConfig>;
}

/** Bytes, connections and lines: the caps, some bounded by the line cap. */
function limitFields({ values, number }: FlagReader, maxLineBytes: number) {
  return {
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
  } satisfies Partial<ServerConfig>;
}

/** Deadlines and graces. */
function timeFields({ ms }: FlagReader) {
  return {
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
  } satisfies Partial<ServerConfig>;
}

/** What no single flag decides: settings that contradict each other. */
function checkTogether(config: ServerConfig): void {
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
  const tooShort = [
    ["redis-timeout", config.redisTimeoutMs],
    ["heartbeat", config.heartbeatMs],
  ] as const;
  for (const [flag, valueMs] of tooShort) {
    if (valueMs < 10) {
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
}
