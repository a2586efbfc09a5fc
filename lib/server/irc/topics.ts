/**
 * A channel's topic as an IRC client sees it: `TOPIC` when the log says it
 * changed; 332 and 333 (who set it, when) on joining or asked. The
 * session's topic on joining or asked carries the time it was set as its
 * `@time=` tag (the room's state keeps it, across restarts and servers);
 * one an earlier release kept carries none, and then 333 comes only when
 * this connection saw it set. Pure.
 *
 * @module
 */

import type { ServerLine } from "../../server_lines.ts";
import { nickOf } from "./names.ts";
import { take } from "./replies.ts";
import { type IrcSink, type IrcState, sourceOf } from "./state.ts";

/** What a `TOPIC` line carries besides its fields. */
export interface TopicContext {
  /** The channel (the default room's for a line without prefix). */
  readonly room: string;
  /** Its log number: a change; null: the topic on joining or asked. */
  readonly seq: number | null;
  /** Its `time` tag: the log's time, or when the topic was set. */
  readonly time: string | null;
}

/**
 * The topic: `TOPIC` when it changes; 332 on joining or asked, and 333 (who
 * set it, when) whenever that time is known (`IrcState.topicSetAt`): a
 * client would show 0 as 1970.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type IrcSink, IrcState } from "./state.ts";
 * import { topicLine } from "./topics.ts";
 * import { formatIrcLine } from "./parse.ts";
 *
 * const state = new IrcState({
 *   server: "tlschat", defaultRoom: "#lobby", announceLimit: 100, isupport: [],
 *   isAccount: () => false, holder: () => Promise.resolve(null),
 * });
 * state.nick = "amy";
 * const out: string[] = [];
 * const sink: IrcSink = {
 *   irc: (m) => void out.push(formatIrcLine(m)),
 *   native: () => {},
 *   close: () => {},
 * };
 * const line = { type: "TOPIC", alias: "opal", text: "Read the FAQ" } as const;
 * topicLine(state, line, {
 *   room: "#lobby", seq: null, time: "2026-12-07T21:00:00.000Z",
 * }, sink);
 * assert.deepEqual(out, [
 *   ":tlschat 332 amy #lobby :Read the FAQ",
 *   ":tlschat 333 amy #lobby opal :1796677200",
 * ]);
 * ```
 */
export function topicLine(
  state: IrcState,
  line: ServerLine<"TOPIC">,
  context: TopicContext,
  sink: IrcSink,
): void {
  const { room } = context;
  if (context.seq !== null) {
    const { alias: by, text } = line;
    if (context.time) state.topics.set(room, { by, text, time: context.time });
    return sink.irc({
      source: sourceOf(nickOf(line.alias)),
      command: "TOPIC",
      params: [room, line.text],
    });
  }
  take(state, (p) => p.kind === "topic" && p.room === room, sink);
  sink.irc(state.numeric("332", room, line.text));
  const { alias: by, text } = line;
  const at = state.topicSetAt(room, { by, text, time: context.time });
  if (at !== null) sink.irc(state.numeric("333", room, nickOf(by), at));
}
