/**
 * The end of a replay as IRC sees it: `HISTEND` closes the history's
 * `chathistory` batch; when the replay was cut (only the newest lines that
 * fit in half the member's queue were sent, `HISTEND`'s text says so) or a
 * catch-up left lines out (`RESUMED` with MISSING other than 0), a
 * `NOTICE` to the channel says so after the lines, since an IRC client
 * shows neither end line. The door offers no `/history`: the terminal
 * client and the web page fetch older lines. Pure.
 *
 * @module
 */

import type { ServerLine } from "../../server_lines.ts";
import { REPLAY_CUT } from "../room/replay.ts";
import type { IrcSink, IrcState } from "./state.ts";

/** The `NOTICE` to a channel whose history was cut to `count` messages. */
export function cutNotice(room: string, count: string): string {
  const where = "/history in the terminal client or the web page gets";
  if (count === "0") {
    return `History of ${room} not shown (none of it fit at once): ${where} it`;
  }
  const messages = `${count} message${count === "1" ? "" : "s"}`;
  return `History of ${room} cut to the newest ${messages} (those that fit at once): older ones are not shown here; ${where} them`;
}

/** `HISTEND` or `RESUMED` of `room`: the batch closed, a cut told. */
export function replayEnd(
  state: IrcState,
  line: ServerLine<"HISTEND"> | ServerLine<"RESUMED">,
  room: string,
  sink: IrcSink,
): void {
  if (line.type === "HISTEND" && state.batch !== null) {
    sink.irc({ command: "BATCH", params: [`-${state.batch.ref}`] });
    state.batch = null;
  }
  const text = line.type === "HISTEND"
    ? line.text.endsWith(REPLAY_CUT) ? cutNotice(room, line.count) : null
    : line.missing === "0"
    ? null
    : line.text;
  if (text === null) return;
  sink.irc({
    source: state.settings.server,
    command: "NOTICE",
    params: [room, text],
  });
}
