/**
 * The door's own answers to a registered client's commands, in the order
 * the commands came. Some are asked of the session (`IrcState.pending`,
 * answered in order), some the door gives at once (`NAMES` of a channel
 * the client is not in, 403, 461...), one once the directory told it
 * (`WHOIS`, `WHO nick`). An IRC client matches replies to its requests in
 * order, so an answer given while a request is pending is held behind the
 * newest one (its `after`) and sent right after that request's reply; an
 * answer from the directory goes once every request before it in the
 * queue was answered (or ended). At most
 * {@linkcode HELD_MOST} are held: more go at once. Pure.
 *
 * @module
 */

import type { IrcMessage } from "./parse.ts";
import type { IrcSink, IrcState, Pending } from "./state.ts";

/** Most answers held behind pending requests (more go at once). */
export const HELD_MOST = 256;

/** A sink whose answers come after those of the requests pending. */
export interface OrderedSink extends IrcSink {
  /**
   * Answers the directory gives: sent once `told` settles and it is first
   * in the queue; later answers wait for them.
   */
  later(told: Promise<IrcMessage[]>): Promise<void>;
}

/**
 * `sink`, its IRC lines held behind the requests pending in `state`: made
 * once per connection (`IrcConnection`), as the door's commands' sink.
 */
export function inOrder(state: IrcState, sink: IrcSink): OrderedSink {
  return {
    irc: (message) => hold(state, message, sink),
    native: (line) => sink.native(line),
    close: (text) => sink.close(text),
    later: (told) => {
      const asked: Pending = { kind: "door", lines: null };
      state.pending.push(asked);
      return told.then((lines) => {
        asked.lines = lines;
        release(state, sink);
      });
    },
  };
}

/** An answer, held behind the newest pending request if any. */
function hold(state: IrcState, message: IrcMessage, sink: IrcSink): void {
  const newest = state.pending.at(-1);
  if (newest === undefined || state.held >= HELD_MOST) {
    return sink.irc(message);
  }
  (newest.after ??= []).push(message);
  state.held++;
}

/**
 * A request was answered (taken out of the queue): what was held behind
 * it goes once its reply went ({@linkcode release}).
 */
export function answered(state: IrcState, asked: Pending): void {
  if (asked.after === undefined) return;
  state.released.push(...asked.after);
  state.held -= asked.after.length;
  asked.after = undefined;
}

/**
 * Sends what was held behind the requests answered, then each answer of
 * the directory at the head of the queue (and what was held behind it):
 * a request before it is answered first, or ended once a later one is
 * (`replies.ts`). Costs nothing when nothing waits (every line an IRC
 * member is sent comes through here).
 */
export function release(state: IrcState, sink: IrcSink): void {
  for (;;) {
    if (state.released.length > 0) {
      for (const message of state.released.splice(0)) sink.irc(message);
    }
    const head = state.pending[0];
    if (head?.kind !== "door" || head.lines === null) return;
    state.pending.shift();
    for (const message of head.lines) sink.irc(message);
    answered(state, head);
  }
}
