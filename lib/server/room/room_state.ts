/**
 * One room of a server with rooms on: its record (one plain object, what
 * a room store saves and loads: operators, key hash, invites, bans, mutes,
 * topic), its members of this server by id (only them: the fan-out cost
 * follows the room), its members on every server (`everyone`: the
 * replica's, for counts and `/who`), its own recent messages (history on join and
 * `/history`) and its own `PRESENCE` counting. Who may enter and who
 * operates it are decided here, purely; `rooms.ts` keeps the set.
 *
 * @module
 */

import { ProtocolError } from "../../protocol.ts";
import { aliasSkeleton } from "../../text.ts";
import { addressGroup } from "../../address.ts";
import { describeSanction, type Sanction } from "../access/moderation.ts";
import { FanOut } from "./fan_out.ts";
import type { LineArena } from "./line_arena.ts";
import type { ServerMetrics } from "../metrics/server_metrics.ts";
import type { Member } from "./member.ts";
import type { Moderated } from "./moderator.ts";
import type { Creation } from "./room_grants.ts";
import { RecentEvents } from "./recent_events.ts";
import {
  type EnterOptions,
  type Entrant,
  inForce,
  isInvited,
  isRoomOperator,
  mayEnter,
  type RoomRecord,
  sanctionFor,
} from "./room_record.ts";
import { recordGrowth } from "./record_bound.ts";

/**
 * The skeleton under which room names must differ: the alias skeleton of
 * the name without `#`, `_` and `-` (`#0ps`, `#o-ps` and `#ops` collide).
 */
export function roomSkeleton(name: string): string {
  return aliasSkeleton(name.slice(1).replace(/[_-]/g, ""));
}

/** A member as the rules of `room_record.ts` see it. */
export function entrant(member: Moderated): Entrant {
  return {
    account: member.account,
    alias: member.alias,
    host: member.host,
    serverOperator: member.operator,
  };
}

/** How a member joins: a key given; a rejoin at login, its door or not. */
export interface JoinEntry {
  readonly key?: string;
  /** Joining again at login, its room already (key and invitation not asked). */
  readonly rejoin?: boolean;
  /** A rejoin whose membership is not known: key and invitation asked. */
  readonly door?: boolean;
}

/** One room of this server (see the module). */
export class RoomState<M extends Member> {
  /**
   * Its record: replaced by the one each event about it carries, changed
   * here at once by its operators' commands on this server.
   */
  record: RoomRecord;
  /**
   * Its record as the log last said, without this server's changes not
   * handed on yet: what a change the log refused goes back to, and whose
   * mutes silence a line in the log's order (`room_mutes.ts`).
   */
  logged: RoomRecord;
  /**
   * Members on any server that the log's mutes hold, by id: the mute (in
   * `logged.mutes`) that holds each, as `muteKey` names it (`room_mutes.ts`).
   */
  readonly mutedIds = new Map<string, string>();
  /** Its members of this server, by id (whom its lines are sent to). */
  readonly members = new Map<string, M>();
  /**
   * Its members on every server (the replica, as the log says): id to
   * alias, in the order `/who` lists them (join order, a rename last).
   */
  readonly everyone = new Map<string, string>();
  /**
   * Whether the log knows it: false for a room created here by a `/join`
   * whose `JOIN` is not handed on yet (another server's may come first).
   */
  confirmed = true;
  /** Its creation by a `/join` here, counted (`--room-creations`). */
  made?: Creation;
  /**
   * Members of this server invited while connected (by id: a guest's
   * invitation, kept here, never in the record; `room_grants.ts`).
   */
  readonly invitedHere = new Set<string>();
  readonly fan: FanOut<M>;
  readonly recent: RecentEvents;
  /** Timer that removes it once empty for the grace (temporary rooms). */
  expiry: unknown = undefined;
  /**
   * The number of the last event before its current incarnation (0: all
   * of the log): a room made again after it vanished is a new room, and
   * nothing numbered up to this is read from it (search, catch-up); see
   * `room_replica.ts`.
   */
  since = 0;

  /** A room with `record`, its lines encoded into `options.arena`. */
  constructor(
    record: RoomRecord,
    options: {
      arena: LineArena;
      announceLimit: number;
      history: number;
      metrics: ServerMetrics;
    },
  ) {
    this.record = record;
    this.logged = structuredClone(record);
    this.fan = new FanOut(
      options.arena,
      options.announceLimit,
      options.metrics,
    );
    this.recent = new RecentEvents(options.history);
  }

  /** The room's name. */
  get name(): string {
    return this.record.name;
  }

  /** Whether `member` operates it (server operators everywhere). */
  isOperator(member: Moderated): boolean {
    return isRoomOperator(this.record, entrant(member));
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

  /** Whether `member` was invited (its account, or it while here). */
  invited(member: Moderated): boolean {
    return this.invitedHere.has(member.id) ||
      isInvited(this.record, entrant(member));
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
    // Expired ones are forgotten: the lists are bounded.
    this.record[list] = this.record[list].filter((s) =>
      s.until === null || s.until > now
    );
    const type = list === "bans" ? "ban" : "mute";
    return sanctionFor(this.record, entrant(member), { type, nowMs: now });
  }

  /**
   * Throws unless `member` may enter (`mayEnter`): banned (`room-banned`),
   * invite-only (`room-invite-only`), a key missing or wrong (`room-key`),
   * or too many wrong keys from its address (`too-many-attempts`, from
   * `options.keys`). Operators and the invited pass key and invitation,
   * and so does a member rejoining its room at login (unless `door`).
   */
  checkEntry(
    member: Moderated,
    options: Omit<EnterOptions, "member"> & JoinEntry,
  ): void {
    const { nowMs, key } = options;
    const rejoin = options.rejoin && !options.door;
    const ban = this.banOf(member, nowMs); // and expired ones forgotten
    const entry = ban ? "room-banned" : mayEnter(this.record, entrant(member), {
      ...options,
      key: key || undefined, // "": none given
      member: rejoin,
      invited: this.invitedHere.has(member.id),
    });
    if (entry === "ok") return;
    const { name } = this;
    throw new ProtocolError(
      entry,
      ban
        ? `You are banned from ${name} ${describeSanction(ban)}`
        : entry === "room-invite-only"
        ? `${name} is invite-only: ask one of its operators for /invite`
        : `${name} needs its key: /join ${name} KEY`,
    );
  }

  /**
   * Throws `too-many-entries` when the record's `list` holds `max` entries
   * already (`--max-room-entries`); bans and mutes expired at `nowMs` are
   * forgotten first.
   */
  checkRoomFor(
    list: "operators" | "invites" | "bans" | "mutes",
    { max, nowMs }: { readonly max: number; readonly nowMs: number },
  ): void {
    if (list === "bans" || list === "mutes") {
      this.record[list] = inForce(this.record[list], nowMs);
    }
    const held = this.record[list].length;
    if (held < max) return;
    throw new ProtocolError(
      "too-many-entries",
      `${this.name} keeps at most ${max} ${list}: remove one first`,
    );
  }

  /**
   * Makes `patch` to the record, or throws `too-many-entries` when that
   * would grow it past `maxBytes` (`recordGrowth`; the config's
   * `roomRecordBytes`): every event about the room carries all of it.
   */
  change(patch: Partial<RoomRecord>, maxBytes: number): void {
    const problem = recordGrowth(
      this.record,
      { ...this.record, ...patch },
      maxBytes,
    );
    if (problem !== null) throw new ProtocolError("too-many-entries", problem);
    Object.assign(this.record, patch);
  }

  /** The targets of a room ban of `member`: its account, or its address group. */
  banTargets(
    member: Pick<Moderated, "account" | "host">,
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
