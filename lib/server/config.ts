/**
 * The server's configuration: one readonly, fully resolved
 * {@linkcode ServerConfig} holding every limit under the same name from flag
 * to field to use (`--queue-bytes` is `queueBytes` everywhere), the
 * settings no flag changes, and what each TLS engine cannot do. It is read
 * from the command line by `server_args.ts`.
 *
 * @module
 */

import type { LogLevel } from "../log.ts";
import type { AddressRange } from "../address.ts";
import type { TlsEngine } from "./server_flags.ts";

/**
 * Two doors on one address (port 0 aside), or null: the second one's
 * listening would fail as if another server held the address.
 */
export function doorClash(
  config: Pick<
    ServerConfig,
    | "hostname"
    | "port"
    | "webPort"
    | "ircHost"
    | "ircPort"
    | "metricsHost"
    | "metricsPort"
  >,
): string | null {
  const doors = [
    ["port", config.hostname, config.port],
    ["web-port", config.hostname, config.webPort],
    ["irc-port", config.ircHost, config.ircPort],
    ["metrics-port", config.metricsHost, config.metricsPort],
  ] as const;
  const taken = new Map<string, string>();
  for (const [flag, host, port] of doors) {
    if (port === null || port === 0) continue;
    const other = taken.get(`${host} ${port}`);
    if (other !== undefined) {
      return `Cannot use --${flag} ${port}: --${other} listens there`;
    }
    taken.set(`${host} ${port}`, flag);
  }
  return null;
}

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
  /**
   * HTTP requests a connection to the web or metrics port may have waiting
   * for their answers (piped before reading the answers to those before:
   * browsers and scrapers never do); one more closes the connection
   * (`http_pipelining.ts`).
   */
  httpPipelined: 8,
  /**
   * Longest request head (request line and headers) the web and metrics
   * ports read (Node's own default); a longer one is answered `431` and
   * its connection closed (`http_errors.ts`).
   */
  httpMaxHeaderBytes: 16_384,
  /**
   * What a connection answered `431`, `408` or `400` may still send, read
   * and thrown away so that it reads the answer, before it is closed
   * (`http_errors.ts`): a head of 1 MB gets its `431`, and a client that
   * sends on cannot keep the event loop reading for the close grace.
   */
  httpDiscardBytes: 1_048_576,
  /**
   * Connections the metrics port (`--metrics-port`) holds open at once:
   * a scraper or two, a probe; more are closed as they come.
   */
  metricsMaxConnections: 32,
  /**
   * Of those, connections from one address group at most (counted by the
   * doors' `Admission`, as `--max-per-ip` is): whoever holds its group's
   * places idle leaves the others to other addresses.
   */
  metricsMaxPerIp: 4,
  /**
   * How long one rendering of `/metrics` answers the scrapes after it: a
   * flood of scrapes renders at most once per interval, and a scraper
   * asking less often than this (a Prometheus `scrape_interval` of 1 s or
   * more) gets a fresh one each time.
   */
  metricsRenderMs: 500,
  /**
   * Lines of history in the journal at most before the database takes
   * them (`--history-flush` bounds how long they wait): memory held, and
   * the longest commit on the event loop (docs/performance.md).
   */
  historyFlushLines: 256,
  /**
   * Longest a `/search` waits for the search index's worker before it is
   * answered `ERR search-limit` (a worker that hangs or keeps failing).
   */
  searchTimeoutMs: 5_000,
  /**
   * Size of the lines waiting for the search index (posted and not written)
   * at most (a worker that hangs or keeps failing); past it they are dropped
   * and, on one server, indexed again from `chat.db` when its worker next
   * starts (`indexer.ts`).
   */
  searchPendingBytes: 64 * 2 ** 20,
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
  /**
   * Longest reason, in UTF-8 bytes, of a room ban or mute (`/roomban`,
   * `/mute`), which the room's record keeps; a longer one is cut between
   * graphemes, as IRC servers cut a reason over their `KICKLEN` (the IRC
   * door's bans carry no reason; its kicks, kept in no record, are cut to
   * its own `KICKLEN`).
   */
  roomReasonBytes: 512,
  /**
   * Largest room record (as stored, JSON: topic, operators, invites, bans,
   * mutes) that a change may make: every `MOD`, `TOPIC` and a room's first
   * `JOIN` carry the whole record into the log (each Redis stream entry,
   * each SQLite row), so a longer one is refused, `ERR too-many-entries`
   * (`record_bound.ts`, `recordGrowth`). 100 bans and 100 mutes of
   * 32-character accounts by a 32-character operator, for a day, reason
   * "spam", take 45 KB of it; of 7-character names, 30 KB.
   */
  roomRecordBytes: 65_536,
} as const;

/** The settings of {@linkcode SERVER_SETTINGS}, each a number. */
export type ServerSettings = {
  readonly [K in keyof typeof SERVER_SETTINGS]: number;
};

/** The settings that bound a room's record (`RoomLimits` has them). */
export type RoomRecordLimits = Pick<
  ServerSettings,
  "roomReasonBytes" | "roomRecordBytes"
>;

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
  /** TLS port of the IRC door; null: no IRC door. */
  readonly ircPort: number | null;
  /** Address the IRC door listens on (`--irc-host`, else `--host`). */
  readonly ircHost: string;
  /** Origins allowed to open WebSockets besides the page's own. */
  readonly webOrigins: readonly string[];
  /** Plain HTTP port of /metrics, /readyz, /healthz; null: none. */
  readonly metricsPort: number | null;
  /** Where the metrics port listens (`--metrics-host`, loopback). */
  readonly metricsHost: string;
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
  /**
   * Deleted room events (retention's, or let go by a log in memory)
   * remembered by number and room, so that a catch-up says exactly how
   * many lines of a room are missing (`--history-tombstones`; 0: none,
   * `?` then).
   */
  readonly historyTombstones: number;
  /**
   * Most lines of a room a resuming client is caught up with
   * (`--resume-lines`; also at most half of `queueBytes`).
   */
  readonly resumeLines: number;
  /**
   * Lines of catch-up one address group (an IPv6 /64, as `maxPerIp`
   * counts) may be read and sent a minute, a minute's worth at once
   * (`--resume-rate`; 0: no limit): past it, a catch-up says the rest are
   * missing.
   */
  readonly resumeRate: number;
  /** Longest a line waits in the journal before the database takes it. */
  readonly historyFlushMs: number;
  /** Lines one `/search` answers at most. */
  readonly searchResults: number;
  /** Searches one member may make a minute. */
  readonly searchRate: number;
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
   * How long an HTTP request on the web and metrics ports may take to
   * arrive, headers and body (and how often that is checked: a request
   * sent half is answered 408 within twice this): `--handshake-timeout`, at most
   * `maxHttpRequestTimeoutMs`. Derived, no flag of its own.
   */
  readonly httpRequestTimeoutMs: number;
  readonly aliasTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /**
   * `--resume-grace`, in milliseconds: how long a member with `resume`
   * whose connection dropped is held (0: none is, and no `RESUME`).
   */
  readonly resumeGraceMs: number;
  readonly closeGraceMs: number;
  readonly shutdownGraceMs: number;
  readonly announceLimit: number;
  /** `--default-room`: the room everyone is in after joining. */
  readonly defaultRoom: string;
  /** `--room-create`; null: `accounts` when accounts exist, else `any`. */
  readonly roomCreate: "any" | "accounts" | "operators" | null;
  readonly maxRooms: number;
  readonly maxRoomsPerMember: number;
  /** `--room-grace`, in milliseconds. */
  readonly roomGraceMs: number;
  readonly roomCreations: number;
  /**
   * Entries each list of a registered room keeps at most: its operators,
   * its invites, its bans, its mutes (`room_record.ts`, `RoomStoreLimits`).
   */
  readonly maxRoomEntries: number;
  readonly logLevel: LogLevel;
  readonly tlsEngine: TlsEngine;
}
