/**
 * The server around the room, and its TLS door: an accept loop over an
 * already-bound {@linkcode ByteListener} that never awaits a client, the
 * {@linkcode Admission} every door counts its connections with (refused
 * ones are told why here, whatever their door), the TLS handshake
 * deadline, one {@linkcode Session} per connection, and graceful shutdown
 * (every member gets `BYE shutdown`, queues are flushed, then everything
 * closes). Only the listener being closed ends the accept loop; any other
 * accept error is logged and retried with a backoff. Accepting pauses while
 * `maxUnreleased` closed sockets wait for the TLS engine to release them, so
 * that they can never use up the process's descriptors. The room's log and
 * directory, for one server or for a cluster, are chosen in one place:
 * {@linkcode openRoomBackend}.
 *
 * @module
 */

import { type Clock, sleep, systemClock } from "../clock.ts";
import { describeError, type Logger, redact } from "../log.ts";
import { encodeServerLine, HISTORY_REQUEST_LIMIT } from "../protocol.ts";
import { Accounts } from "./access/accounts.ts";
import { Admission, type Entry, type Refusal } from "./doors/admission.ts";
import type { ServerConfig } from "./config.ts";
import { Gate } from "./access/gate.ts";
import { chunkBytesFor, LineArena } from "./room/line_arena.ts";
import { LoginLimiter } from "./access/login_limiter.ts";
import { describeSanction, Moderation } from "./access/moderation.ts";
import { PasswordChecker } from "./access/passwords.ts";
import { Room } from "./room/room.ts";
import { MemoryLog, type RoomLog } from "./room/room_log.ts";
import type { Connection } from "./room/connection.ts";
import { Session, type SessionContext } from "./room/session.ts";
import { Retention } from "./storage/retention.ts";
import { type Directory, LocalDirectory } from "./room/directory.ts";
import { enforceSanctions } from "./room/moderator.ts";
import type { SharedSanction } from "./access/moderation.ts";
import type { RoomEvent } from "./room/room_log.ts";
import { SqliteLog } from "./storage/sqlite_log.ts";
import { openStore, type Store } from "./storage/store.ts";
import {
  TlsConnection,
  type TlsConnectionOptions,
} from "./doors/tls_connection.ts";
import {
  type ByteConn,
  type ByteListener,
  formatAddress,
  type NetAddress,
  ProxyHeaderError,
} from "./doors/transport.ts";

/** Options of {@linkcode serveChat}. */
export interface ServeChatOptions {
  readonly config: ServerConfig;
  readonly log: Logger;
  /** @default {systemClock} */
  readonly clock?: Clock;
  /**
   * The data directory's database: accounts, bans, mutes, the topic and,
   * unless `config.durability` is `memory`, history. The server does not
   * close it.
   * @default {a fresh database in memory}
   */
  readonly store?: Store;
  /** The room password guests must give; null (default): an open room. */
  readonly roomPassword?: string | null;
  /**
   * The room's log and directory, from {@linkcode openRoomBackend}.
   * @default {this server's alone, as `config` says (localBackend)}
   */
  readonly backend?: RoomBackend;
}

/**
 * What makes the room one server's or a cluster's: where its events are
 * ordered and who holds which alias. Built in one place,
 * {@linkcode openRoomBackend}.
 */
export interface RoomBackend {
  readonly log: RoomLog;
  readonly directory: Directory<Session>;
  /** Put before member ids, so that they are unique on every server. */
  readonly idPrefix: string;
  /**
   * Ages out what the data directory stores, whatever the log (what was
   * stored before still goes when nothing new is). Started with the
   * backend; the server stops it at shutdown.
   */
  readonly retention: Retention;
  /** Where its name shows in the `listening` log line; null: nowhere. */
  readonly label: string | null;
  /**
   * Once the room is built: takes on what the other servers keep (bans and
   * mutes through `take`, the topic) and starts hearing from them.
   */
  start(
    moderation: Moderation,
    take: (sanctions: readonly SharedSanction[]) => void,
  ): Promise<void>;
  /** Stops retention, leaves the other servers and closes the log. */
  close(): Promise<void>;
}

/** Counters a server reports in its logs (with its admission's). */
export interface ServerStats {
  handshakeFailures: number;
}

/** A running chat server. Disposing it shuts it down gracefully. */
export class ChatServer implements AsyncDisposable {
  /** The address the listener is bound to. */
  readonly addr: NetAddress;
  readonly room: Room<Session>;
  /** Who may join: accounts, bans and mutes, the topic. */
  readonly gate: Gate;
  /** Who may hold a connection: every door counts its own here. */
  readonly admission: Admission;
  readonly stats: ServerStats = { handshakeFailures: 0 };
  /** Resolves once the server has shut down and every connection is closed. */
  readonly finished: Promise<void>;
  #listener: ByteListener;
  #config: ServerConfig;
  #log: Logger;
  #clock: Clock;
  #connectionOptions: TlsConnectionOptions | null = null;
  #context: SessionContext;
  /**
   * Accepted connections (TLS byte connections, or connections from another
   * door) not yet released, with their session once made. Shutdown waits
   * for it to empty (`#emptied`): no task promise is kept per connection.
   */
  #live = new Map<ByteConn | Connection, Session | null>();
  #emptied: PromiseWithResolvers<void> | null = null;
  #stopping = new AbortController();
  #startedMs: number;
  #ids = 0;
  #ownStore: Store | null = null;
  #roomLog: RoomLog;
  #backend: RoomBackend;

  /** Starts serving; use {@linkcode serveChat}. */
  constructor(listener: ByteListener, options: ServeChatOptions) {
    const { config, log } = options;
    this.#listener = listener;
    this.#config = config;
    this.#log = log;
    this.#clock = options.clock ?? systemClock;
    this.addr = listener.addr;
    this.admission = new Admission(config, log);
    const store = options.store ?? (this.#ownStore = openStore(null));
    const backend = this.#backend = options.backend ??
      localBackend(store, config, this.#clock, log);
    this.#roomLog = backend.log;
    this.room = new Room<Session>({
      log: this.#roomLog,
      announceLimit: config.announceLimit,
      arena: new LineArena(chunkBytesFor(config.queueBytes)),
      historyBytes: config.queueBytes / 2,
      clock: this.#clock,
      stallMs: config.stallTimeoutMs,
      // With a queue at its watermark (half the limit), what the log then
      // hands on at once (even three bytes a character) and a new arena
      // chunk (an eighth) still fit under the limit.
      backlogBytes: config.queueBytes / 16,
      onLeave: (session, reason) =>
        log.info("leave", {
          alias: session.alias,
          addr: session.address,
          reason,
          online: this.room.size,
        }),
      directory: backend.directory,
      onEvent: (event) => this.#carryOut(event),
    });
    const accounts = new Accounts(store.db);
    const gate = this.gate = new Gate({
      accounts,
      moderation: new Moderation(store.db, this.#clock),
      limiter: new LoginLimiter(this.#clock, {
        burst: config.loginAttempts,
        targetBurst: config.accountAttempts,
        refillMs: config.loginRefillMs,
        known: accounts,
      }),
      checker: new PasswordChecker(),
      roomPassword: options.roomPassword ?? null,
      accountsOnly: config.accountsOnly,
    });
    this.#context = {
      config,
      log,
      clock: this.#clock,
      room: this.room,
      gate,
      // Unique on every server: a shared log names members by id.
      nextId: () => `${backend.idPrefix}${++this.#ids}`,
    };
    this.#startedMs = this.#clock.now();
    this.finished = this.#serve();
  }

  /**
   * Takes on what the other servers keep (bans, mutes, the topic), then
   * listens to them: nothing to do for a room on one server.
   */
  start(): Promise<void> {
    return this.#backend.start(
      this.gate.moderation,
      (sanctions) => this.#takeSanctions(sanctions),
    );
  }

  /**
   * Carries out, before anyone here hears of it, what a topic or a ban,
   * mute or their lifting does (its {@linkcode EventEffect}: the topic, the
   * bans and mutes in force after it), in the log's order: every server,
   * the one where it was decided included, ends with what the log says
   * last, even when two operators acted at once.
   */
  #carryOut(event: RoomEvent): void {
    const { effect } = event;
    if (effect?.kind === "topic") this.gate.moderation.setTopic(effect.topic);
    if (effect?.kind === "sanctions") this.#takeSanctions(effect.sanctions);
  }

  /** Takes on the cluster's bans and mutes, and applies them here. */
  #takeSanctions(sanctions: readonly SharedSanction[]): void {
    const { moderation } = this.gate;
    moderation.replaceAll(sanctions);
    enforceSanctions(this.room, moderation);
  }

  /** Whether it is shutting down (new members are turned away). */
  get stopping(): boolean {
    return this.#stopping.signal.aborted;
  }

  /** Open connections on every door (handshaking, joined or closing). */
  get connections(): number {
    return this.admission.connections;
  }

  /**
   * Shuts down: stops accepting, sends every client `BYE shutdown`, waits
   * for queues to flush (at most `config.shutdownGraceMs`), closes the rest.
   */
  close(): Promise<void> {
    if (!this.#stopping.signal.aborted) {
      this.#stopping.abort();
      try {
        this.#listener.close();
      } catch {
        // Already closed: the accept loop has ended anyway.
      }
    }
    return this.finished;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #serve(): Promise<void> {
    await this.#acceptLoop();
    for (const [conn, session] of this.#live) {
      if (session) session.close("shutdown", "Server is shutting down");
      else conn.abort();
    }
    const all = this.#live.size === 0
      ? Promise.resolve()
      : (this.#emptied = Promise.withResolvers()).promise;
    const timer = Promise.withResolvers<void>();
    const id = this.#clock.setTimeout(
      timer.resolve,
      this.#config.shutdownGraceMs,
    );
    await Promise.race([all, timer.promise]);
    this.#clock.clearTimeout(id);
    for (const [conn, session] of this.#live) {
      if (session) session.abort();
      else conn.abort();
    }
    await all;
    this.room.close();
    await this.#roomLog.close();
    this.#backend.retention.stop();
    this.#ownStore?.close();
    const { room } = this;
    this.#log.info("shutdown", {
      uptimeS: ((this.#clock.now() - this.#startedMs) / 1000).toFixed(1),
      connections: this.admission.stats.accepted,
      joins: room.stats.joins,
      peak: room.stats.peakMembers,
      messages: room.stats.messages,
      refused: this.admission.stats.refused,
      handshakeFailures: this.stats.handshakeFailures,
    });
  }

  async #acceptLoop(): Promise<void> {
    const { signal } = this.#stopping;
    const stopped = new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true })
    );
    let backoffMs = 5;
    while (!signal.aborted) {
      if (this.#listener.unreleased >= this.#config.maxUnreleased) {
        await this.#pauseAccepting(stopped);
        continue;
      }
      let conn: ByteConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (signal.aborted || error instanceof Deno.errors.BadResource) break;
        this.#log.error("accept-failed", {
          error: describeError(error),
          retryMs: backoffMs,
        });
        await sleep(this.#clock, backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, 1000);
        continue;
      }
      backoffMs = 5;
      this.#admit(conn);
    }
  }

  /** Waits, not accepting, until the engine has released enough sockets. */
  async #pauseAccepting(stopped: Promise<void>): Promise<void> {
    const limit = this.#config.maxUnreleased;
    this.#log.warn("accept-paused", {
      unreleased: this.#listener.unreleased,
      limit,
    });
    while (
      !this.#stopping.signal.aborted && this.#listener.unreleased >= limit
    ) {
      await Promise.race([this.#listener.released(), stopped]);
    }
    this.#log.info("accept-resumed", { unreleased: this.#listener.unreleased });
  }

  /**
   * Counts the connection from its accept and serves it, or tells it why
   * it is refused. A trusted proxy's connection counts under its client's
   * address once the PROXY header (read before the handshake starts) has
   * named it.
   */
  #admit(conn: ByteConn): void {
    const entry = this.admission.enter(
      conn.proxied ? null : conn.remoteAddr.hostname,
      formatAddress(conn.remoteAddr),
    );
    if (entry.dropped) return conn.abort();
    this.#track(conn, entry, () => this.#run(conn, entry));
  }

  /**
   * Serves a connection that came through another door (the WebSocket
   * one), which counted it with the {@linkcode admission} from its accept
   * (`entry`, left here once the connection is closed, and by the door when
   * its socket closes); a refused one is told why (`BYE`) and closed.
   */
  admit(connection: Connection, entry: Entry): void {
    if (this.#stopping.signal.aborted) {
      connection.abort();
      return entry.leave();
    }
    this.#track(connection, entry, () => {
      if (entry.refusal) return connection.close(goodbye(entry.refusal));
      const session = new Session(connection, this.#context);
      this.#live.set(connection, session);
      return session.finished;
    });
  }

  /**
   * Keeps a connection for shutdown while `serve` runs, then lets it and its
   * admission `entry` go. One closure per connection (memory per member): no
   * task promise or set entry. A failure there is a bug, logged, not thrown.
   */
  #track(
    key: ByteConn | Connection,
    entry: Entry,
    serve: () => Promise<void>,
  ): void {
    this.#live.set(key, null);
    const release = (error?: unknown) => {
      const addr = "info" in key
        ? key.info.address
        : formatAddress(key.remoteAddr);
      if (error !== undefined) {
        key.abort();
        this.#log.error("connection-failed", {
          addr,
          error: describeError(error),
        });
      }
      entry.leave();
      this.#log.debug("closed", { addr });
      this.#live.delete(key);
      if (this.#live.size === 0) this.#emptied?.resolve();
    };
    let served: Promise<void>;
    try {
      served = serve();
    } catch (error) {
      served = Promise.reject(error);
    }
    served.then(release, release);
  }

  /**
   * Handshake within the deadline (a trusted proxy's client counted under
   * its own address before it starts), then a session until it ends, or
   * the refusal's `BYE` through the same goodbye.
   */
  async #run(conn: ByteConn, entry: Entry): Promise<void> {
    const tls = this.#connection(conn);
    const handshaken = await this.#handshake(conn, tls, entry);
    if (!handshaken || entry.dropped || this.#stopping.signal.aborted) {
      return conn.close();
    }
    if (entry.refusal) return tls.close(goodbye(entry.refusal));
    const session = new Session(tls, this.#context);
    this.#live.set(conn, session);
    // Returned, not awaited: no suspended frame held per member.
    return session.finished;
  }

  #connection(conn: ByteConn): TlsConnection {
    const config = this.#config;
    // One options object for every connection (memory per member).
    this.#connectionOptions ??= {
      maxLineBytes: config.maxLineBytes,
      maxSkipBytes: config.maxSkipBytes,
      queueBytes: config.queueBytes,
      closeGraceMs: config.closeGraceMs,
      clock: this.#clock,
    };
    return new TlsConnection(conn, this.#connectionOptions);
  }

  /**
   * Counts a trusted proxy's connection under the client its header named,
   * before TLS: refused over a cap, or when the client is banned and no
   * certificate could let it pass (an operator's, with `--client-ca`).
   */
  #locate(conn: ByteConn, entry: Entry): void {
    const host = conn.remoteAddr.hostname;
    const address = formatAddress(conn.remoteAddr);
    entry.locate(host, address);
    if (entry.refusal !== null || this.#config.clientCa !== null) return;
    const ban = this.gate.doorBan(host, null);
    if (ban !== null) {
      entry.refuse(
        { reason: "banned", text: `Banned ${describeSanction(ban)}` },
        address,
      );
    }
  }

  /**
   * Runs the TLS handshake within `handshakeTimeoutMs`, after a trusted
   * proxy's PROXY header, whose client is counted (`entry`) before TLS
   * starts: one dropped there costs no handshake. True when it succeeded
   * in time. A failure is counted and logged: at debug level, or as a
   * refusal for a bad header.
   */
  async #handshake(
    conn: ByteConn,
    tls: TlsConnection,
    entry: Entry,
  ): Promise<boolean> {
    const fail = (error: unknown) => {
      this.stats.handshakeFailures++;
      const addr = formatAddress(conn.remoteAddr);
      // A trusted proxy that sends no valid header is misconfigured, or
      // not the proxy: worth more than a debug line.
      if (error instanceof ProxyHeaderError) {
        this.#log.warn("refused", {
          addr,
          reason: "proxy-header",
          error: error.message,
        });
      } else {
        this.#log.debug("handshake-failed", {
          addr,
          error: typeof error === "string" ? error : describeError(error),
        });
      }
    };
    let late = false;
    const timer = this.#clock.setTimeout(() => {
      late = true;
      fail("timeout");
      // Ends the handshake (node engine at once, deno when the peer acts).
      void conn.close();
    }, this.#config.handshakeTimeoutMs);
    try {
      if (conn.proxied) {
        await conn.located();
        if (late) return false;
        this.#locate(conn, entry);
        if (entry.dropped) return false;
      }
      await tls.handshake();
      return !late;
    } catch (error) {
      if (!late) fail(error);
      return false;
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }
}

/** The `BYE` line that tells a refused connection why. */
function goodbye(refusal: Refusal): Uint8Array {
  return encodeServerLine({ type: "BYE", ...refusal });
}

/**
 * Serves a chat room on an already-bound listener.
 *
 * @example Serve on port 0 and shut down
 * ```ts ignore
 * const listener = await listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
 * await using server = serveChat(listener, { config, log });
 * console.log(server.addr.port);
 * ```
 */
export function serveChat(
  listener: ByteListener,
  options: ServeChatOptions,
): ChatServer {
  return new ChatServer(listener, options);
}

/**
 * The room as configured: this server's alone ({@linkcode localBackend}),
 * or with `--redis` a cluster's (its log in a Redis stream, aliases claimed
 * in Redis; those modules are loaded only then). The one place that
 * chooses.
 */
export async function openRoomBackend(
  config: ServerConfig,
  options: { store: Store; log: Logger; clock?: Clock },
): Promise<RoomBackend> {
  const { store, log } = options;
  const clock = options.clock ?? systemClock;
  if (config.redis === null) return localBackend(store, config, clock, log);
  const { RedisLink } = await import("./cluster/redis.ts");
  const { RedisLog } = await import("./cluster/redis_log.ts");
  const { Cluster } = await import("./cluster/cluster.ts");
  const { RedisDirectory } = await import("./cluster/redis_directory.ts");
  // The cluster's parts take their limits under the config's own names.
  const link = await RedisLink.open({
    ...config,
    url: config.redis,
    streamEntries: config.redisStreamEntries === 0
      ? 2 ** 31
      : config.redisStreamEntries,
    log,
  });
  try {
    const roomLog = await RedisLog.open(link, {
      ...config,
      clock,
      keep: config.history === 0 ? 0 : HISTORY_REQUEST_LIMIT,
      log,
    });
    const cluster = new Cluster(link, { ...config, clock, log });
    const directory = new RedisDirectory<Session>(cluster, log);
    const retention = openRetention(store, config, clock, log);
    retention.start();
    return {
      log: roomLog,
      directory,
      idPrefix: `${cluster.server}/`,
      retention,
      label: `${config.cluster}@${redact(config.redis)}/${cluster.server}`,
      start: (moderation, take) => directory.start(moderation, take),
      async close() {
        retention.stop();
        await roomLog.close();
        await cluster.stop();
        await link.close();
      },
    };
  } catch (e) {
    link.destroy();
    throw e;
  }
}

/**
 * The room of this server alone: a {@linkcode LocalDirectory}, and the log
 * as configured: none kept with `--history 0`, a ring in memory with
 * `--durability memory`, the database otherwise. Either keeps enough
 * messages at hand to answer the largest `/history`.
 */
export function localBackend(
  store: Store,
  config: ServerConfig,
  clock: Clock,
  log: Logger,
): RoomBackend {
  const retention = openRetention(store, config, clock, log);
  const roomLog = openRoomLog(store, config, { clock, log, retention });
  retention.start(); // once the log listens to it
  return {
    log: roomLog,
    directory: new LocalDirectory<Session>(),
    idPrefix: "",
    retention,
    label: null,
    start: () => Promise.resolve(),
    close: () => {
      retention.stop();
      return Promise.resolve();
    },
  };
}

/**
 * The one place retention is made (its backend starts it): what the data
 * directory holds ages out
 * as `--history-keep-days` and `--history-keep-rows` say, whatever the log
 * (rows stored before still go when nothing new is stored).
 */
function openRetention(
  store: Store,
  config: ServerConfig,
  clock: Clock,
  log: Logger,
): Retention {
  return new Retention(store.db, {
    clock,
    keepDays: config.historyKeepDays,
    keepRows: config.historyKeepRows,
    onError: (error) =>
      log.error("history-failed", {
        what: "retention",
        error: describeError(error),
      }),
  });
}

function openRoomLog(
  store: Store,
  config: ServerConfig,
  { clock, log, retention }: {
    clock: Clock;
    log: Logger;
    retention: Retention;
  },
): RoomLog {
  if (config.history === 0) return new MemoryLog(clock, 0);
  const keep = HISTORY_REQUEST_LIMIT; // at least config.history
  if (config.durability === "memory") return new MemoryLog(clock, keep);
  return new SqliteLog(store.db, {
    clock,
    keep,
    durability: config.durability,
    retention,
    onError: (what, error) =>
      log.error("history-failed", { what, error: describeError(error) }),
    onResume: () => log.info("history-resumed", {}),
  });
}
