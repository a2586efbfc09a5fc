// @ts-check
/**
 * The server's lines as the reducer (`state.js`) takes them: which
 * handler each goes to. Those of every phase (the greeting, the
 * password asked, the welcome, `CAP`, `RESUME`, `ERR`, `BYE`, `PING`) are
 * here; once joined, a line goes through the backfill (`backfill.js`),
 * the outbox's echoes (`outbox.js`), the log's numbers (`resume.js`) and
 * search, then to the rooms' handlers (`in_room.js`), and its entry
 * (`entries.js`) to its room's log. Lines before joining are
 * `joining.js`'s. Pure.
 *
 * @module
 */

import { backfilled, backfillRefused } from "./backfill.js";
import { effect, send, unchanged } from "./effects.js";
import { entryFor, errorLine, notice, told } from "./entries.js";
import { localEnds } from "./local_times.js";
import { ROOM_LINES, show } from "./in_room.js";
import {
  afterBye,
  hello,
  joined,
  passwordAsked,
  refused,
  resumeRefused,
} from "./joining.js";
import { echoed, outboxRefused } from "./outbox.js";
import { formatLine, pongCommand } from "./protocol.js";
import {
  isPast,
  isRepeat,
  readMarker,
  record,
  releaseStarted,
  resumed,
  resumeToken,
} from "./resume.js";
import { foundEnd, foundLine, searchRefused } from "./search.js";
import { answersPageJoin, refusal } from "./rooms_asked.js";
import { typedAnswered } from "./typed.js";

/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./effects.js").Handler} Handler */
/** @typedef {import("./effects.js").LineContext} LineContext */
/** @typedef {import("./state.js").State} State */

/**
 * A `BYE`'s text said as a disconnection once: many of the server's texts
 * begin with "Disconnected:" already. The server's text is isolated (it
 * may hold someone's words).
 * @param {string} text
 */
function disconnected(text) {
  return text.startsWith("Disconnected:")
    ? told`${text}`
    : told`Disconnected: ${text}`;
}

/** Lines handled in every phase. @type {ReadonlyMap<string, Handler>} */
const ALWAYS = new Map(
  /** @type {[string, Handler][]} */ ([
    ["HELLO", hello],
    ["PASSWORD", passwordAsked],
    ["WELCOME", joined],
    // The capabilities asked for at the greeting, before the alias.
    [
      "CAP",
      (state, line, at) =>
        state.phase === "joined"
          ? show(state, notice(told`${formatLine(line)}`, new Date(at.now)))
          : {
            ...state,
            roomsOn: line.caps.split(" ").includes("rooms"),
            idsOn: line.caps.split(" ").includes("ids"),
            seqOn: line.caps.split(" ").includes("seq"),
          },
    ],
    ["RESUME", resumeToken],
    ["ERR", (was, line, at) => {
      const refusedLine = outboxRefused(was, line);
      if (refusedLine !== null) return refusedLine;
      // Throttled: the page's pace and the server's clock disagree.
      const state = line.code === "flood"
        ? effect(was, { holdBack: true })
        : was;
      if (line.code === "resume-expired" || state.phase === "resuming") {
        return resumeRefused(state);
      }
      const quiet = searchRefused(state, line) ?? backfillRefused(state, line);
      if (quiet !== null) return quiet;
      if (state.phase !== "joined") return refused(state, line.text);
      // A refused /join: shown labelled with its room.
      return refusal(
        state,
        line,
        errorLine(told`! ${line.text}`, new Date(at.now)),
      );
    }],
    ["BYE", (state, line, at) => {
      const next = afterBye(state, line.reason);
      return state.phase === "joined"
        ? show(next, errorLine(disconnected(line.text), new Date(at.now)))
        : { ...next, joinError: line.text };
    }],
    // An idle reader is still here: the server drops silent members.
    ["PING", (state, line) => send(state, pongCommand(line.token))],
  ]),
);

/**
 * A server line: its handler's state, its entry in its room's log; once
 * joined, an answer to a line the user typed without an id (`typed.js`).
 * @param {State} before @param {Line} line @param {LineContext} at
 * @returns {State}
 */
export function received(before, line, at) {
  const state = before.phase === "joined"
    ? typedAnswered(before, line, answersPageJoin(before, line))
    : before;
  const always = ALWAYS.get(line.type);
  if (always) return always(state, localEnds(line), at); // ends: local time
  if (state.phase !== "joined") {
    return line.type === "INFO" ? { ...state, joinError: line.text } : state;
  }
  const filled = backfilled(state, line, at);
  if (filled !== null) return filled;
  // An echo of a line the outbox holds is the page's own: shown though
  // numbered below the page's rejoin (its echo again after a resend).
  const mine = line.id !== "" && state.outbox.some((o) => o.id === line.id);
  const { state: was, line: own } = echoed(state, line);
  if (own === null || (!mine && isRepeat(was, own))) return was;
  const handle = isPast(was, own)
    ? unchanged
    : JOINED_LINES.get(own.type) ?? ROOM_LINES.get(own.type);
  const changed = (handle ?? unchanged)(was, own, at);
  return record(changed, own, entryFor(own, new Date(at.now)));
}

/** Lines of the log's numbers and of search, once joined. */
const JOINED_LINES = new Map(
  /** @type {[string, Handler][]} */ ([
    ["RESUMED", resumed],
    ["CURRENT", (state, line, at) => {
      const current = /** @type {Handler} */ (ROOM_LINES.get("CURRENT"));
      return current(releaseStarted(state), line, at);
    }],
    ["READ", readMarker],
    ["FOUND", foundLine],
    ["FOUNDEND", foundEnd],
  ]),
);
