/**
 * The server's command line read into its {@linkcode ServerConfig}: the
 * flag table (`server_flags.ts`) parsed, then read in small steps, one per
 * area, with the range checks and the checks of the flags that name things
 * (an origin, a proxy range, a Redis URL, a cluster name), each error
 * naming its flag; then checked as a whole. Pure: it never reads
 * `Deno.args` itself.
 *
 * @module
 */

import { type AddressRange, parseAddressRange } from "../address.ts";
import { checkSubjectName } from "../cert_authority.ts";
import {
  type FlagValues,
  oneOf,
  parseFlags,
  toMilliseconds,
  toNumber,
  toToken,
} from "../flags.ts";
import { LOG_LEVELS } from "../log.ts";
import {
  HISTORY_REQUEST_LIMIT,
  validateAlias,
  validateRoomName,
} from "../protocol.ts";
import { SERVER_FLAGS, TLS_ENGINES } from "./server_flags.ts";
import {
  doorClash,
  engineCannot,
  SERVER_SETTINGS,
  type ServerConfig,
} from "./config.ts";

/**
 * Parses server arguments into a complete {@linkcode ServerConfig}. Throws
 * `TypeError` for unknown flags or bad values and `RangeError` for values out
 * of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseServerArgs } from "./server_args.ts";
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
    ...roomFields(flags),
    maxRoomEntries: flags.number("max-room-entries", 1, 100_000),
    logLevel: oneOf("log-level", values["log-level"], LOG_LEVELS),
    tlsEngine: oneOf("tls-engine", values["tls-engine"], TLS_ENGINES),
    ...SERVER_SETTINGS,
  };
  checkTogether(config);
  return config;
}

/** The rooms' flags (`--default-room`, `--room-create`, limits). */
function roomFields(flags: FlagReader) {
  const { values } = flags;
  const create = values["room-create"] ?? "";
  return {
    defaultRoom: validateRoomFlag(values["default-room"] as string),
    roomCreate: create === ""
      ? null
      : oneOf("room-create", create, ["any", "accounts", "operators"] as const),
    maxRooms: flags.number("max-rooms", 1, 1_000_000),
    maxRoomsPerMember: flags.number("max-rooms-per-member", 1, 10_000),
    roomGraceMs: flags.ms("room-grace"),
    roomCreations: flags.number("room-creations", 0, 1_000_000),
  };
}

/** `--default-room`: a valid room name, folded. */
function validateRoomFlag(name: string): string {
  try {
    return validateRoomName(name);
  } catch {
    throw new TypeError(
      `Cannot use --default-room "${name}": # then 1 to 32 of a-z, 0-9, "-" and "_"`,
    );
  }
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
  return {
    command,
    clientCertFor: clientCert ? clientAlias(positionals[2]!) : null,
  };
}

/** The alias of `certs client ALIAS`: `TypeError` for one nobody may hold. */
function clientAlias(alias: string): string {
  try {
    return validateAlias(alias);
  } catch (e) {
    throw new TypeError(
      `Cannot issue a client certificate: ${(e as Error).message}`,
      { cause: e },
    );
  }
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
    ircPort: values["irc-port"] === undefined
      ? null
      : number("irc-port", 0, 65_535),
    ircHost: values["irc-host"] ?? values.host,
    webOrigins: (values["web-origin"] ?? []).map(toWebOrigin),
    metricsPort: values["metrics-port"] === undefined
      ? null
      : number("metrics-port", 0, 65_535),
    metricsHost: values["metrics-host"],
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
function historyFields({ values, number, ms }: FlagReader) {
  return {
    history: number("history", 0, HISTORY_REQUEST_LIMIT),
    durability: oneOf(
      "durability",
      values.durability,
      ["normal", "full", "memory"] as const,
    ),
    historyKeepDays: number("history-keep-days", 0, 100_000),
    historyKeepRows: number("history-keep-rows", 0, 1_000_000_000),
    historyTombstones: number("history-tombstones", 0, 1_000_000),
    historyFlushMs: ms("history-flush"),
    searchResults: number("search-results", 1, 500),
    searchRate: number("search-rate", 1, 10_000),
    resumeLines: number("resume-lines", 1, 1_000_000),
    resumeRate: number("resume-rate", 0, 1_000_000_000),
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
    resumeGraceMs: ms("resume-grace"),
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
  const clash = doorClash(config);
  if (clash !== null) throw new TypeError(clash);
  if (config.clientCert === "require" && config.clientCa === null) {
    throw new TypeError(
      "Cannot use --client-cert require without --client-ca: no certificate would be asked for, and anyone would join",
    );
  }
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

/**
 * Checks a `--web-origin` and writes it as browsers send it (lower case,
 * no default port): only `https://` pages, whose script no one on the
 * network can change, may make their visitors join.
 */
function toWebOrigin(origin: string): string {
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
function toTrustedProxy(text: string): AddressRange {
  const range = parseAddressRange(text);
  if (range === null) {
    throw new TypeError(
      `Cannot use --trusted-proxy "${text}": give an address or a range, such as 10.0.0.5 or 10.0.0.0/24`,
    );
  }
  return range;
}

/** Checks a `--redis` URL (it may hold a password: never echo it). */
function toRedisUrl(text: string): string {
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
function toClusterName(text: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(text)) {
    throw new TypeError(
      `Cannot use --cluster: "${text}" must be 1 to 64 letters, digits, _ . -`,
    );
  }
  return text;
}
