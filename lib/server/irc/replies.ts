/**
 * The session's replies to what the IRC door asked for it, as numerics:
 * `WHO` as NAMES (353, 366) or WHO (352, 315), `ROOM` lines as LIST (322,
 * 323) or a channel's modes (324), `BAN` lines as its ban list (367, 368),
 * each ended by the `INFO` that ends the list; and every `ERR` as its
 * numeric, aimed at the channel or nick its text names (a `NOTICE` for
 * codes IRC has no numeric for). Pure.
 *
 * @module
 */

import type { ServerLine } from "../../server_lines.ts";
import { NO_ROOM_TEXT } from "../room/room_commands.ts";
import { nickOf } from "./names.ts";
import { answered, release } from "./in_order.ts";
import {
  type IrcSink,
  type IrcState,
  MEMBER_HOST,
  noSuchChannel,
  type Pending,
} from "./state.ts";

/** The numeric of each native `ERR` code that has one. */
const ERROR_NUMERICS: Readonly<Record<string, string>> = {
  "no-such-alias": "401",
  "room-invalid": "403",
  "no-such-room": "403",
  "muted": "404",
  "too-many-rooms": "405",
  // No room can be created now: the server's cap (`--max-rooms`), or the
  // member's creations this hour (`--room-creations`). Both pass: 437
  // ERR_UNAVAILRESOURCE, a channel temporarily unavailable, as Solanum
  // answers a channel it may not create now (irssi tries again in 5 min).
  "rooms-full": "437",
  "room-creations": "437",
  "line-too-long": "417",
  "unknown-command": "421",
  "alias-invalid": "432",
  "alias-reserved": "432",
  "alias-taken": "433",
  "not-in-room": "442",
  "password-wrong": "464",
  "login-failed": "464",
  "room-invite-only": "473",
  "room-banned": "474",
  "room-key": "475",
  // A look-alike's name is one the server refuses: 479 ERR_BADCHANNAME
  // ("Illegal channel name"), Solanum's for a reserved (RESV) name. irssi
  // shows its text (for 403 it shows "No such channel" alone).
  "room-taken": "479",
  "not-operator": "482",
  "not-permitted": "482",
};

/** 484's text: a rename of a member in no room (`/nick` needs one). */
export const NICK_REFUSED =
  "Cannot change nickname while in no channel: JOIN one first (a rename is announced in your channels)";

/** Numerics whose target is a channel; the others' is a nick. */
const ABOUT_CHANNEL = new Set([
  "403",
  "404",
  "405",
  "437",
  "442",
  "473",
  "474",
  "475",
  "479",
  "482",
]);

/**
 * A native `ERR` as its numeric (a `NOTICE` when IRC has none), aimed at
 * the channel or nick its text names; one ending a list the door asked
 * for ends it. Nothing for the refusal of a client's `NOTICE`.
 */
export function errorNumeric(
  state: IrcState,
  line: ServerLine<"ERR">,
  sink: IrcSink,
): void {
  // A NOTICE's refusal (muted, not in the room, nobody so called): none.
  if (state.noticing) return;
  // In no room at all: a `/nick`'s refusal (a rename is announced in the
  // member's rooms; every other line the door sends names its room). Its
  // text's `#room` is help: 484, RFC 2812's refusal of a NICK (before,
  // `442 me #room`, a channel nobody asked about).
  if (line.code === "not-in-room" && line.text === NO_ROOM_TEXT) {
    return sink.irc(state.numeric("484", NICK_REFUSED));
  }
  const room = /#[a-z0-9_-]+/.exec(line.text)?.[0] ?? null;
  // Another member not in the room (a KICK, +o): 441, no list's end.
  const them = /^"([A-Za-z0-9_.-]+)" is not in #/.exec(line.text)?.[1];
  if (line.code === "not-in-room" && them !== undefined) {
    return sink.irc(state.numeric("441", nickOf(them), room ?? "*", line.text));
  }
  // A list it may not see (a channel sync's `MODE #room b`): empty. Only
  // `/roombans` of the door's requests needs an operator (a `KICK`'s 482
  // is no answer to a `NAMES` pending).
  if (
    line.code === "not-in-room" ||
    line.code === "not-operator" && line.text.startsWith("/roombans ")
  ) {
    const asked = take(state, (p) => "room" in p && p.room === room, sink);
    // A topic is no list: 331 would say the room has none (442 below).
    if (asked !== undefined && asked.kind !== "topic") {
      return end(state, asked, sink);
    }
  }
  const numeric = ERROR_NUMERICS[line.code];
  if (numeric === undefined) return sink.irc(state.notice(line.text));
  if (ABOUT_CHANNEL.has(numeric)) {
    return sink.irc(state.numeric(numeric, room ?? "*", line.text));
  }
  if (numeric === "417" || numeric === "464") {
    return sink.irc(state.numeric(numeric, line.text));
  }
  const alias = /"([A-Za-z0-9_.-]+)"/.exec(line.text)?.[1];
  const target = numeric === "421" ? "*" : alias ? nickOf(alias) : state.nick;
  sink.irc(state.numeric(numeric, target, line.text));
}

/** Most requests pending ({@linkcode request}): more are answered at once. */
export const PENDING_MOST = 64;

/**
 * Asks the session `line` for `asked`, its reply pending; with
 * {@linkcode PENDING_MOST} pending already, answered at once as an empty
 * list (its end numeric: 366, 315, 323, 324 `+`, 368, 331).
 */
export function request(
  state: IrcState,
  asked: Pending,
  line: string,
  sink: IrcSink,
): void {
  if (state.pending.length >= PENDING_MOST) return end(state, asked, sink);
  state.pending.push(asked);
  sink.native(line);
}

/**
 * Takes out the first request `match` accepts, oldest first: answered, what
 * was held behind it goes once the session's line is translated. The
 * session answers in order, so a request of it before that one still
 * pending was never answered (nor will be): it is ended first as an empty
 * list, and what was held behind it sent.
 */
export function take(
  state: IrcState,
  match: (request: Pending) => boolean,
  sink: IrcSink,
): Pending | undefined {
  const asked = state.pending.find(match);
  if (asked === undefined) return undefined;
  endBefore(state, asked, sink);
  state.pending.splice(state.pending.indexOf(asked), 1);
  answered(state, asked);
  return asked;
}

/**
 * Ends (as empty lists) the requests of the session still pending before
 * `asked`, which the session is answering: it answers in order, so they
 * were never answered. What was held behind each goes after its end.
 */
function endBefore(state: IrcState, asked: Pending, sink: IrcSink): void {
  for (const skipped of state.pending.slice(0, state.pending.indexOf(asked))) {
    if (skipped.kind === "door") continue; // answered by the door
    state.pending.splice(state.pending.indexOf(skipped), 1);
    end(state, skipped, sink);
    answered(state, skipped);
    release(state, sink);
  }
}

/** What ends each list, by the `INFO` text the session ends it with. */
const LIST_ENDS: readonly [RegExp, (request: Pending) => boolean][] = [
  [
    /^\d+ rooms?( \(the busiest \d+: .*\))?$/,
    (p) => p.kind.startsWith("list") || p.kind.startsWith("mode"),
  ],
  [/^\d+ bans? in #/, (p) => p.kind === "bans"],
  [/^No topic is set$/, (p) => p.kind === "topic"],
];

/**
 * A line of a list the door asked for (`WHO`, `ROOM`, `BAN`, the `INFO`
 * that ends one), matched to the oldest request it answers: every request
 * is answered in order, so a reply's kind (and room) says which. False for
 * an `INFO` that ends nothing; a `ROOM` or `BAN` nobody asked for shows as
 * a `NOTICE`, a `WHO` as names.
 */
export function listReply(
  state: IrcState,
  line: ServerLine<"WHO" | "ROOM" | "BAN" | "INFO">,
  room: string | null,
  sink: IrcSink,
  time: string | null = null,
): boolean {
  if (line.type === "WHO") {
    const at = room ?? state.settings.defaultRoom;
    const asked = take(
      state,
      (p) => (p.kind === "names" || p.kind === "who") && p.room === at,
      sink,
    );
    members(
      state,
      asked?.kind === "who" ? "who" : "names",
      at,
      line.aliases,
      sink,
    );
    return true;
  }
  if (line.type === "INFO") return listEnd(state, line.text, sink);
  const asked = state.pending.find((p) =>
    line.type === "BAN" ? p.kind === "bans" : p.kind.startsWith("list") ||
      p.kind.startsWith("mode")
  );
  if (asked === undefined || asked.kind === "list" && line.type === "BAN") {
    sink.irc(state.notice(Object.values(line).slice(1).join(" ")));
    return true;
  }
  endBefore(state, asked, sink);
  if (asked.kind.startsWith("list") && line.type === "ROOM") {
    // `listed`: one channel of `LIST #a,#b` (323 follows the last).
    if ("room" in asked && line.room !== asked.room) return true;
    sink.irc(state.numeric("322", line.room, line.members, line.topic));
  } else if (asked.kind === "mode" && line.type === "ROOM") {
    if (line.room !== asked.room) return true;
    state.pending[state.pending.indexOf(asked)] = {
      ...asked,
      kind: "mode-sent",
    };
    const flags = line.flags.replace(/[^ki]/g, "");
    sink.irc(state.numeric("324", asked.room, `+${flags}`));
  } else if (asked.kind === "bans" && line.type === "BAN") {
    // Its setter and set time (optional, a pair) only when known (the
    // line's `@time=` tag): "0" would read as set in 1970.
    const mask = `${nickOf(line.target)}!*@*`;
    const at = unixTime(time);
    const setBy = at === null ? [] : [nickOf(line.by), at];
    sink.irc(state.numeric("367", asked.room, mask, ...setBy));
  }
  return true;
}

/**
 * The `INFO` that ends a list the door asked for (`text`), its end numeric
 * sent; false when it ends none. `MODE #room` of a room `/rooms #room`
 * found none of is 403.
 */
function listEnd(state: IrcState, text: string, sink: IrcSink): boolean {
  const [, match] = LIST_ENDS.find(([end]) => end.test(text)) ?? [];
  const asked = match ? take(state, match, sink) : undefined;
  if (asked === undefined) return false;
  if (asked.kind === "mode" && text.startsWith("0 rooms")) {
    noSuchChannel(state, asked.room, sink);
  } else end(state, asked, sink);
  return true;
}

/**
 * A line's `time` tag (UTC ISO 8601) in whole seconds since the epoch, as
 * 333 and 367 give a set time; null when there is none or it is no time.
 */
export function unixTime(time: string | null): string | null {
  const ms = time === null ? NaN : Date.parse(time);
  return Number.isNaN(ms) ? null : String(Math.floor(ms / 1000));
}

/**
 * The end numeric of a request the session answered (or refused); none for
 * a channel of `LIST #a,#b` (`listed`: the door ends the list, 323).
 */
function end(state: IrcState, asked: Pending, sink: IrcSink): void {
  if (asked.kind === "list") {
    return sink.irc(state.numeric("323", "End of /LIST"));
  }
  if (asked.kind === "door") return; // never matched: answered by the door
  const { room } = asked;
  if (asked.kind === "names") {
    sink.irc(state.numeric("366", room, "End of /NAMES list"));
  } else if (asked.kind === "who") {
    sink.irc(state.numeric("315", room, "End of /WHO list"));
  } else if (asked.kind === "mode") {
    sink.irc(state.numeric("324", room, "+"));
  } else if (asked.kind === "bans") {
    sink.irc(state.numeric("368", room, "End of channel ban list"));
  } else if (asked.kind === "topic") {
    sink.irc(state.numeric("331", room, "No topic is set"));
  }
}

/** A room's members (`WHO`'s aliases, `@` for operators) as names or who. */
function members(
  state: IrcState,
  kind: "names" | "who",
  room: string,
  aliases: string,
  sink: IrcSink,
): void {
  const names = aliases.split(" ").filter((a) => a !== "").map((alias) =>
    alias.startsWith("@") ? "@" + nickOf(alias.slice(1)) : nickOf(alias)
  );
  if (kind === "names") {
    for (let i = 0; i < names.length; i += 20) {
      sink.irc(
        state.numeric("353", "=", room, names.slice(i, i + 20).join(" ")),
      );
    }
    return sink.irc(state.numeric("366", room, "End of /NAMES list"));
  }
  for (const name of names) {
    const nick = name.replace(/^@/, "");
    const flags = name.startsWith("@") ? "H@" : "H";
    sink.irc(
      state.numeric(
        "352",
        room,
        nick,
        MEMBER_HOST,
        state.settings.server,
        nick,
        flags,
        `0 ${nick}`,
      ),
    );
  }
  sink.irc(state.numeric("315", room, "End of /WHO list"));
}
