/**
 * What joins the folders: the room and its backend built, the
 * {@linkcode Admission} every door counts its connections with (refused
 * ones are told why here, whatever their door), the {@linkcode TlsDoor}
 * (and the IRC door's), a {@linkcode Session} per connection, and graceful
 * shutdown (every member gets `BYE shutdown`, queues are flushed, then
 * everything closes). The room's log and directory, for one server or for
 * a cluster, are chosen in one place: `openRoomBackend` (`backend.ts`).
 *
 * @module
 */

import { type Clock, Stalls, systemClock } from "../clock.ts";
import { describeError, type Logger } from "../log.ts";
import type { LeaveReason } from "../server_lines.ts";
import { Gate } from "./access/gate.ts";
import type { SharedSanction } from "./access/moderation.ts";
import { localBackend, logInDataDir, type RoomBackend } from "./backend.ts";
import { ReadPoints, ReadSync } from "./room/read_sync.ts";
import type { ServerConfig } from "./config.ts";
import { Admission, type Entry, goodbye } from "./doors/admission.ts";
import { TlsDoor, type TlsDoorHost } from "./doors/tls_door.ts";
import { openIrcDoor } from "./irc/irc_door.ts";
import {
  type ByteConn,
  type ByteListener,
  formatAddress,
  type NetAddress,
} from "./doors/byte_conn.ts";
import type { Connection } from "./room/connection.ts";
import { chunkBytesFor, LineArena } from "./room/line_arena.ts";
import { enforceSanctions } from "./room/moderator.ts";
import { Room, type RoomOptions } from "./room/room.ts";
import type { RoomEvent } from "./room/room_log.ts";
import { Session, type SessionContext } from "./room/session.ts";
import { openStore, type Store } from "./storage/store.ts";
import { SqliteRoomStore } from "./storage/room_table.ts";
import { ServerMetrics } from "./metrics/server_metrics.ts";

/** Options of {@linkcode serveChat}. */
export interface ServeChatOptions {
  readonly config: ServerConfig;
  readonly log: Logger;
  /** @default {systemClock} */
  readonly clock?: Clock;
  /**
   * The data directory's database: accounts, bans, mutes, the topic and,
   * unless `config.durability` is `memory`, history (never closed here).
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
  /** What it counts (the backend's too). @default {new ServerMetrics()} */
  readonly metrics?: ServerMetrics;
  /** The IRC door's listener (`--irc-port`); none by default. */
  readonly irc?: ByteListener;
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
  /** Its counters, for the logs and the metrics listener. */
  readonly metrics: ServerMetrics;
  /** Resolves once the server has shut down and every connection is closed. */
  readonly finished: Promise<void>;
  #doors: TlsDoor[];
  #config: ServerConfig;
  #log: Logger;
  #clock: Clock;
  #context: SessionContext;
  /**
   * Accepted connections (of any door) not yet released, with their session
   * once made; shutdown waits for it to empty (`#emptied`), no task kept.
   */
  #live = new Map<ByteConn | Connection, Session | null>();
  #emptied: PromiseWithResolvers<void> | null = null;
  #stopping = new AbortController();
  #startedMs: number;
  /** How long the event loop stood still: not held against senders. */
  #stalls: Stalls;
  #ids = 0;
  #ownStore: Store | null = null;
  #backend: RoomBackend;

  /** Starts serving; use {@linkcode serveChat}. */
  constructor(listener: ByteListener, options: ServeChatOptions) {
    const { config, log } = options;
    this.#config = config;
    this.#log = log;
    this.#clock = options.clock ?? systemClock;
    this.addr = listener.addr;
    const metrics = this.metrics = options.metrics ?? new ServerMetrics();
    this.admission = new Admission(config, log, metrics.refusals);
    const store = options.store ?? (this.#ownStore = openStore(null));
    const backend = this.#backend = options.backend ??
      localBackend(store, config, this.#clock, log, metrics);
    const gate = this.gate = Gate.open(store.db, config, {
      clock: this.#clock,
      roomPassword: options.roomPassword ?? null,
      failures: metrics.loginFailures,
    });
    const points = new ReadPoints<Session>();
    this.room = new Room<Session>({
      rooms: roomsOf(config, { gate, store, log, backend }),
      log: backend.log,
      announceLimit: config.announceLimit,
      arena: new LineArena(chunkBytesFor(config.queueBytes)),
      historyBytes: config.queueBytes / 2,
      clock: this.#clock,
      stallMs: config.stallTimeoutMs,
      resumeGraceMs: config.resumeGraceMs,
      // A held member holds no connection: it counts among held ones.
      holdLimits: { total: config.maxClients, perGroup: config.maxPerIp },
      startingPoints: points,
      // A queue at its watermark (half), what the log then hands on at once
      // (3 bytes a character) and a new arena chunk (1/8) fit the limit.
      backlogBytes: config.queueBytes / 16,
      onLeave: (session, reason) => this.#logLeave(session, reason),
      directory: backend.directory,
      onEvent: (event) => this.#carryOut(event),
      metrics,
    });
    this.#context = {
      config,
      log,
      clock: this.#clock,
      room: this.room,
      gate,
      // Unique on every server: a shared log names members by id.
      nextId: () => `${backend.idPrefix}${++this.#ids}`,
      search: backend.search,
      reads: points.sync = new ReadSync(backend.markers, this.room),
      stalls: this.#stalls = new Stalls(this.#clock),
    };
    const host = this.#doorHost(gate, metrics);
    this.#doors = [new TlsDoor(listener, host)];
    if (options.irc) {
      this.#doors.push(
        openIrcDoor(options.irc, host, (alias) => this.room.find(alias)),
      );
    }
    this.#startedMs = this.#clock.now();
    this.finished = this.#serve();
  }

  /** What every door is given of the server. */
  #doorHost(gate: Gate, metrics: ServerMetrics): TlsDoorHost {
    return {
      config: this.#config,
      log: this.#log,
      clock: this.#clock,
      admission: this.admission,
      gate,
      stopping: this.#stopping.signal,
      stats: metrics,
      track: (key, entry, serve) => this.#track(key, entry, serve),
      session: (key, connection) => this.#session(key, connection),
    };
  }

  /** A member left (`reason`): logged. */
  #logLeave(session: Session, reason: LeaveReason): void {
    this.#log.info("leave", {
      alias: session.alias,
      addr: session.address,
      reason,
      online: this.room.size,
    });
  }

  /**
   * Takes on what the other servers keep (bans, mutes, the topic), then
   * listens to them: nothing to do for a room on one server.
   */
  async start(): Promise<void> {
    const { moderation } = this.gate;
    await this.#backend.start(
      moderation,
      (sanctions) => this.#takeSanctions(sanctions),
    );
    // The default room's topic is the one the servers keep.
    this.room.router.rooms.default.record.topic = moderation.topic;
  }

  /**
   * Carries out, before anyone here hears of it, what a topic or a ban,
   * mute or their lifting does ({@linkcode EventEffect}), in the log's
   * order: every server ends with what the log says last, even when two
   * operators acted at once.
   */
  #carryOut(event: RoomEvent): void {
    this.#backend.search.heard(event);
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
      for (const door of this.#doors) door.close();
    }
    return this.finished;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #serve(): Promise<void> {
    await Promise.all(this.#doors.map((door) => door.accept()));
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
    this.#stalls[Symbol.dispose]();
    this.room.close();
    this.#backend.closing();
    await this.#backend.log.close();
    this.#backend.retention.stop();
    await this.#backend.search.close();
    this.#ownStore?.close();
    const { room } = this;
    this.#log.info("shutdown", {
      uptimeS: ((this.#clock.now() - this.#startedMs) / 1000).toFixed(1),
      connections: this.admission.stats.accepted,
      joins: room.stats.joins,
      peak: room.stats.peakMembers,
      messages: room.stats.messages,
      refused: this.admission.stats.refused,
      handshakeFailures: this.metrics.handshakeFailures,
    });
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
      return this.#session(connection, connection);
    });
  }

  /**
   * Serves a ready connection (kept under `key`) with a session until it
   * ends: shutdown finds it there.
   */
  #session(key: ByteConn | Connection, connection: Connection): Promise<void> {
    const session = new Session(connection, this.#context);
    this.#live.set(key, session);
    return session.finished;
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
}

/**
 * The rooms (a cluster offers clients only its default room yet), from
 * what the backend says they start from: the limits, who may create a
 * room (by whether accounts exist), the registered rooms and accounts'
 * rooms in the data directory, room keys checked under the login limits.
 */
function roomsOf(
  config: ServerConfig,
  { gate, store, log, backend }: {
    gate: Gate;
    store: Store;
    log: Logger;
    backend: RoomBackend;
  },
): RoomOptions["rooms"] {
  const roomCreate = config.roomCreate ??
    (gate.accounts.count() > 0 ? "accounts" : "any");
  return {
    ...config,
    roomCreate,
    topic: gate.moderation.topic,
    snapshot: backend.roomsAtStart(),
    keys: gate,
    store: new SqliteRoomStore(store.db, {
      ...config,
      starts: logInDataDir(config),
    }),
    storedStarts: config.redis === null, // a server alone's rooms only
    shared: backend.accountRooms,
    onStoreError: (error) =>
      log.warn("room-not-stored", { error: describeError(error) }),
  };
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
