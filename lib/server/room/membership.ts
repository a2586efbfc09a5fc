/**
 * The members of this server, and every change to who they are: renames,
 * leaves, dismissals, kicks, and dropping the slow. It is the one owner of
 * removing a member (the session, the moderator, the directory and the
 * log's refusals all come here), and every removal is told to the
 * {@linkcode Directory} (which announces it) unless the log already said
 * it. The room's base class: joining, and what each event does for the
 * members, is `room.ts`'s.
 *
 * @module
 */

import { validateAlias } from "../../protocol.ts";
import type { LeaveReason } from "../../server_lines.ts";
import { type Clock, systemClock } from "../../clock.ts";
import {
  type Directory,
  type Dismissal,
  type Found,
  LocalDirectory,
  type Someone,
} from "./directory.ts";
import { type HoldLimits, Holds, type TakeoverProof } from "./hold.ts";
import { type Member, SLOW_TEXT } from "./member.ts";
import { ServerMetrics } from "../metrics/server_metrics.ts";

/** Options of {@linkcode Room.join} and {@linkcode Room.rename}. */
export interface JoinOptions {
  /**
   * The alias is the member's own account: whoever else holds it is
   * dismissed (`BYE replaced`), and look-alikes do not stand in the way.
   * @default {false}
   */
  readonly replace?: boolean;
  /**
   * Called when a joining member enters, right after its `WELCOME` and
   * before any live line: what it must see first (the topic, history).
   */
  readonly onEnter?: () => void;
}

/** What the members start with: the room's options of them. */
export interface MembershipOptions<M extends Member> {
  /** Who holds which alias. @default {a new LocalDirectory} */
  readonly directory?: Directory<M>;
  /** Told of each member that leaves. @default {nothing} */
  readonly onLeave?: (member: M, reason: LeaveReason) => void;
  /** @default {systemClock} */
  readonly clock?: Clock;
  /** `--resume-grace` (`hold.ts`). @default {0: none is held} */
  readonly resumeGraceMs?: number;
  /** How many may be held at once (`hold.ts`). @default {no limit} */
  readonly holdLimits?: HoldLimits;
  /** What the room and its members count. @default {new ServerMetrics()} */
  readonly metrics?: ServerMetrics;
}

/** The members of a room `M` and the changes to them (see the module). */
export abstract class Membership<M extends Member = Member> {
  /** The members of this server by id (the log names them by id). */
  #here = new Map<string, M>();
  #directory: Directory<M>;
  #onLeave: (member: M, reason: LeaveReason) => void;
  /**
   * The members that may be held when their connection drops, and those
   * held now: still members, until taken over or their grace ends.
   */
  readonly holds: Holds<M>;
  /** The server's counters: the room's own, its sessions' and gate's. */
  readonly metrics: ServerMetrics;

  /**
   * No members yet; who holds which alias is the directory's to say (by
   * default a {@linkcode LocalDirectory}).
   */
  constructor(options: MembershipOptions<M>) {
    this.#directory = options.directory ?? new LocalDirectory<M>();
    this.#onLeave = options.onLeave ?? (() => {});
    const clock = options.clock ?? systemClock;
    this.holds = new Holds(
      clock,
      options.resumeGraceMs ?? 0,
      (member, news) => this.#directory.held(member, news),
      options.holdLimits,
    );
    this.metrics = options.metrics ?? new ServerMetrics();
  }

  /**
   * Undefined when every room line so far has reached the members;
   * otherwise a promise that resolves once it has.
   */
  abstract settled(): Promise<void> | undefined;
  /**
   * A member left (or `moved` to another server, where it is still in
   * the room): its queue is no longer watched.
   */
  protected abstract forget(member: M, moved?: boolean): void;

  /** Who holds which alias, here or on every server of the room. */
  protected get directory(): Directory<M> {
    return this.#directory;
  }

  /** The members of this server by id. */
  protected get here(): Map<string, M> {
    return this.#here;
  }

  /** Number of members. */
  get size(): number {
    return this.#here.size;
  }

  /** Whether the member is in the room. */
  has(member: M): boolean {
    return this.#here.get(member.id) === member;
  }

  /**
   * Removes a member and announces why (not at shutdown). Does nothing when
   * the member is not in the room, so it is safe to call from every exit
   * path. It does not close the member: whoever decided it leaves does.
   */
  leave(member: M, reason: LeaveReason, text = ""): void {
    if (!this.has(member)) return;
    this.holds.release(member);
    this.#here.delete(member.id);
    this.forget(member);
    this.#onLeave(member, reason);
    void this.#directory.leave(member, reason, text);
  }

  /**
   * Changes a member's alias and announces it to everyone. Only a member of
   * the room can be renamed, and only its own entry is replaced.
   */
  // deno-lint-ignore require-await
  async rename(
    member: M,
    alias: string,
    options: JoinOptions = {},
  ): Promise<void> {
    if (!this.has(member)) {
      throw new Error(`Cannot rename "${member.alias}": not in the room`);
    }
    validateAlias(alias);
    return this.#directory.claim(member, alias, {
      replace: options.replace ?? false,
    });
  }

  /**
   * Whoever holds `alias` (any case): a member of this server, or someone
   * elsewhere; null when nobody does.
   */
  find(alias: string): Promise<Found<M> | null> {
    return this.#directory.find(alias);
  }

  /**
   * Kicks `target` wherever it is: here it is dismissed at once; elsewhere,
   * once what was announced before (its `MOD` line) is handed on, its
   * server removes it.
   */
  async kick(target: Someone, bye: string): Promise<void> {
    const here = this.#here.get(target.id);
    if (here !== undefined) return this.dismiss(here, "kicked", bye);
    await this.settled();
    await this.#directory.remove(target.id, "kicked", bye);
  }

  /** Every member of this server. */
  members(): IterableIterator<M> {
    return this.#here.values();
  }

  /**
   * Takes a member out: it leaves (announced with `reason`) and is told to
   * close with `BYE reason text`. Used for kicks, bans and replacements.
   */
  dismiss(member: M, reason: Dismissal, text: string): void {
    if (!this.has(member)) return;
    this.leave(member, reason);
    member.close(reason, text);
  }

  /**
   * Takes out a member whose `LEAVE` was decided, and is in the log,
   * elsewhere (a kick or ban on another server, a login from another
   * connection, this server counted lost): it goes without a second
   * announcement, and is told why.
   */
  protected dismissAnnounced(member: M, reason: Dismissal, text: string): void {
    if (!this.has(member)) return;
    this.holds.release(member);
    this.#here.delete(member.id);
    this.forget(member);
    this.#onLeave(member, reason);
    member.close(reason, text);
  }

  /**
   * A member taken over by another server (`Directory.takeOver`): it goes
   * unannounced (it is still in the room, there), its connection closed.
   */
  moved(member: M): void {
    if (!this.has(member)) return;
    this.holds.release(member);
    this.#here.delete(member.id);
    this.forget(member, true);
    member.close(
      "replaced",
      "Disconnected: your session was resumed on another server",
    );
  }

  /**
   * Takes over the member of another server that `proof` names, as
   * `become` makes it (`Directory.takeOver`): a member here from now on,
   * nobody told (its rooms are the caller's to enter). Null: none.
   */
  async takeOver(
    proof: TakeoverProof,
    become: (was: Someone) => M,
  ): Promise<M | null> {
    const member = await this.#directory.takeOver(proof, become);
    if (member !== null) this.#here.set(member.id, member);
    return member;
  }

  /** Shutdown: the held members go, unannounced, their graces stopped. */
  protected letHeldGo(): void {
    for (const member of this.holds.close()) this.leave(member, "shutdown");
  }

  /** The room's one decision about slow members: out, then closed. */
  protected dropSlow(members: readonly M[]): void {
    for (const member of members) {
      if (!this.has(member)) continue;
      this.leave(member, "slow");
      member.close("slow", SLOW_TEXT);
    }
  }
}
