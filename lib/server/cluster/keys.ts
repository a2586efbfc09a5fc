/**
 * The cluster's state in Redis, by name: every key under
 * `tlschat:{NAME}:`, made in one place ({@linkcode clusterKeys}) and
 * handed to every script as KEYS in one order, what Redis keeps about a
 * member, and the format of that state this release writes and reads.
 *
 * @module
 */

/**
 * The cluster's fixed keys, in the order every script receives them as
 * KEYS (its Lua names them `K.events`, `K.seq`, ...).
 */
export const SCRIPT_KEYS = [
  "events",
  "seq",
  "members",
  "skeletons",
  "order",
  "ids",
  "epoch",
  "servers",
  "sanctions",
  "topic",
  "lastbeat",
  "calm",
  "lineIds",
  "lineSigns",
  "format",
] as const;

/**
 * The format of the cluster's state in Redis this release writes and reads
 * (kept in `format`, see {@linkcode ClusterKeys.format}). Format 1, the
 * previous release's, had no such key and a note (`n`) where events now
 * have an effect (`e`, `v`): its stream is read, and upgraded once no
 * server of that release is running.
 */
export const STATE_FORMAT = "2";

/** The cluster's keys in Redis, under `tlschat:{NAME}:`. */
export interface ClusterKeys {
  /** The stream of room events (the room's order). */
  readonly events: string;
  /** The last event number given. */
  readonly seq: string;
  /** Members by alias key: JSON {@linkcode MemberRecord}. */
  readonly members: string;
  /** Alias keys by look-alike skeleton. */
  readonly skeletons: string;
  /** Alias keys by join order (score: the JOIN's number). */
  readonly order: string;
  /** Alias keys by member id (a member leaves by id, whatever its alias). */
  readonly ids: string;
  /**
   * A random value set when the cluster's state is first written: a Redis
   * that lost its data has none, and every script refuses to run.
   */
  readonly epoch: string;
  /** Servers by the time their heartbeat runs out (ms since the epoch). */
  readonly servers: string;
  /** Bans and mutes in force: one JSON list. */
  readonly sanctions: string;
  /** The room's topic: JSON `{ text, by }`. */
  readonly topic: string;
  /** When the last heartbeat of any server landed, by Redis's clock. */
  readonly lastbeat: string;
  /** Until when nobody is judged lost (after the whole cluster fell silent). */
  readonly calm: string;
  /**
   * The ids of the last appended lines, scored by their number: a line
   * whose id is here is not stored again (a bounded set).
   */
  readonly lineIds: string;
  /**
   * Each kept line id's `SIGN:TAG`: the line's sign (what it is) and the
   * tag of the append that stored it (so that a retried append knows its
   * own line).
   */
  readonly lineSigns: string;
  /**
   * The format of the state ({@linkcode STATE_FORMAT}), set with the
   * epoch: a server refuses a format it does not know.
   */
  readonly format: string;
  /** A server's own members (alias keys). */
  serverMembers(server: string): string;
  /** What is said to one server (private messages). */
  channel(server: string): string;
}

/** What Redis keeps about a member. */
export interface MemberRecord {
  /** Member id, unique in the cluster (`SERVER/N`). */
  readonly id: string;
  readonly server: string;
  readonly alias: string;
  readonly account: string | null;
  readonly host: string;
  readonly operator: boolean;
}

/** The keys of cluster `name`: the only place their names are made. */
export function clusterKeys(name: string): ClusterKeys {
  const base = `tlschat:{${name}}:`;
  const fixed = Object.fromEntries(
    SCRIPT_KEYS.map((key) => [key, `${base}${key}`]),
  ) as Record<(typeof SCRIPT_KEYS)[number], string>;
  return {
    ...fixed,
    serverMembers: (server) => `${base}server:${server}`,
    channel: (server) => `${base}to:${server}`,
  };
}
