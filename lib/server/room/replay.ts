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

import {
  formatServerLine,
  isNotice,
  markNotice,
  noticeForm,
  type ServerLine,
} from "../../server_lines.ts";
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
  /**
   * Each replayed event's `HIST` line, encoded once: as it is, with its
   * `#room ` prefix (for members with `rooms`), and a notice's in its
   * notice form (for members with `notice`), without and with the prefix.
   */
  #caches = [0, 1, 2, 3].map(() => new WeakMap<RoomEvent, Uint8Array>());

  /**
   * The `HIST` lines of `events` (oldest first), the newest that fit in
   * what `budget` has left (taken from it), oldest first; `notice`: for a
   * member with `notice` (a notice's in its form, `noticeForm`).
   */
  lines(
    events: readonly RoomEvent[],
    budget: ReplayBudget,
    room?: string,
    notice = false,
  ): Uint8Array[] {
    const lines: Uint8Array[] = [];
    let bytes = 0;
    for (let i = events.length - 1; i >= 0; i--) {
      const event = events[i]!;
      const asNotice = notice && isNotice(event.line);
      const cache = this
        .#caches[(room === undefined ? 0 : 1) + (asNotice ? 2 : 0)]!;
      let line = cache.get(event);
      if (line === undefined) {
        const hist = historyLine(event);
        const text = formatServerLine(asNotice ? noticeForm(hist) : hist);
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

/** A stored message or action as a `HIST` line (a notice's marked). */
function historyLine(event: RoomEvent): ServerLine<"HIST"> {
  const line = event.line as ServerLine<"MSG" | "ME">;
  return markNotice({
    type: "HIST",
    seq: String(event.seq),
    time: new Date(event.time).toISOString(),
    kind: line.type,
    alias: line.alias,
    text: line.text,
  }, isNotice(line));
}
