/**
 * A registered IRC client's commands as native lines for its session (a
 * client with `rooms`: room lines start with `#room`), or answered by the
 * door itself: `PRIVMSG`/`NOTICE` to a channel or a nick (CTCP `ACTION` as
 * `/me`, other CTCP dropped), `JOIN`, `PART`,
 * `TOPIC`, `NAMES`, `WHO`, `WHOIS`, `MODE`, `KICK`, `INVITE`, `LIST`,
 * `NICK`, `PONG`, `QUIT`, formatting codes stripped from every text.
 * Anything else gets 421 (`AWAY` too: there is no away state to tell
 * anyone of), a missing parameter 461.
 * Pure: what to send goes to an {@linkcode IrcSink} (`WHOIS`'s answer once
 * the directory, `IrcSettings.holder`, said who holds the nick), the
 * door's answers in the order of the commands (`in_order.ts`).
 *
 * @module
 */

import { fitKick, fitTopic } from "./isupport.ts";
import type { OrderedSink } from "./in_order.ts";
import { aliasOf, nickOf, roomOf, takeableAlias } from "./names.ts";
import type { IrcMessage } from "./parse.ts";
import { mode } from "./modes.ts";
import { request } from "./replies.ts";
import {
  inRoom,
  type IrcSink,
  type IrcState,
  MEMBER_HOST,
  needMore,
  noSuchChannel,
} from "./state.ts";

/**
 * IRC formatting codes (bold, colours, hex colours, reset, monospace,
 * reverse, italics, strikethrough, underline): stripped from every text an
 * IRC client sends (messages, topics, kick, part and quit reasons), so that
 * others get neither control bytes nor U+FFFD and stray colour digits.
 */
const FORMATTING =
  // deno-lint-ignore no-control-regex
  /\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;

/**
 * Text without IRC formatting codes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stripFormatting } from "./inbound.ts";
 *
 * assert.equal(stripFormatting("\x02bold\x02 \x0304,12red\x03 x"), "bold red x");
 * ```
 */
export function stripFormatting(text: string): string {
  return text.replace(FORMATTING, "");
}

/** The least parameters each command needs. */
const NEEDS: Readonly<Record<string, number>> = {
  JOIN: 1,
  PART: 1,
  TOPIC: 1,
  KICK: 2,
  INVITE: 2,
  MODE: 1,
  NICK: 1,
};

/** The commands of a registered client, each one's translation. */
const COMMANDS: Readonly<
  Record<
    string,
    (state: IrcState, params: readonly string[], sink: OrderedSink) => void
  >
> = {
  PRIVMSG: (state, params, sink) => message(state, params, sink.irc, sink),
  // Never answered with an error (RFC 2812 3.3.2, as servers do).
  NOTICE: (state, params, sink) => message(state, params, null, sink),
  JOIN: join,
  PART: (state, [channels = "", reason = ""], sink) => {
    for (const channel of channels.split(",")) {
      const room = roomOf(channel);
      if (room === null) noSuchChannel(state, channel, sink);
      else sink.native(`/part ${room} ${stripFormatting(reason)}`.trimEnd());
    }
  },
  TOPIC: (state, [channel = "", text], sink) => {
    const room = inRoom(state, channel, sink);
    if (room === null) return;
    if (text === "") {
      // `/topic` alone shows it: a topic is only replaced here.
      return sink.irc(state.notice(`${room}: a topic cannot be cleared here`));
    }
    if (text !== undefined) {
      const topic = fitTopic(stripFormatting(text), state.settings.server);
      return sink.native(`${room} /topic ${topic}`);
    }
    request(state, { kind: "topic", room }, `${room} /topic`, sink);
  },
  NAMES: (state, [channels = state.settings.defaultRoom], sink) => {
    for (const channel of channels.split(",")) {
      ask(state, "names", channel, sink);
    }
  },
  WHO: (state, [mask = ""], sink) =>
    mask.startsWith("#") || aliasOf(mask) === null
      ? ask(state, "who", mask, sink)
      : void whoNick(state, mask, sink),
  WHOIS: (state, params, sink) =>
    !params.at(-1)
      ? sink.irc(state.numeric("431", "No nickname given"))
      : void whois(state, params, sink),
  MODE: mode,
  KICK: kick,
  INVITE: (state, [nick = "", channel = ""], sink) =>
    onMember(
      state,
      channel,
      nick,
      (room, alias) => sink.native(`${room} /invite ${alias}`),
      sink,
    ),
  LIST: list,
  NICK: (state, [nick = ""], sink) => {
    // Its nick as it is: no change, so nothing to tell anyone (as servers
    // ignore it); another case of it is a rename.
    if (nick === state.nick) return;
    const alias = takeableAlias(nick, state.settings.server);
    if (alias === null) {
      return sink.irc(state.numeric("432", nick, "Erroneous nickname"));
    }
    sink.native(`/nick ${alias}`);
  },
  PONG: (_state, [token = ""], sink) => sink.native(`/pong ${token}`.trimEnd()),
  QUIT: (_state, [reason = ""], sink) =>
    sink.native(`/quit ${stripFormatting(reason)}`.trimEnd()),
  // Client-only tags (typing...): nothing to pass on.
  TAGMSG: () => {},
  USER: (state, _params, sink) =>
    sink.irc(state.numeric("462", "You may not reregister")),
  PASS: (state, _params, sink) =>
    sink.irc(state.numeric("462", "You may not reregister")),
};

/** Whether `command` is one the door serves a registered client. */
export function isCommand(command: string): boolean {
  return Object.hasOwn(COMMANDS, command);
}

/**
 * Translates one command of a registered client; the door's answers come
 * after those of the requests pending (`in_order.ts`).
 */
export function translateIn(
  state: IrcState,
  message: IrcMessage,
  sink: OrderedSink,
): void {
  const { command, params } = message;
  const handle = isCommand(command) ? COMMANDS[command] : undefined;
  if (handle === undefined) {
    return sink.irc(state.numeric("421", command, "Unknown command"));
  }
  if (params.length < (NEEDS[command] ?? 0)) {
    return needMore(state, command, sink);
  }
  handle(state, params, sink);
}

/** A command on a channel's member: both checked first (403, 401). */
function onMember(
  state: IrcState,
  channel: string,
  nick: string,
  act: (room: string, alias: string) => void,
  sink: IrcSink,
): void {
  const room = inRoom(state, channel, sink);
  if (room === null) return;
  const alias = aliasOf(nick);
  if (alias === null) {
    return sink.irc(state.numeric("401", nick, "No such nick"));
  }
  act(room, alias);
}

/**
 * `KICK #room nick[,nick...] [:REASON]`, or as many channels as nicks (RFC
 * 2812), each a `/kick`, the reason cut to `KICKLEN`.
 */
function kick(
  state: IrcState,
  [channels = "", nicks = "", reason = ""]: readonly string[],
  sink: IrcSink,
): void {
  const rooms = channels.split(",");
  const targets = nicks.split(",");
  if (rooms.length > 1 && rooms.length !== targets.length) {
    return needMore(state, "KICK", sink);
  }
  const text = fitKick(stripFormatting(reason), state.settings.server);
  targets.forEach((nick, i) =>
    onMember(
      state,
      rooms[rooms.length > 1 ? i : 0]!,
      nick,
      (room, alias) => sink.native(`${room} /kick ${alias} ${text}`.trimEnd()),
      sink,
    )
  );
}

/**
 * `PRIVMSG`: to channels (`#room TEXT`) or nicks (`/msg`); the door's
 * refusals (411, 412, 403, 401) go to `refuse`. `NOTICE` (`refuse` null:
 * it is never answered) as `#room /notice TEXT` or `/privnotice`, a
 * notice for everyone it reaches (an ACTION in one goes as `PRIVMSG`'s).
 */
function message(
  state: IrcState,
  [targets = "", raw = ""]: readonly string[],
  orNull: IrcSink["irc"] | null,
  sink: IrcSink,
): void {
  const refuse = orNull ?? (() => {});
  const notice = orNull === null;
  if (targets === "") {
    return refuse(state.numeric("411", "No recipient given (PRIVMSG)"));
  }
  let action = false;
  let text = raw;
  if (text.startsWith("\x01")) {
    // deno-lint-ignore no-control-regex
    const ctcp = /^\x01ACTION (.*?)\x01?$/s.exec(text);
    if (ctcp === null) return; // Other CTCP (VERSION, PING...): dropped.
    action = true;
    text = ctcp[1]!;
  }
  text = stripFormatting(text);
  if (text.trim() === "") {
    return refuse(state.numeric("412", "No text to send"));
  }
  for (const target of targets.split(",")) {
    if (target.startsWith("#")) {
      const room = roomOf(target);
      if (room === null) {
        refuse(state.numeric("403", target, "No such channel"));
        continue;
      }
      const line = action
        ? `/me ${text}`
        : notice
        ? `/notice ${text}`
        : text.startsWith("/")
        ? `/${text}`
        : text;
      sink.native(`${room} ${line}`);
      continue;
    }
    const alias = aliasOf(target);
    if (alias === null) {
      refuse(state.numeric("401", target, "No such nick"));
      continue;
    }
    // A private action goes as text: private messages have no /me.
    const command = notice ? "/privnotice" : "/msg";
    sink.native(
      `${command} ${alias} ${action ? `* ${state.nick} ${text}` : text}`,
    );
  }
}

/** `JOIN #a,#b [KEY,KEY]`: each a `/join`; `JOIN 0` is not mapped. */
function join(
  state: IrcState,
  [channels = "", keys = ""]: readonly string[],
  sink: IrcSink,
): void {
  if (channels === "0") {
    return sink.irc(state.notice("JOIN 0 is not supported: PART each channel"));
  }
  const keyList = keys.split(",");
  channels.split(",").forEach((channel, i) => {
    const room = inRoom(state, channel, sink);
    if (room === null) return;
    const key = keyList[i] ?? "";
    sink.native(`/join ${room} ${key}`.trimEnd());
  });
}

/**
 * `LIST`: every room (`/rooms`), or only the channels named (RFC 2812
 * 3.2.6), each asked of the session (`/rooms #room`: one past the busiest
 * that fit in `/rooms` too); 323 ends either. A parameter naming no
 * channel (ELIST's `>1`) lists every room.
 */
function list(
  state: IrcState,
  [channels = ""]: readonly string[],
  sink: IrcSink,
): void {
  sink.irc(state.numeric("321", "Channel", "Users  Name"));
  const asked = channels.split(",").filter((name) => name.startsWith("#"));
  if (asked.length === 0) {
    return request(state, { kind: "list" }, "/rooms", sink);
  }
  const rooms = new Set(asked.map(roomOf).filter((room) => room !== null));
  for (const room of rooms) {
    request(state, { kind: "listed", room }, `/rooms ${room}`, sink);
  }
  sink.irc(state.numeric("323", "End of /LIST"));
}

/** NAMES or WHO of a channel: asked of the session when the client is in it. */
function ask(
  state: IrcState,
  kind: "names" | "who",
  channel: string,
  sink: IrcSink,
): void {
  const room = roomOf(channel);
  if (room === null || !state.joined.has(room)) {
    // Not a channel it is in (or a nick): an empty answer.
    const end = kind === "names" ? "366" : "315";
    const what = kind === "names" ? "/NAMES" : "/WHO";
    return sink.irc(state.numeric(end, channel || "*", `End of ${what} list`));
  }
  request(state, { kind, room }, `${room} /who`, sink);
}

/**
 * `WHO nick`: its holder's 352, as in a channel's (`*` for the channel),
 * then 315; only 315 when nobody holds it, or the directory cannot tell.
 */
function whoNick(
  state: IrcState,
  mask: string,
  sink: OrderedSink,
): Promise<void> {
  const told = state.settings.holder(aliasOf(mask)!).catch(() => null);
  return sink.later(told.then((held) => {
    const end = state.numeric("315", mask, "End of /WHO list");
    if (held === null) return [end];
    const nick = nickOf(held);
    const { server } = state.settings;
    return [
      state.numeric(
        "352",
        "*",
        nick,
        MEMBER_HOST,
        server,
        nick,
        "H",
        `0 ${nick}`,
      ),
      end,
    ];
  }));
}

/**
 * `WHOIS [SERVER] NICK`: the user line of the nick's holder (311), or 401
 * when nobody holds it, then 318; once the directory answered (when it
 * cannot, 311 as asked).
 */
function whois(
  state: IrcState,
  params: readonly string[],
  sink: OrderedSink,
): Promise<void> {
  const asked = params.at(-1)!;
  const alias = aliasOf(asked);
  const told = alias === null
    ? Promise.resolve(null)
    : state.settings.holder(alias).catch(() => alias);
  return sink.later(told.then((held) => {
    const end = state.numeric("318", asked, "End of /WHOIS list");
    if (held === null) {
      return [state.numeric("401", asked, "No such nick"), end];
    }
    const nick = nickOf(held);
    return [state.numeric("311", nick, nick, MEMBER_HOST, "*", nick), end];
  }));
}
