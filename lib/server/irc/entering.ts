/**
 * A client's own entering of a channel, told once as its IRC `JOIN` (then
 * its names asked of the session, for 353 and 366). A room announces a
 * join one by one only up to `--announce-limit` members: above it nobody
 * gets the `JOIN`, the joiner of the default room neither. So the door
 * takes the first of the lines the session sends on entering any room (the
 * member's own `JOIN`, else the room's topic, its history, `CURRENT`) as
 * the entering, and the others as nothing more. In such a room, joins and
 * leaves are only counted (`PRESENCE`): the client is told once, with a
 * `NOTICE` to the channel, that its names go stale. Pure.
 *
 * @module
 */

import type { ServerLine } from "../../server_lines.ts";
import { request } from "./replies.ts";
import { type IrcSink, type IrcState, sourceOf } from "./state.ts";

/** The `NOTICE` to a channel whose joins and leaves are not shown. */
export function quietNotice(room: string): string {
  return `Joins and leaves in ${room} are not shown (too many members): NAMES ${room} lists who is in`;
}

/**
 * The client entered `room`: its `JOIN` and its names asked, unless it
 * was told already (then nothing). `shown`: the room shows joins (its own
 * `JOIN` came, at most `--announce-limit` members).
 */
export function entered(
  state: IrcState,
  room: string,
  shown: boolean,
  sink: IrcSink,
): void {
  if (room === "-" || state.joined.has(room)) return;
  state.joined.add(room);
  sink.irc({ source: sourceOf(state.nick), command: "JOIN", params: [room] });
  if (!shown) quiet(state, room, sink);
  request(state, { kind: "names", room }, `${room} /who`, sink);
}

/**
 * Enters the room a line of entering is about (`room`: its prefix, the
 * default room without one), when the client was not told yet; tells it
 * once of a room's `PRESENCE` that its joins and leaves are not shown.
 */
export function entering(
  state: IrcState,
  line: ServerLine,
  { room, seq }: { room: string | null; seq: number | null },
  sink: IrcSink,
): void {
  const at = room ?? state.settings.defaultRoom;
  switch (line.type) {
    case "TOPIC":
      // The topic from the log is a change, not an entering.
      if (seq === null) entered(state, at, false, sink);
      return;
    case "HIST":
    case "HISTEND":
      return entered(state, at, false, sink);
    case "CURRENT":
      return entered(state, line.room, false, sink);
    case "PRESENCE":
      if (state.joined.has(at)) quiet(state, at, sink);
  }
}

/** Says once per channel (until the client leaves it) that it is quiet. */
function quiet(state: IrcState, room: string, sink: IrcSink): void {
  if (state.quiet.has(room)) return;
  state.quiet.add(room);
  sink.irc({
    source: state.settings.server,
    command: "NOTICE",
    params: [room, quietNotice(room)],
  });
}

/** The client left `room` (parted, kicked): entering it again is news. */
export function left(state: IrcState, room: string): void {
  state.joined.delete(room);
  state.quiet.delete(room);
  state.keys.delete(room);
  state.topics.delete(room);
}
