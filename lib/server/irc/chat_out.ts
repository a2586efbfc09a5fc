/**
 * The chat lines of the IRC door's output: native messages and actions
 * (`MSG`, `ME`) into `PRIVMSG` (actions as CTCP `ACTION`), private
 * messages (`PRIV`, `SENT`) into `PRIVMSG`, notices (`NOTICE`,
 * `PRIVNOTICE`, `SENTNOTICE`: the session has `notice`) into `NOTICE` from
 * the same source, history (`HIST`) into `PRIVMSG` (kind `NOTICE`:
 * `NOTICE`) with `@time` in a `chathistory` batch (its end, and a cut one
 * told in a `NOTICE`: `replay_end.ts`, from `outbound.ts`). The session's echo of the client's own
 * message (it carries the line's id) reaches it only with `echo-message`.
 * Pure.
 *
 * @module
 */

import type { ServerLine } from "../../server_lines.ts";
import { nickOf } from "./names.ts";
import { type IrcSink, type IrcState, sourceOf } from "./state.ts";

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

/**
 * Messages, actions, notices, private messages and history; false for
 * others.
 */
export function chatLine(
  state: IrcState,
  line: ServerLine,
  context: Context,
  sink: IrcSink,
): boolean {
  const { room } = context;
  const notice = line.type.includes("NOTICE");
  switch (line.type) {
    case "MSG":
    case "ME":
    case "NOTICE":
      // Its own line's echo carries its id: for echo-message only.
      if (context.id !== null && !state.caps.has("echo-message")) return true;
      say({
        from: nickOf(line.alias),
        to: room ?? state.settings.defaultRoom,
        text: line.text,
        action: line.type === "ME",
        notice,
        tags: tagsOf(state, context),
      }, sink);
      return true;
    case "PRIV":
    case "PRIVNOTICE": {
      const { alias, text } = line;
      say({ from: nickOf(alias), to: state.nick, text, notice }, sink);
      return true;
    }
    case "SENT":
    case "SENTNOTICE":
      if (state.caps.has("echo-message")) {
        const { alias, text } = line;
        say({ from: state.nick, to: nickOf(alias), text, notice }, sink);
      }
      return true;
    case "HIST":
      history(state, line, room ?? state.settings.defaultRoom, sink);
      return true;
  }
  return false;
}

/**
 * A history line: `PRIVMSG` (a notice's `NOTICE`) with its time, in a
 * batch when asked for.
 */
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
    notice: line.kind === "NOTICE",
    tags: tagsOf(state, { id: null, time: line.time }),
  }, sink);
}

/** One message to say, as `PRIVMSG` (`notice`: as `NOTICE`). */
interface Said {
  readonly from: string;
  readonly to: string;
  readonly text: string;
  readonly action?: boolean;
  readonly notice?: boolean;
  readonly tags?: Record<string, string> | undefined;
}

/**
 * Says a message as `PRIVMSG`, a notice as `NOTICE`, from the same source
 * (over several lines when it is long: the connection's `formatIrcLines`
 * splits it).
 */
function say(said: Said, sink: IrcSink): void {
  const text = said.action ? `\x01ACTION ${said.text}\x01` : said.text;
  sink.irc({
    ...(said.tags ? { tags: said.tags } : {}),
    source: sourceOf(said.from),
    command: said.notice ? "NOTICE" : "PRIVMSG",
    params: [said.to, text],
  });
}
