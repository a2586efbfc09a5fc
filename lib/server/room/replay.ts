/**
 * History replay: the last messages and actions of the log as `HIST`
 * lines, each encoded once and kept while its event is, and never more
 * than a {@linkcode ReplayBudget} allows (the newest that fit). The
 * replays and catch-ups a member is sent in one go (its rooms at login, or
 * at a takeover) share one budget, half its queue: together they never
 * make it too slow.
 *
 * @module
 */

import { formatServerLine, type ServerLine } from "../../server_lines.ts";
import type { RoomEvent } from "./room_log.ts";

const encoder = new TextEncoder();

/**
 * What ends a `HISTEND` text when the replay was cut: the newest lines
 * that fit in the budget were sent, older ones were left out.
 */
export const REPLAY_CUT = "(the newest that fit at once)";

/**
 * Bytes that the replays and catch-ups sent in one go may still take:
 * each takes its lines (not its end line, `HISTEND` or `RESUMED`).
 */
export interface ReplayBudget {
  left: number;
}

/** The `HIST` lines of recent events, bounded in bytes. */
export class Replay {
  /** Each replayed event's `HIST` line, encoded once. */
  #histLines = new WeakMap<RoomEvent, Uint8Array>();
  /** The same, with its `#room ` prefix (for members with `rooms`). */
  #roomsOn = new WeakMap<RoomEvent, Uint8Array>();

  /**
   * The `HIST` lines of `events` (oldest first), the newest that fit in
   * what `budget` has left (taken from it), oldest first.
   */
  lines(
    events: readonly RoomEvent[],
    budget: ReplayBudget,
    room?: string,
  ): Uint8Array[] {
    const cache = room === undefined ? this.#histLines : this.#roomsOn;
    const lines: Uint8Array[] = [];
    let bytes = 0;
    for (let i = events.length - 1; i >= 0; i--) {
      const event = events[i]!;
      let line = cache.get(event);
      if (line === undefined) {
        const text = formatServerLine(historyLine(event));
        line = encoder.encode(
          room === undefined ? `${text}\n` : `${room} ${text}\n`,
        );
        cache.set(event, line);
      }
      if (bytes + line.length > budget.left) break;
      bytes += line.length;
      lines.push(line);
    }
    budget.left -= bytes;
    return lines.reverse();
  }
}

/** A stored message or action as a `HIST` line. */
function historyLine(event: RoomEvent): ServerLine<"HIST"> {
  const line = event.line as ServerLine<"MSG" | "ME">;
  return {
    type: "HIST",
    seq: String(event.seq),
    time: new Date(event.time).toISOString(),
    kind: line.type,
    alias: line.alias,
    text: line.text,
  };
}
