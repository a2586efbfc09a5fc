/**
 * One call of the cluster's `append` script, in TypeScript: a batch's
 * lines as the script's arguments (twelve per line, `scripts.ts`), and its
 * answer sorted into what was stored and why the rest was not. A line with
 * a room's record or expiry carries the room's look-alike key, so that
 * Redis refuses, in the same step, a room whose name looks like one it
 * knows (two servers creating `#look` and `#l0ok` at the same instant).
 *
 * @module
 */

import {
  type AppendOutcome,
  type EventEffect,
  lineSign,
  type RoomLine,
  type StoredAt,
} from "../room/room_log.ts";
import { roomSkeleton } from "../room/room_state.ts";
import { storedEffect, storedLine } from "../room/stored_event.ts";

/** A line waiting to be appended, or sent and not answered. */
export interface PendingLine {
  readonly time: number;
  readonly line: RoomLine;
  readonly origin: string;
  readonly effect?: EventEffect;
  /** Its room (none: the default room). */
  readonly room?: string;
  /** The member a `MOD` names, by id (`RoomEvent.target`). */
  readonly target?: string;
  readonly id: string;
  /** Tells this append from any other (kept across its retries). */
  readonly tag: string;
  /** The room its creation looks like (Redis refused it: `lookalike`). */
  taken?: string;
  /** The line stored first under its id (Redis said `duplicate`). */
  first?: StoredAt;
}

/** The `append` script's arguments for `batch`, keeping `idsKept` ids. */
export function appendArgs(
  batch: readonly PendingLine[],
  idsKept: number,
): string[] {
  const args = [String(idsKept)];
  for (const { time, line, origin, effect, room, id, tag, target } of batch) {
    const alias = line.type === "MOD" ? line.by : line.alias;
    const stored = effect && storedEffect(effect);
    const json = target === undefined
      ? JSON.stringify(line)
      : storedLine(line, undefined, undefined, target);
    args.push(String(time), origin, alias, json);
    args.push(stored?.kind ?? "", stored?.value ?? "");
    args.push(id, lineSign(line), tag, room ?? "", line.type);
    const keyed = stored?.kind === "room" || stored?.kind === "expire";
    args.push(room !== undefined && keyed ? roomSkeleton(room) : "");
  }
  return args;
}

/**
 * The lines of `batch` the script did not store, by why (its `results`,
 * one per line: a number for a line stored): the outcomes with none are
 * left out. A look-alike's creation is `lookalike`, the room it looks
 * like in its `taken`; an answer this release does not know, `refused`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unstored } from "./append_batch.ts";
 *
 * const line = { type: "JOIN", alias: "amy", online: "1" } as const;
 * const batch = [1, 2].map((n) => ({ time: n, line, origin: "s/1", id: `${n}`, tag: "t" }));
 * const sorted = unstored(batch, [7, "lookalike:#look"]);
 * assert.deepEqual([...sorted.keys()], ["lookalike"]);
 * assert.equal(sorted.get("lookalike")?.[0]?.taken, "#look");
 * // A resend: the line stored first under its id is number 5, taken at 9.
 * const resent = unstored(batch.slice(0, 1), ["duplicate:5:9"]);
 * assert.deepEqual(resent.get("duplicate")?.[0]?.first, { seq: 5, time: 9 });
 * // Its stream entry trimmed: number and time not known.
 * const trimmed = unstored([{ ...batch[1]! }], ["duplicate:6:"]);
 * assert.equal(trimmed.get("duplicate")?.[0]?.first, undefined);
 * ```
 */
export function unstored(
  batch: readonly PendingLine[],
  results: readonly (number | string)[],
): Map<AppendOutcome, PendingLine[]> {
  const sorted = new Map<AppendOutcome, PendingLine[]>();
  for (const [i, pending] of batch.entries()) {
    const result = results[i];
    if (typeof result === "number") continue;
    let outcome: AppendOutcome = "refused";
    if (
      result === "gone" || result === "reused" || result === "outside" ||
      result === "muted"
    ) {
      outcome = result;
    } else if (result?.startsWith("duplicate")) {
      // `duplicate:SEQ:TIME` (TIME empty once trimmed; a bare `duplicate`
      // from an older script).
      outcome = "duplicate";
      const [, seq, time] = result.split(":").map(Number);
      if (seq! > 0 && time! > 0) pending.first = { seq: seq!, time: time! };
    } else if (result?.startsWith("lookalike:")) {
      outcome = "lookalike";
      pending.taken = result.slice("lookalike:".length);
    }
    sorted.set(outcome, [...sorted.get(outcome) ?? [], pending]);
  }
  return sorted;
}
