/**
 * A room's record ({@linkcode RoomRecord}: its operators, key, invites,
 * bans, mutes and topic; what a registered room keeps across restarts)
 * and the pure rules read from it: who may enter ({@linkcode mayEnter}), who operates it
 * ({@linkcode isRoomOperator}), whose sanction applies now, and the room key,
 * kept only as a salted SHA-256 hash ({@linkcode hashRoomKey}). Nothing
 * here counts attempts or touches storage: the gate limits wrong keys, a
 * `RoomStore` keeps records.
 *
 * @module
 */

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { aliasKey } from "../../protocol.ts";
import {
  applies,
  readSharedSanctions,
  readTopic,
  type Sanction,
  type SanctionType,
  type Topic,
} from "../access/moderation.ts";

/**
 * One room's settings, one plain object (`RoomState.record`); a store
 * keeps those of registered rooms, each list bounded by
 * {@linkcode RoomStoreLimits}.
 */
export interface RoomRecord {
  /** `#name`, case-folded. */
  name: string;
  /**
   * Account that registered it (as written); null: a temporary room,
   * which no store keeps.
   */
  registeredBy: string | null;
  /** Operators' account names, lower case (server operators not listed). */
  operators: string[];
  /** The room key as {@linkcode hashRoomKey} keeps it, or null: no key. */
  keyHash: string | null;
  /** Only operators, server operators and the invited may enter. */
  inviteOnly: boolean;
  /** Invited account names or aliases, lower case. */
  invites: string[];
  /** Room bans (by account, or a guest's address group). */
  bans: Sanction[];
  /** Room mutes (by account, or a guest's address group). */
  mutes: Sanction[];
  topic: Topic | null;
}

/** Bounds on what registered rooms keep (the config's `maxRooms`...). */
export interface RoomStoreLimits {
  /** Rooms the server holds at most, registered ones included. */
  readonly maxRooms: number;
  /**
   * Entries each list of a room keeps at most: operators, invites, bans
   * and mutes, each.
   */
  readonly maxRoomEntries: number;
  /** Rooms an account is in at most (and rejoins at login). */
  readonly maxRoomsPerMember: number;
}

/** Whoever wants to enter a room, or act in it. */
export interface Entrant {
  /** Account name when logged in; null for a guest. */
  readonly account: string | null;
  readonly alias: string;
  /** Remote host: address bans match its address group. */
  readonly host: string;
  /** Server operators operate every room. */
  readonly serverOperator: boolean;
}

/** The answer of {@linkcode mayEnter}: `ok`, or the `ERR` code to send. */
export type Entry = "ok" | "room-key" | "room-invite-only" | "room-banned";

/** Options of {@linkcode mayEnter}. */
export interface EnterOptions {
  /** The time now, ms since the epoch: expired bans do not apply. */
  readonly nowMs: number;
  /** The key given with `/join`, if any. @default {undefined} */
  readonly key?: string;
  /**
   * It is a member already (an account's room, rejoined at login): only a
   * ban keeps it out. @default {false}
   */
  readonly member?: boolean;
  /**
   * It was invited while connected to this server (kept by its member id,
   * not in the record: a guest's invitation). @default {false}
   */
  readonly invited?: boolean;
  /**
   * Checks the key under limits (`Gate`: wrong keys count as failed
   * logins, and past the limit it throws instead of answering); only a key
   * the room needs from `who` is checked. @default {no limits}
   */
  readonly keys?: RoomKeyLimits;
}

/** What limits wrong room keys (the gate). */
export interface RoomKeyLimits {
  /** Whether `matches()`; may throw instead, not calling it. */
  checkRoomKey(host: string, room: string, matches: () => boolean): boolean;
}

/** Room names: `#` and 1 to 32 of `a-z 0-9 - _`, case-folded. */
const ROOM_NAME = /^#[a-z0-9_-]{1,32}$/;

/** Whether `name` is a case-folded room name (`#ops`). */
export function isRoomName(name: string): boolean {
  return ROOM_NAME.test(name);
}

/** A new record of a temporary room: nobody operates it yet, no key, open. */
export function newRoomRecord(name: string): RoomRecord {
  return {
    name,
    registeredBy: null,
    operators: [],
    keyHash: null,
    inviteOnly: false,
    invites: [],
    bans: [],
    mutes: [],
    topic: null,
  };
}

/** A new record of a room `name` registered by `account`, its operator. */
export function registeredRoom(name: string, account: string): RoomRecord {
  return {
    ...newRoomRecord(name),
    registeredBy: account,
    operators: [aliasKey(account)],
  };
}

/** Marks a guest's alias among a room's operators (never an account's). */
const GUEST_OPERATOR = "~";

/**
 * How `who` is listed among a room's operators: its account (lower case),
 * or a guest's alias marked `~`, so that a guest's rights (a guest
 * creator's, or given by `/op`) never pass to an account of that name, and
 * are never stored ({@linkcode storedRecord}); the live room drops them
 * when the guest leaves.
 */
export function operatorKey(who: Pick<Entrant, "account" | "alias">): string {
  return who.account !== null
    ? aliasKey(who.account)
    : `${GUEST_OPERATOR}${aliasKey(who.alias)}`;
}

/**
 * Whether `who` operates the room: a server operator, or one the record
 * lists ({@linkcode operatorKey}).
 */
export function isRoomOperator(record: RoomRecord, who: Entrant): boolean {
  return who.serverOperator || record.operators.includes(operatorKey(who));
}

/** What a store keeps of a room: a copy without its guests' operator rights. */
export function storedRecord(record: RoomRecord): RoomRecord {
  return {
    ...structuredClone(record),
    operators: record.operators.filter((o) => !o.startsWith(GUEST_OPERATOR)),
  };
}

/**
 * Whether `who` was invited by its account (the record lists accounts: a
 * guest's invitation is its own server's, by member id, never the next
 * holder's of its alias on any server).
 */
export function isInvited(record: RoomRecord, who: Entrant): boolean {
  return who.account !== null && record.invites.includes(aliasKey(who.account));
}

/** Options of {@linkcode sanctionFor}. */
export interface SanctionQuery {
  /** Bans keep out, mutes keep quiet. */
  readonly type: SanctionType;
  /** The time now, ms since the epoch: expired sanctions do not apply. */
  readonly nowMs: number;
}

/**
 * The first of the room's bans or mutes in force that applies to `who`, or
 * null. Server operators are never held; address sanctions do not hold
 * the room's operators either (they are known by account: an address they
 * share with someone, a NAT, must not lock them out).
 */
export function sanctionFor(
  record: RoomRecord,
  who: Entrant,
  { type, nowMs }: SanctionQuery,
): Sanction | null {
  if (who.serverOperator) return null;
  const host = isRoomOperator(record, who) ? "" : who.host;
  const identity = { account: who.account, host };
  const list = type === "ban" ? record.bans : record.mutes;
  return inForce(list, nowMs).find((s) => applies(s, identity)) ?? null;
}

/** The sanctions of `list` still in force at `nowMs`. */
export function inForce(list: readonly Sanction[], nowMs: number): Sanction[] {
  return list.filter((s) => s.until === null || s.until > nowMs);
}

/**
 * Whether `who` may enter the room, given the key it sent: a ban keeps it
 * out first; operators (the room's and the server's) pass key and
 * invite-only; the invited pass both; then invite-only, then the key
 * (through `options.keys`, which may throw a `ProtocolError`
 * `too-many-attempts` instead of looking at it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashRoomKey, mayEnter, registeredRoom } from "./room_record.ts";
 *
 * const room = { ...registeredRoom("#ops", "opal"), keyHash: hashRoomKey("s3cret") };
 * const bob = { account: null, alias: "bob", host: "10.0.0.2", serverOperator: false };
 * assert.equal(mayEnter(room, bob, { nowMs: 0 }), "room-key");
 * assert.equal(mayEnter(room, bob, { nowMs: 0, key: "guess" }), "room-key");
 * assert.equal(mayEnter(room, bob, { nowMs: 0, key: "s3cret" }), "ok");
 * const opal = { ...bob, account: "Opal", alias: "Opal" };
 * assert.equal(mayEnter(room, opal, { nowMs: 0 }), "ok", "its operator");
 * ```
 */
export function mayEnter(
  record: RoomRecord,
  who: Entrant,
  options: EnterOptions,
): Entry {
  const query = { type: "ban", nowMs: options.nowMs } as const;
  if (sanctionFor(record, who, query) !== null) {
    return "room-banned";
  }
  if (
    options.member || options.invited || isRoomOperator(record, who) ||
    isInvited(record, who)
  ) {
    return "ok";
  }
  if (record.inviteOnly) return "room-invite-only";
  if (record.keyHash === null) return "ok";
  const { key, keys } = options;
  const keyHash = record.keyHash;
  if (key === undefined) return "room-key";
  const matches = () => roomKeyMatches(key, keyHash);
  const ok = keys
    ? keys.checkRoomKey(who.host, record.name, matches)
    : matches();
  return ok ? "ok" : "room-key";
}

const SALT_BYTES = 16;

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) =>
  Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

function digest(salt: Uint8Array, key: string): Uint8Array {
  return createHash("sha256").update(salt).update(key).digest();
}

/**
 * Hashes a room key for storage: `sha256$SALT$DIGEST` (base64), a 16-byte
 * random salt. Not scrypt like account passwords: a room key is a secret
 * its operators share and hand out, not someone's reused password; it is
 * checked on every `/join` that gives one, on the event loop, where 120 ms
 * and 32 MiB of scrypt per guess would be a denial of service of its own;
 * and guessing online is held back by the login limits (`Gate.enterRoom`).
 * The salt keeps equal keys of two rooms apart in a copied database.
 */
export function hashRoomKey(key: string): string {
  const salt = new Uint8Array(randomBytes(SALT_BYTES));
  return `sha256$${b64(salt)}$${b64(digest(salt, key))}`;
}

/**
 * Whether `key` is the room key `keyHash` keeps; false for a malformed
 * hash. The comparison takes the same time wherever the digests differ.
 */
export function roomKeyMatches(key: string, keyHash: string): boolean {
  const [scheme, salt, expected, extra] = keyHash.split("$");
  if (scheme !== "sha256" || !salt || !expected || extra !== undefined) {
    return false;
  }
  let want: Uint8Array;
  try {
    want = unb64(expected);
  } catch {
    return false; // not base64: a hash written by hand
  }
  const actual = digest(unb64(salt), key);
  return actual.length === want.length && timingSafeEqual(actual, want);
}

/**
 * What is wrong with a record, or null: checked before a record is kept
 * (over a limit) and when one is loaded (a row written by hand).
 */
export function recordProblem(
  record: RoomRecord,
  limits: RoomStoreLimits,
): string | null {
  if (!isRoomName(record.name)) return `"${record.name}" is not a room name`;
  if (record.registeredBy === null) return "it is not registered";
  const lists = {
    operators: record.operators,
    invites: record.invites,
    bans: record.bans,
    mutes: record.mutes,
  };
  for (const [name, list] of Object.entries(lists)) {
    if (!Array.isArray(list)) return `its ${name} are not a list`;
    if (list.length > limits.maxRoomEntries) {
      return `it has ${list.length} ${name}, more than ${limits.maxRoomEntries}`;
    }
  }
  return null;
}

/**
 * Reads a room's bans or mutes as stored (JSON, `type` each), or throws a
 * `TypeError` when that is not what `text` holds (a row written by hand).
 */
export function readSanctions(text: string, type: SanctionType): Sanction[] {
  const shared = readSharedSanctions(text);
  if (shared === null || shared.some((s) => s.type !== type)) {
    throw new TypeError(`its ${type}s are not a list of ${type}s`);
  }
  const ids = (JSON.parse(text) as { id?: unknown }[]).map((s) => s.id);
  return shared.map((s, i) => ({
    id: typeof ids[i] === "number" ? ids[i] : i + 1,
    ...s,
  }));
}

/**
 * A topic as a store kept it (parsed JSON), checked, or null when it is
 * not one: its text as `storedText` makes it, its time (`at`) when it has
 * one (`readTopic`, whose rules a room's record shares).
 */
export function readRoomTopic(value: unknown): Topic | null {
  return readTopic(value);
}

/**
 * A record as an event carries it (parsed JSON), checked like anything
 * read back from a log, or null when it is not one; its topic and its
 * bans' and mutes' reasons as `storedText` makes them.
 */
export function readRoomRecord(value: unknown): RoomRecord | null {
  if (typeof value !== "object" || value === null) return null;
  const r = value as Record<string, unknown>;
  const strings = (list: unknown) =>
    Array.isArray(list) && list.every((s) => typeof s === "string");
  const topic = r.topic === null ? null : readTopic(r.topic);
  const ok = typeof r.name === "string" && isRoomName(r.name) &&
    (r.registeredBy === null || typeof r.registeredBy === "string") &&
    strings(r.operators) && strings(r.invites) &&
    (r.keyHash === null || typeof r.keyHash === "string") &&
    typeof r.inviteOnly === "boolean" &&
    (r.topic === null || topic !== null);
  if (!ok) return null;
  try {
    return {
      ...(r as unknown as RoomRecord),
      topic,
      bans: readSanctions(JSON.stringify(r.bans), "ban"),
      mutes: readSanctions(JSON.stringify(r.mutes), "mute"),
    };
  } catch {
    return null;
  }
}
