/**
 * One room of a server with rooms on: its record (one plain object, what
 * a room store saves and loads: operators, key hash, invites, bans, mutes,
 * topic), its members of this server by id (only them: the fan-out cost
 * follows the room), its own recent messages (history on join and
 * `/history`) and its own `PRESENCE` counting. Who may enter and who
 * operates it are decided here, purely; `rooms.ts` keeps the set.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { ProtocolError } from "../../protocol.ts";
import { aliasSkeleton } from "../../text.ts";
import { addressGroup } from "../../address.ts";
import {
  applies,
  describeSanction,
  type Sanction,
  type Topic,
} from "../access/moderation.ts";
import { FanOut } from "./fan_out.ts";
import type { LineArena } from "./line_arena.ts";
import type { Member } from "./member.ts";
import type { Moderated } from "./moderator.ts";
import { RecentEvents } from "./room_log.ts";

/** What a room store keeps of a room (see the module). */
export interface RoomRecord {
  /** The room's name, `#` and folded. */
  readonly name: string;
  /** The account that registered it; null: a temporary room. */
  registeredBy: string | null;
  /** Room operators: accounts (lower case), or guests' aliases while connected. */
  operators: string[];
  /** Salted SHA-256 of the room key (`salt$hex`); null: no key. */
  keyHash: string | null;
  inviteOnly: boolean;
  /** Invited accounts (lower case) or aliases. */
  invites: string[];
  bans: Sanction[];
  mutes: Sanction[];
  topic: Topic | null;
}

/** A new record: nobody operates it yet, no key, open. */
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

/**
 * The skeleton under which room names must differ: the alias skeleton of
 * the name without `#`, `_` and `-` (`#0ps`, `#o-ps` and `#ops` collide).
 */
export function roomSkeleton(name: string): string {
  return aliasSkeleton(name.slice(1).replace(/[_-]/g, ""));
}

/**
 * Hashes a room key: a salted SHA-256 (`salt$hex`). A room key guards a
 * room, not an account, and is checked on every `/join`: fast on purpose.
 */
export function hashRoomKey(key: string, salt?: string): string {
  const s = salt ??
    crypto.getRandomValues(new Uint8Array(12)).toBase64();
  return `${s}$${createHash("sha256").update(`${s}\n${key}`).digest("hex")}`;
}

/** Whether `key` matches a hash made by {@linkcode hashRoomKey}. */
export function roomKeyMatches(hash: string, key: string): boolean {
  const salt = hash.slice(0, hash.indexOf("$"));
  return hashRoomKey(key, salt) === hash;
}

/** The name under which a member is an operator or invited: account or alias. */
export function memberKey(member: Moderated): string {
  return (member.account ?? member.alias).toLowerCase();
}

/** One room of this server (see the module). */
export class RoomState<M extends Member> {
  readonly record: RoomRecord;
  /** Its members of this server, by id. */
  readonly members = new Map<string, M>();
  readonly fan: FanOut<M>;
  readonly recent: RecentEvents;
  /** Timer that removes it once empty for the grace (temporary rooms). */
  expiry: unknown = undefined;

  /** A room with `record`, its lines encoded into `arena`. */
  constructor(
    record: RoomRecord,
    arena: LineArena,
    options: { announceLimit: number; history: number },
  ) {
    this.record = record;
    this.fan = new FanOut(arena, options.announceLimit);
    this.recent = new RecentEvents(options.history);
  }

  /** The room's name. */
  get name(): string {
    return this.record.name;
  }

  /** Whether `member` operates it (server operators everywhere). */
  isOperator(member: Moderated): boolean {
    return member.operator ||
      this.record.operators.includes(memberKey(member));
  }

  /** Throws `not-operator` unless `member` operates the room. */
  checkOperator(member: Moderated, command: string): void {
    if (!this.isOperator(member)) {
      throw new ProtocolError(
        "not-operator",
        `/${command} is for operators of ${this.name} only`,
      );
    }
  }

  /** Whether `member` was invited. */
  invited(member: Moderated): boolean {
    const { invites } = this.record;
    return invites.includes(memberKey(member)) ||
      invites.includes(member.alias.toLowerCase());
  }

  /** The room ban in force on `member`, if any (expired ones forgotten). */
  banOf(member: Moderated, now: number): Sanction | null {
    return this.#sanctionOf("bans", member, now);
  }

  /** The room mute in force on `member`, if any. */
  muteOf(member: Moderated, now: number): Sanction | null {
    return this.#sanctionOf("mutes", member, now);
  }

  #sanctionOf(
    list: "bans" | "mutes",
    member: Moderated,
    now: number,
  ): Sanction | null {
    const kept = this.record[list].filter((s) =>
      s.until === null || s.until > now
    );
    this.record[list] = kept;
    return kept.find((s) => applies(s, member)) ?? null;
  }

  /**
   * Throws unless `member` may enter: banned (`room-banned`), invite-only
   * (`room-invite-only`), a key missing or wrong (`room-key`). Operators
   * and the invited pass the key and the invitation.
   */
  checkEntry(member: Moderated, key: string, now: number): void {
    const ban = member.operator ? null : this.banOf(member, now);
    if (ban) {
      throw new ProtocolError(
        "room-banned",
        `You are banned from ${this.name} ${describeSanction(ban)}`,
      );
    }
    if (this.isOperator(member) || this.invited(member)) return;
    if (this.record.inviteOnly) {
      throw new ProtocolError(
        "room-invite-only",
        `${this.name} is invite-only: ask one of its operators for /invite`,
      );
    }
    const hash = this.record.keyHash;
    if (hash !== null && (key === "" || !roomKeyMatches(hash, key))) {
      throw new ProtocolError(
        "room-key",
        `${this.name} needs its key: /join ${this.name} KEY`,
      );
    }
  }

  /** The targets of a room ban of `member`: its account, or its address group. */
  banTargets(
    member: Moderated,
  ): { kind: "account" | "address"; target: string }[] {
    if (member.account !== null) {
      return [{ kind: "account", target: member.account }];
    }
    const group = addressGroup(member.host);
    return group === null ? [] : [{ kind: "address", target: group.text }];
  }

  /** `/rooms` flags as seen by `member`: `m r k i`, or `-`. */
  flagsFor(member: Moderated): string {
    const flags = (this.members.has(member.id) ? "m" : "") +
      (this.record.registeredBy !== null ? "r" : "") +
      (this.record.keyHash !== null ? "k" : "") +
      (this.record.inviteOnly ? "i" : "");
    return flags === "" ? "-" : flags;
  }

  /** Whether `/rooms` lists it to `member` (invite-only: to few). */
  visibleTo(member: Moderated): boolean {
    return !this.record.inviteOnly || member.operator ||
      this.members.has(member.id) || this.invited(member);
  }
}
