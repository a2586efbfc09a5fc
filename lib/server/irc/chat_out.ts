/**
 * The chat lines of the IRC door's output: native messages and actions
 * (`MSG`, `ME`) into `PRIVMSG` (actions as CTCP `ACTION`), private
 * messages (`PRIV`, `SENT`) into `PRIVMSG`, history (`HIST`) into
 * `PRIVMSG` with `@time` in a `chathistory` batch (a cut one told in a
 * `NOTICE`: `replay_end.ts`). The session's echo of the client's own
 * message (it carries the line's id) reaches it only with `echo-message`.
 * Pure.
 *
 * @module
 */

import type { ServerLine } from "../../server_lines.ts";
import { nickOf } from "./names.ts";
import { type IrcSink, type IrcState, sourceOf } from "./state.ts";
import { replayEnd } from "./replay_end.ts";

/** What a native line carries besides its fields. */
export interface Context {
  readonly room: string | null;
  readonly id: string | null;
  readonly seq: number | null;
  readonly time: string | null;
}

/** The IRC tags of a line: its time, its id, its batch, as turned on. */
function tagsOf(
  state: IrcState,
  { id, time }: { id: string | null; time: string | null },
): Record<string, string> | undefined {
  const tags: Record<string, string> = {};
  if (state.batch !== null && state.caps.has("batch")) {
    tags.batch = state.batch.ref;
  }
  if (time !== null && state.caps.has("server-time")) tags.time = time;
  if (id !== null && state.caps.has("message-tags")) tags.msgid = id;
  return Object.keys(tags).length > 0 ? tags : undefined;
}

/** Messages, actions, private messages and history; false for others. */
export function chatLine(
  state: IrcState,
  line: ServerLine,
  context: Context,
  sink: IrcSink,
): boolean {
  const { room } = context;
  switch (line.type) {
    case "MSG":
    case "ME":
      // Its own line's echo carries its id: for echo-message only.
      if (context.id !== null && !state.caps.has("echo-message")) return true;
      say({
        from: nickOf(line.alias),
        to: room ?? state.settings.defaultRoom,
        text: line.text,
        action: line.type === "ME",
        tags: tagsOf(state, context),
      }, sink);
      return true;
    case "PRIV":
      say({ from: nickOf(line.alias), to: state.nick, text: line.text }, sink);
      return true;
    case "SENT":
      if (state.caps.has("echo-message")) {
        say({
          from: state.nick,
          to: nickOf(line.alias),
          text: line.text,
        }, sink);
      }
      return true;
    case "HIST":
      history(state, line, room ?? state.settings.defaultRoom, sink);
      return true;
    case "HISTEND":
    case "RESUMED":
      replayEnd(state, line, room ?? state.settings.defaultRoom, sink);
      return true;
  }
  return false;
}

/** A history line: `PRIVMSG` with its time, in a batch when asked for. */
function history(
  state: IrcState,
  line: ServerLine<"HIST">,
  room: string,
  sink: IrcSink,
): void {
  if (state.batch === null && state.caps.has("batch")) {
    state.batch = { ref: `h${++state.batches}`, room };
    sink.irc({
      command: "BATCH",
      params: [`+${state.batch.ref}`, "chathistory", room],
    });
  }
  say({
    from: nickOf(line.alias),
    to: room,
    text: line.text,
    action: line.kind === "ME",
    tags: tagsOf(state, { id: null, time: line.time }),
  }, sink);
}

/** One message to say, as `PRIVMSG`. */
interface Said {
  readonly from: string;
  readonly to: string;
  readonly text: string;
  readonly action?: boolean;
  readonly tags?: Record<string, string> | undefined;
}

/**
 * Says a message as `PRIVMSG` (over several lines when it is long: the
 * connection's `formatIrcLines` splits it).
 */
function say(said: Said, sink: IrcSink): void {
  const text = said.action ? `\x01ACTION ${said.text}\x01` : said.text;
  sink.irc({
    ...(said.tags ? { tags: said.tags } : {}),
    source: sourceOf(said.from),
    command: "PRIVMSG",
    params: [said.to, text],
  });
}
