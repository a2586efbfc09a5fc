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
  "rooms",
  "roomMembers",
  "roomSizes",
  "tokens",
  "roomSince",
  "roomSkeletons",
  "roomMuted",
  "serverMuted",
] as const;

/**
 * The format of the cluster's state in Redis this release writes and reads
 * (kept in `format`, see {@linkcode ClusterKeys.format}). Format 1 had no
 * such key and a note (`n`) where events now have an effect (`e`, `v`);
 * format 2, the previous release's, had no rooms (no `r` field in the
 * stream, no `rooms` effects, no `rooms` hash): the stream of either is
 * read, and the state upgraded once no server of those releases is running.
 * A release that writes format 2 refuses this one (it would take every
 * room's lines for the default room's).
 */
export const STATE_FORMAT = "3";

/** The formats an older release wrote, which this one reads and upgrades. */
export const OLDER_FORMATS: readonly string[] = ["1", "2"];

/**
 * The error of a server that finds the cluster's state in a format it
 * does not read (see {@linkcode STATE_FORMAT}); its message says what to do.
 */
export class StateFormatError extends Error {
  /** The format found in Redis. */
  readonly format: string;

  /** Explains format `format`, found for cluster `cluster`. */
  constructor(cluster: string, format: string) {
    super(
      OLDER_FORMATS.includes(format)
        ? `Cannot join cluster "${cluster}": servers of an earlier release (state format ${format}) are running in it; stop them all, then start this release (it reads their history and upgrades the state)`
        : `Cannot join cluster "${cluster}": its state in Redis has format "${format}", which this release does not know (it reads format ${STATE_FORMAT}); run the release that wrote it, or a newer one`,
    );
    this.name = "StateFormatError";
    this.format = format;
  }
}

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
  /**
   * Every room the log knows (registered and temporary): name -> record
   * JSON, as the last `room` effect left it (the snapshot a server that
   * starts later begins with; running servers keep their own replica).
   */
  readonly rooms: string;
  /** The rooms each member is in: member id -> JSON list of room names. */
  readonly roomMembers: string;
  /** How many members each room has: name -> count (an empty room: none). */
  readonly roomSizes: string;
  /**
   * Where each temporary room's current incarnation begins: name -> the
   * number of the last event before it (`RoomState.since`); dropped with
   * the room.
   */
  readonly roomSince: string;
  /**
   * The room that holds each look-alike key (`roomSkeleton`): skeleton ->
   * name, set as `rooms` gets the room, deleted with it; a name whose
   * look-alike another room holds is not created (a stale entry, of a room
   * gone, does not count).
   */
  readonly roomSkeletons: string;
  /**
   * Whom the rooms' mutes hold: member id -> JSON object, room name ->
   * `ID TARGET` of the mute (set as a `MOD mute` is stored, for the
   * member of the room its alias names; `room_mutes.ts`), dropped when the
   * member leaves the server. A message of it in that room is refused
   * (`muted`) while the room's record keeps that mute in force.
   */
  readonly roomMuted: string;
  /**
   * Whom the server-wide mutes hold (the default room's, `sanctions`):
   * member id -> the end of the last mute that covers it (ms; '' until
   * lifted), set for every member as a `sanctions` effect is stored and
   * for a member as it claims its alias, dropped when it leaves the
   * server (`mute_scripts.ts`). A message of it in any room is refused
   * (`muted`) while `sanctions` keeps such a mute in force.
   */
  readonly serverMuted: string;
  /**
   * The resume tokens of members that may be held, by the SHA-256 of each
   * (hex; never a token itself) -> alias key (`resume_scripts.ts`).
   */
  readonly tokens: string;
  /** A server's own members (alias keys). */
  serverMembers(server: string): string;
  /** What is said to one server (private messages). */
  channel(server: string): string;
  /**
   * The last messages and actions of room `room` (its stream entries as
   * JSON, newest first, at most `--history`): a quiet room keeps them when
   * a busy one trims the stream. `recent(room) + ":in"`: the ids of its
   * members (a set, none for the default room: `room_scripts.ts`, idsKey).
   */
  recent(room: string): string;
  /**
   * The read markers of an account (by its alias key): room ->
   * `EPOCH SEQ TURN` (`redis_markers.ts`). Kept across epochs: a marker
   * of another epoch is replaced when set, never used.
   */
  readMarkers(account: string): string;
  /**
   * The rooms an account is in (by its alias key), as JSON
   * (`account_rooms.ts`): its rooms at login on any server.
   */
  accountRooms(account: string): string;
  /** Where servers tell each other of read markers that grew. */
  readonly reads: string;
}

/** What Redis keeps about a member. */
export interface MemberRecord {
  /** Member id, unique in the cluster (`SERVER/N`). */
  readonly id: string;
  readonly server: string;
  readonly alias: string;
  readonly account: string | null;
  readonly host: string;
  /**
   * Its address group (`addressGroup`: an IPv4 address, an IPv6 /64), as
   * an address mute names it; absent in a claim of an earlier release.
   */
  readonly group?: string;
  readonly operator: boolean;
  /** The SHA-256 of its resume token (hex), when it may be held. */
  readonly resume?: string;
  /** Whether it is held now (its connection dropped; `hold.ts`). */
  readonly away?: boolean;
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
    recent: (room) => `${base}recent:${room}`,
    readMarkers: (account) => `${base}read:${account}`,
    accountRooms: (account) => `${base}rooms-of:${account}`,
    reads: `${base}reads`,
  };
}
