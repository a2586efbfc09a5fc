/**
 * What makes the room one server's or a cluster's, built in one place
 * ({@linkcode openRoomBackend}): where its events are ordered (no log with
 * `--history 0`, a ring in memory, the database, or a Redis stream), who
 * holds which alias, and the retention of the data directory. The
 * cluster's modules are loaded only with `--redis`.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import { describeError, type Logger, redact } from "../log.ts";
import { HISTORY_REQUEST_LIMIT } from "../protocol.ts";
import type { Moderation, SharedSanction } from "./access/moderation.ts";
import type { ServerConfig } from "./config.ts";
import { type Directory, LocalDirectory } from "./room/directory.ts";
import { type RoomLog } from "./room/room_log.ts";
import { MemoryLog } from "./room/memory_log.ts";
import { localSnapshot, type RoomsSnapshot } from "./room/rooms_snapshot.ts";
import { join } from "node:path";
import { recentEventsByRoom } from "./storage/events_table.ts";
import { SqliteRoomStore } from "./storage/room_table.ts";
import type { Session } from "./room/session.ts";
import { Retention } from "./storage/retention.ts";
import { SqliteLog } from "./storage/sqlite_log.ts";
import { IndexSearch } from "./storage/indexer.ts";
import { NO_SEARCH, type Search } from "./room/search.ts";
import { SqliteReadMarkers } from "./storage/markers_table.ts";
import type { ReadMarkers } from "./room/read_markers.ts";
import type { SharedAccountRooms } from "./room/room_store.ts";
import { DATABASE_FILE, databaseBytes, type Store } from "./storage/store.ts";
import { SEARCH_FILE } from "./storage/search_index.ts";
import type { BackendProbe, ServerMetrics } from "./metrics/server_metrics.ts";

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
  /**
   * What `/search` finds with: the data directory's full-text index, fed
   * by every event handed on here (none without history). The server
   * closes it at shutdown.
   */
  readonly search: Search;
  /**
   * Accounts' read markers: the data directory's table on one server, a
   * Redis hash per account in a cluster (shared by its servers).
   */
  readonly markers: ReadMarkers;
  /** Accounts' rooms, shared by a cluster's servers (none on one server). */
  readonly accountRooms?: SharedAccountRooms;
  /** Where its name shows in the `listening` log line; null: nowhere. */
  readonly label: string | null;
  /**
   * Whether the database takes writes and (a cluster) Redis answers, and
   * what they hold: what `/readyz` and `/metrics` ask, when asked.
   */
  probe(): Promise<BackendProbe>;
  /**
   * What the rooms start from (asked once, as the room is built; throws
   * for a damaged room store).
   */
  roomsAtStart(): RoomsSnapshot;
  /**
   * Once the room is built: takes on what the other servers keep (bans and
   * mutes through `take`, the topic) and starts hearing from them.
   */
  start(
    moderation: Moderation,
    take: (sanctions: readonly SharedSanction[]) => void,
  ): Promise<void>;
  /**
   * Shutdown began (every session has ended or been cut): what is left to
   * hand the cluster's Redis gets `--shutdown-grace` from now in all, then
   * is dropped (a Redis that is gone must not hold the process). Nothing on
   * one server.
   */
  closing(): void;
  /**
   * Stops retention and the search's index (its last lines written),
   * leaves the other servers and closes the log.
   */
  close(): Promise<void>;
}

/** Options of {@linkcode openRoomBackend}. */
export interface BackendOptions {
  readonly store: Store;
  readonly log: Logger;
  /** @default {systemClock} */
  readonly clock?: Clock;
  /** Where its log and Redis link count. @default {nowhere} */
  readonly metrics?: ServerMetrics;
}

/**
 * The room as configured: this server's alone ({@linkcode localBackend}),
 * or with `--redis` a cluster's (its log in a Redis stream, aliases claimed
 * in Redis; those modules are loaded only then). The one place that
 * chooses.
 */
export async function openRoomBackend(
  config: ServerConfig,
  { store, log, metrics, clock = systemClock }: BackendOptions,
): Promise<RoomBackend> {
  if (config.redis === null) {
    return localBackend(store, config, clock, log, metrics);
  }
  const { RedisLog } = await import("./cluster/redis_log.ts");
  const { Cluster } = await import("./cluster/cluster.ts");
  const { RedisDirectory } = await import("./cluster/redis_directory.ts");
  const { RedisReadMarkers } = await import("./cluster/redis_markers.ts");
  const { RedisAccountRooms } = await import("./cluster/account_rooms.ts");
  const link = await openLink(config, config.redis, log, metrics);
  try {
    const roomLog = await RedisLog.open(link, {
      ...config,
      clock,
      keep: config.history === 0 ? 0 : HISTORY_REQUEST_LIMIT,
      log,
      commitTimes: metrics?.historyCommit,
    });
    const flush = () => roomLog.flush(); // a LEAVE after the lines before
    const cluster = new Cluster(link, { ...config, clock, log, flush });
    const roomsNow = () => roomLog.roomsNow();
    const directory = new RedisDirectory<Session>(cluster, log, roomsNow);
    const retention = openRetention(store, config, clock, log);
    const at = { clock, log, retention, epoch: () => roomLog.epoch };
    const search = roomLog.catchUpSearch(openSearch(store, config, at));
    const markers = await RedisReadMarkers.open(link, { ...config, log });
    retention.start();
    return {
      log: roomLog,
      directory,
      markers,
      accountRooms: new RedisAccountRooms(link),
      idPrefix: `${cluster.server}/`,
      retention,
      search,
      label: `${config.cluster}@${redact(config.redis)}/${cluster.server}`,
      // Redis's rooms, and the registered rooms only this server kept.
      roomsAtStart: () =>
        roomLog.takeRoomsAtStart(
          localRoomsAtStart(store, config, false).records,
        ),
      start: (moderation, take) => directory.start(moderation, take),
      probe: () => probeStore(store, roomLog, search, cluster.probe()),
      closing: () => link.shutDown(),
      async close() {
        retention.stop();
        await search.close();
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

/** The link to the cluster's Redis at `url`, its limits the config's own. */
async function openLink(
  config: ServerConfig,
  url: string,
  log: Logger,
  metrics: ServerMetrics | undefined,
) {
  const { RedisLink } = await import("./cluster/redis.ts");
  return await RedisLink.open({
    ...config,
    url,
    commandTimes: metrics?.redisCommand,
    streamEntries: config.redisStreamEntries === 0
      ? 2 ** 31
      : config.redisStreamEntries,
    log,
  });
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
  metrics?: ServerMetrics,
): RoomBackend {
  const retention = openRetention(store, config, clock, log);
  const roomLog = openRoomLog(store, config, {
    clock,
    log,
    retention,
    metrics,
  });
  const at = { clock, log, retention, epoch: () => roomLog.epoch };
  const search = openSearch(store, config, at);
  retention.start(); // once the log and the index listen to it
  return {
    log: roomLog,
    directory: new LocalDirectory<Session>(),
    markers: new SqliteReadMarkers(store.db, config),
    idPrefix: "",
    retention,
    search,
    label: null,
    roomsAtStart: () => localRoomsAtStart(store, config, true),
    start: () => Promise.resolve(),
    probe: () => probeStore(store, roomLog, search),
    closing: () => {},
    close: () => {
      retention.stop();
      return search.close();
    },
  };
}

/**
 * What the rooms of a server alone start from: the registered rooms in the
 * data directory, nobody in them, and (`stored`) each room's last messages
 * and where it began, as the database holds them (a log in memory starts
 * empty, numbering anew).
 */
function localRoomsAtStart(
  store: Store,
  config: ServerConfig,
  stored: boolean,
): RoomsSnapshot {
  const rooms = new SqliteRoomStore(store.db, config);
  const records = rooms.load()
    .filter((record) => record.name !== config.defaultRoom);
  const kept = stored && logInDataDir(config);
  const events = kept
    ? recentEventsByRoom(store.db, HISTORY_REQUEST_LIMIT)
    : [];
  const since = kept ? rooms.starts() : undefined;
  return localSnapshot(records, events, config.defaultRoom, since);
}

/**
 * Whether the room log is the data directory's database (a server alone
 * with history, not in memory): only then are its numbers the ones the
 * data directory keeps (a registered room's start).
 */
export function logInDataDir(config: ServerConfig): boolean {
  return config.redis === null && config.history > 0 &&
    config.durability !== "memory";
}

/**
 * The one place retention is made (its backend starts it): what the data
 * directory holds ages out as `--history-keep-days` and
 * `--history-keep-rows` say, whatever the log (rows stored before still go
 * when nothing new is stored).
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
    tombstones: config.historyTombstones,
    spare: config.history, // each room's last --history lines stay
    onError: (error) =>
      log.error("history-failed", {
        what: "retention",
        error: describeError(error),
      }),
  });
}

/**
 * The search of a server that keeps history (none with `--history 0` or
 * `--durability memory`: `ERR no-history`): its index in `search.db`, in a
 * worker, fed by what is handed on (on one server, first by what
 * `chat.db` stored after its last line). Retention deletes from it what
 * it deletes from the database; a cluster's index (numbered as the stream,
 * not as the database) keeps itself to the same bounds.
 */
function openSearch(
  store: Store,
  config: ServerConfig,
  { clock, log, retention, epoch }: {
    clock: Clock;
    log: Logger;
    retention: Retention;
    epoch: () => string;
  },
): Search {
  if (config.history === 0 || config.durability === "memory") return NO_SEARCH;
  const { dir } = store;
  const ownBounds = config.redis !== null;
  const search = new IndexSearch({
    clock,
    epoch,
    path: dir === null ? null : join(dir, SEARCH_FILE),
    chat: ownBounds || dir === null ? null : join(dir, DATABASE_FILE),
    searchTimeoutMs: config.searchTimeoutMs,
    searchPendingBytes: config.searchPendingBytes,
    onError: (error) =>
      log.error("history-failed", {
        what: "search-index",
        error: describeError(error),
      }),
  });
  if (!ownBounds) {
    retention.onDelete((seqs, through) => search.delete(seqs, through));
  } else {
    retention.alsoTrim(() => {
      search.trim({
        keepRows: config.historyKeepRows,
        keepDays: config.historyKeepDays,
        now: clock.now(),
      });
      return 0; // the worker trims step after step
    });
  }
  return search;
}

function openRoomLog(
  store: Store,
  config: ServerConfig,
  { clock, log, retention, metrics }: {
    clock: Clock;
    log: Logger;
    retention: Retention;
    metrics?: ServerMetrics;
  },
): RoomLog {
  const rooms = {
    defaultRoom: config.defaultRoom,
    tombstones: config.historyTombstones,
  };
  if (config.history === 0) return new MemoryLog(clock, 0, rooms);
  const keep = HISTORY_REQUEST_LIMIT; // at least config.history
  if (config.durability === "memory") return new MemoryLog(clock, keep, rooms);
  return new SqliteLog(store.db, {
    clock,
    keep,
    defaultRoom: config.defaultRoom,
    durability: config.durability,
    journal: store.journal,
    flushLines: config.historyFlushLines,
    flushMs: config.historyFlushMs,
    retention,
    metrics,
    onError: (what, error) =>
      log.error("history-failed", { what, error: describeError(error) }),
    onResume: () => log.info("history-resumed", {}),
  });
}

/**
 * What the server knows of its history's writes (no probe write: that
 * would wait on the database's write lock, on the event loop), the
 * database's size, and what Redis said (`redis`, a cluster's).
 */
async function probeStore(
  store: Store,
  log: RoomLog,
  search: Search,
  redis?: Promise<BackendProbe["redis"]>,
): Promise<BackendProbe> {
  return {
    unwritable: store.journal?.broken
      ? "the history journal cannot be written"
      : log.failing
      ? "history commits fail"
      : null,
    databaseBytes: databaseBytes(store.db),
    search: search.backlog(),
    redis: (await redis) ?? null,
  };
}
