/**
 * The joins a log left in doubt (`unknown`: perhaps stored, perhaps not)
 * and what a member whose `JOIN` the log did not store hears. A doubt is
 * kept, with the id its `JOIN` went under, until a `JOIN` of that member
 * in that room is handed on: a `/join` of it meanwhile sends it again
 * under that id, so a log that stored the first after all does not store
 * it twice. Knows nothing of sockets; the router owns one.
 *
 * @module
 */

import type { ServerLine } from "../../server_lines.ts";
import type { Member } from "./member.ts";
import type { AppendOutcome, RoomLine, UnsentLine } from "./room_log.ts";
import type { Creation } from "./room_grants.ts";
import type { RoomSet } from "./rooms.ts";

/** A `JOIN` the log left in doubt (`unknown`), with the id it was sent under. */
export interface InDoubtJoin {
  readonly line: RoomLine;
  readonly id: string;
  /** The creation of its room then, if this server counted one. */
  readonly made?: Creation;
}

/** What the doubts need of the router's host. */
export interface DoubtsHost<M extends Member> {
  /** The members of this server, by id. */
  readonly here: ReadonlyMap<string, M>;
  /** Sends one line to one member. */
  send(member: M, line: ServerLine): void;
}

/** Each member's joins left in doubt, by room (see the module). */
export class JoinDoubts<M extends Member> {
  #rooms: RoomSet<M>;
  #host: DoubtsHost<M>;
  #inDoubt = new WeakMap<M, Map<string, InDoubtJoin>>();

  /** The doubts of the members of `host` in `rooms`. */
  constructor(rooms: RoomSet<M>, host: DoubtsHost<M>) {
    this.#rooms = rooms;
    this.#host = host;
  }

  /**
   * Lines the log did not store: their pending joins end (the member is
   * not in the room, as the log says), each joiner told why (see
   * {@linkcode joinUnsent}), and a room whose creation the log surely did
   * not take (`lookalike`: created first elsewhere; `refused`, `reused`,
   * `gone`), with nobody in it or joining it, goes. A resend of a `JOIN`
   * in doubt that the log refused leaves the doubt as it was (the first
   * may still land): told `unknown`, its room kept (one made again since
   * the first went, by the resend's `/join`, goes, its creation given
   * back: the first's still counts). One under an id the log holds for
   * another `JOIN` (`reused`: the first, as the alias before a rename) is
   * a `duplicate`: the member is in, or enters as the first is handed on.
   */
  lost(lost: readonly UnsentLine[], reported: AppendOutcome): void {
    // A JOIN's id is the server's: held by another line, it is a resend
    // of one in doubt under an alias renamed since, and the first is in.
    const outcome = reported === "reused" ? "duplicate" : reported;
    for (const { line, origin, id } of lost) {
      const state = this.#rooms.lost(line, origin);
      if (state === undefined) continue;
      const joiner = this.#host.here.get(origin);
      const known = joiner && this.of(joiner, state.name);
      // A resend of a JOIN in doubt, refused: the first may still land.
      const resent = known !== undefined && known.id === id &&
        outcome === "refused";
      const told = resent ? "unknown" : outcome;
      // Its room stays, unless made again since (the first went).
      const kept = resent ? known!.made === state.made : told === "unknown";
      if (!kept && told !== "duplicate") this.#rooms.refused(state);
      const fresh = outcome === "unknown" && id !== undefined;
      if (joiner && fresh && known?.id !== id) {
        const joins = this.#inDoubt.get(joiner) ?? new Map();
        const made = state.made;
        this.#inDoubt.set(joiner, joins.set(state.name, { line, id, made }));
      }
      const error = joinUnsent(state.name, told);
      if (joiner && error) this.#host.send(joiner, error);
    }
  }

  /**
   * The `JOIN` of `member` in room `name` left in doubt and not handed on
   * since, with its id: a `/join` again sends it again under that id, so
   * a log that stored it after all stores it not twice (a `duplicate`).
   */
  of(member: M, name: string): InDoubtJoin | undefined {
    return this.#inDoubt.get(member)?.get(name);
  }

  /** A `JOIN` of `member` in room `name` was handed on: no doubt left. */
  handedOn(member: M, name: string): void {
    this.#inDoubt.get(member)?.delete(name);
  }
}

/**
 * What a member whose `JOIN` of `room` the log did not store hears:
 * `unavailable` (surely not stored: not in, `/join` again later) or
 * `unknown` (perhaps stored: if it was, it enters as usual when the log
 * hands it on). None for the outcomes told elsewhere (`unsent.ts`): a
 * look-alike's `room-taken`, `gone`'s `BYE`; nor for a `duplicate` (in).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { joinUnsent } from "./join_doubts.ts";
 *
 * assert.equal(joinUnsent("#den", "refused")?.code, "unavailable");
 * assert.equal(joinUnsent("#den", "unknown")?.code, "unknown");
 * assert.equal(joinUnsent("#den", "lookalike"), null);
 * ```
 */
export function joinUnsent(
  room: string,
  outcome: AppendOutcome,
): ServerLine<"ERR"> | null {
  if (outcome === "unknown") {
    return {
      type: "ERR",
      code: "unknown",
      text:
        `Perhaps not in ${room}: the room's store stopped answering; if your join was stored, you will enter ${room} as usual; if not, /join ${room} again`,
    };
  }
  if (outcome !== "refused" && outcome !== "reused") return null;
  return {
    type: "ERR",
    code: "unavailable",
    text:
      `Cannot join ${room}: the room cannot store events right now; /join ${room} again later`,
  };
}
