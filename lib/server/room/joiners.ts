/**
 * A member's entry into the room, in the log's order: once the
 * directory gives it its alias, it is in and gets `WELCOME`;
 * what it must see first (its topic and history), or its drop when even
 * `WELCOME` did not fit its queue, waits until everyone got the `JOIN` it
 * enters in (a joiner enters in the step its `JOIN` is handed on, and does
 * not get that `JOIN`). Holds no member itself: it adds the joiner to the
 * room's.
 *
 * @module
 */

import type { ServerLine } from "../../server_lines.ts";
import type { Member } from "./member.ts";
import type { RoomStats } from "./room_options.ts";
import type { RoomSet } from "./rooms.ts";

/** What {@linkcode Joiners} uses of the room. */
export interface JoinersOptions<M extends Member> {
  /** The members of this server by id: a joiner is added to them. */
  readonly here: Map<string, M>;
  /** The rooms (the router's, made after this). */
  readonly rooms: () => RoomSet<M>;
  /** The room's counters: joins, its peak of members. */
  readonly stats: RoomStats;
  /** A line encoded once (the fan-out's). */
  readonly encode: (line: ServerLine) => Uint8Array;
  /** Drops members whose queue is full. */
  readonly dropSlow: (members: readonly M[]) => void;
}

/** Members entering the room, each in the step its `JOIN` is handed on. */
export class Joiners<M extends Member> {
  #options: JoinersOptions<M>;
  /** The directory is being told of a log event (see {@linkcode during}). */
  #storing = false;
  /**
   * What members who entered in that event do once everyone got it (their
   * topic and history, or being dropped); made only when one did.
   */
  #entered: (() => void)[] | null = null;

  /** Nobody entering yet. */
  constructor(options: JoinersOptions<M>) {
    this.#options = options;
  }

  /**
   * The directory gave `member` its alias: it is in, and gets `WELCOME`;
   * then (once everyone got the `JOIN` it is entering in) what it must see
   * first (`onEnter`). One that cannot take even its `WELCOME` is dropped.
   */
  enter(member: M, onEnter?: () => void): void {
    const { here, stats } = this.#options;
    here.set(member.id, member);
    const rooms = this.#options.rooms();
    rooms.enterServer(member);
    const welcome: ServerLine = {
      type: "WELCOME",
      alias: member.alias,
      // The default room's members (those who parted it not).
      online: String(rooms.default.everyone.size),
      text: "Type /help for commands",
    };
    const fits = member.deliver(this.#options.encode(welcome));
    if (fits) {
      stats.joins++;
      stats.peakMembers = Math.max(stats.peakMembers, here.size);
    }
    const then = fits
      ? () => onEnter?.()
      : () => this.#options.dropSlow([member]);
    if (this.#storing) (this.#entered ??= []).push(then);
    else then();
  }

  /**
   * Runs `tell` (the directory told of a log event, in which members may
   * enter) and returns what those members do once everyone got the event:
   * call it after the event's fan-out. Null when nobody entered.
   */
  during(tell: () => void): (() => void)[] | null {
    this.#storing = true;
    try {
      tell();
    } finally {
      this.#storing = false;
    }
    const entered = this.#entered;
    this.#entered = null;
    return entered;
  }
}
