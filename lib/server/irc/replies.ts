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
import { nickOf } from "./names.ts";
import { type IrcSink, type IrcState, MEMBER_HOST } from "./state.ts";

/** The numeric of each native `ERR` code that has one. */
const ERROR_NUMERICS: Readonly<Record<string, string>> = {
  "no-such-alias": "401",
  "room-invalid": "403",
  "no-such-room": "403",
  "muted": "404",
  "too-many-rooms": "405",
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
  "not-operator": "482",
  "not-permitted": "482",
};

/** Numerics whose target is a channel; the others' is a nick. */
const ABOUT_CHANNEL = new Set([
  "403",
  "404",
  "405",
  "442",
  "473",
  "474",
  "475",
  "482",
]);

/**
 * Sends the numeric of an `ERR` (its text as the numeric's), aimed at the
 * room or the `"alias"` its text names; a `NOTICE` for codes without one.
 * A refusal of the door's own request (a ban list for a member who is no
 * operator) is only the end of the list it asked for.
 */
export function errorNumeric(
  state: IrcState,
  line: ServerLine<"ERR">,
  sink: IrcSink,
): void {
  const room = /#[a-z0-9_-]+/.exec(line.text)?.[0] ?? null;
  const front = state.pending[0];
  if (
    front !== undefined && front.kind !== "list" && front.room === room &&
    (line.code === "not-in-room" || line.code === "not-operator")
  ) {
    // A list it may not see (a channel sync's `MODE #room b`): empty.
    return endList(state, sink);
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

/**
 * A line of a list the door asked for (`WHO`, `ROOM`, `BAN`, the `INFO`
 * that ends one); false when none was asked for (a `ROOM` or `BAN` then
 * shows as a `NOTICE`, a `WHO` as names).
 */
export function listReply(
  state: IrcState,
  line: ServerLine<"WHO" | "ROOM" | "BAN" | "INFO">,
  room: string | null,
  sink: IrcSink,
): boolean {
  const front = state.pending[0];
  if (line.type === "WHO") {
    const at = room ?? state.settings.defaultRoom;
    const kind = front?.kind === "who" && front.room === at ? "who" : "names";
    if (front?.kind === kind && front.room === at) state.pending.shift();
    members(state, kind, at, line.aliases, sink);
    return true;
  }
  if (front === undefined || front.kind === "names" || front.kind === "who") {
    if (line.type !== "INFO") {
      sink.irc(state.notice(Object.values(line).slice(1).join(" ")));
    }
    return line.type !== "INFO";
  }
  if (line.type === "INFO") return endList(state, sink), true;
  if (line.type === "ROOM" && front.kind === "list") {
    sink.irc(state.numeric("322", line.room, line.members, line.topic));
  } else if (line.type === "ROOM" && front.kind === "mode") {
    if (line.room === front.room) {
      state.pending[0] = { ...front, kind: "mode-sent" };
      const flags = line.flags.replace(/[^ki]/g, "");
      sink.irc(state.numeric("324", front.room, `+${flags}`));
    }
  } else if (line.type === "BAN" && front.kind === "bans") {
    sink.irc(
      state.numeric(
        "367",
        front.room,
        `${nickOf(line.target)}!*@*`,
        nickOf(line.by),
        "0",
      ),
    );
  }
  return true;
}

/** Ends the list at the front of what was asked for: its end numeric. */
function endList(state: IrcState, sink: IrcSink): void {
  const front = state.pending.shift();
  if (front === undefined) return;
  if (front.kind === "list") {
    return sink.irc(state.numeric("323", "End of /LIST"));
  }
  const { room } = front;
  if (front.kind === "names") {
    sink.irc(state.numeric("366", room, "End of /NAMES list"));
  } else if (front.kind === "who") {
    sink.irc(state.numeric("315", room, "End of /WHO list"));
  } else if (front.kind === "mode") {
    sink.irc(state.numeric("324", room, "+"));
  } else if (front.kind === "bans") {
    sink.irc(state.numeric("368", room, "End of channel ban list"));
  } else if (front.kind === "topic") {
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
