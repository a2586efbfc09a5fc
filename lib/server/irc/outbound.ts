/**
 * Native server lines, as the session sends them to a client with `ids
 * rooms seq notice`, translated into IRC lines: messages, actions, notices
 * and history as `chat_out.ts` says, room
 * events into `JOIN PART QUIT NICK KICK TOPIC MODE` (the client's own
 * `JOIN` once, announced or not: `entering.ts`), replies into numerics,
 * the end of a replay (`replay_end.ts`), every `ERR` into its numeric (or
 * a `NOTICE`).
 * Lines IRC has no use for (`CURRENT`, `PRESENCE`, ...) are dropped. Pure.
 *
 * @module
 */

import { parseServerLine, type ServerLine } from "../../server_lines.ts";
import { splitTags } from "../../resume.ts";
import { chatLine, type Context } from "./chat_out.ts";
import { nickOf } from "./names.ts";
import { type IrcSink, type IrcState, sourceOf } from "./state.ts";
import { errorNumeric, listReply } from "./replies.ts";
import { entered, entering, left } from "./entering.ts";
import { replayEnd } from "./replay_end.ts";
import { release } from "./in_order.ts";
import { topicLine } from "./topics.ts";

/**
 * 433's text for a rename to an account's nick: neither SASL nor `PASS`
 * may come once registered (904/907, 462), so it is not the one that
 * says to log in.
 */
const ACCOUNT_RENAME =
  "Nickname is a registered account: its holder takes it by logging in when connecting (SASL or PASS)";

/**
 * Translates one native line (without its LF) for the client, through
 * `sink` (lines for the client, lines for the session: the names of a
 * channel joined are asked for).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type IrcSink, IrcState } from "./state.ts";
 * import { translateOut } from "./outbound.ts";
 * import { formatIrcLine } from "./parse.ts";
 *
 * const state = new IrcState({
 *   server: "tlschat", defaultRoom: "#lobby", announceLimit: 100, isupport: [],
 *   isAccount: () => false, holder: () => Promise.resolve(null),
 * });
 * const out: string[] = [];
 * const sink: IrcSink = {
 *   irc: (m) => void out.push(formatIrcLine(m)),
 *   native: () => {},
 *   close: () => {},
 * };
 * translateOut(state, "@seq=4;time=T #lobby MSG j.doe hi all", sink);
 * assert.deepEqual(out, [":j^doe!j^doe@tlschat PRIVMSG #lobby :hi all"]);
 * ```
 */
export function translateOut(
  state: IrcState,
  text: string,
  sink: IrcSink,
): void {
  const { id, seq, time, rest } = splitTags(text);
  let body = rest;
  let room: string | null = null;
  if (body.startsWith("#")) {
    const space = body.indexOf(" ");
    room = body.slice(0, space === -1 ? undefined : space);
    body = space === -1 ? "" : body.slice(space + 1);
  }
  const line = parseServerLine(body);
  if (line === undefined) return sink.irc(state.notice(text));
  const context = { room, id, seq, time };
  entering(state, line, context, sink);
  if (!chatLine(state, line, context, sink)) {
    if (!roomEvent(state, line, context, sink)) {
      reply(state, line, context, sink);
    }
  }
  // The door's answers held behind a request this line answered.
  release(state, sink);
}

/** Joins, leaves, renames, the topic, operators' actions; false for others. */
function roomEvent(
  state: IrcState,
  line: ServerLine,
  context: Context,
  sink: IrcSink,
): boolean {
  const room = context.room ?? state.settings.defaultRoom;
  const from = (alias: string) => sourceOf(nickOf(alias));
  switch (line.type) {
    case "JOIN":
      if (nickOf(line.alias) !== state.nick) {
        sink.irc({ source: from(line.alias), command: "JOIN", params: [room] });
      } else {
        // Over --announce-limit, the joiner alone gets its JOIN.
        const shown = Number(line.online) <= state.settings.announceLimit;
        entered(state, room, shown, sink);
      }
      return true;
    case "LEAVE":
      leave(state, line, { ...context, room }, sink);
      return true;
    case "NICK":
      if (once(state, context.seq)) {
        sink.irc({
          source: from(line.alias),
          command: "NICK",
          params: [nickOf(line.newAlias)],
        });
      }
      if (nickOf(line.alias) === state.nick) state.nick = nickOf(line.newAlias);
      return true;
    case "TOPIC":
      topicLine(state, line, { ...context, room }, sink);
      return true;
    case "MOD":
      moderation(state, line, room, sink);
      return true;
  }
  return false;
}

/** Whether an event of log number `seq` is new (sent once for all rooms). */
function once(state: IrcState, seq: number | null): boolean {
  if (seq === null) return true;
  if (seq === state.lastEventSeq) return false;
  state.lastEventSeq = seq;
  return true;
}

/** A member left a room: `PART`, a `KICK` already sent, or one `QUIT`. */
function leave(
  state: IrcState,
  line: ServerLine<"LEAVE">,
  context: Context & { room: string },
  sink: IrcSink,
): void {
  const nick = nickOf(line.alias);
  const { room } = context;
  const own = nick === state.nick;
  if (own) left(state, room);
  if (line.reason === "kicked") return; // Its MOD kick was the KICK.
  if (line.reason === "part") {
    const params = line.text === "" ? [room] : [room, line.text];
    return sink.irc({ source: sourceOf(nick), command: "PART", params });
  }
  if (line.reason === "banned" || own) {
    return sink.irc({
      source: state.settings.server,
      command: "KICK",
      params: [room, nick, line.text || line.reason],
    });
  }
  if (!once(state, context.seq)) return;
  const text = line.text === "" ? line.reason : `${line.reason}: ${line.text}`;
  sink.irc({ source: sourceOf(nick), command: "QUIT", params: [text] });
}

/** What `MODE` says each mode change of a `MOD` line is. */
const MODES: Readonly<Record<string, string>> = {
  ban: "+b",
  unban: "-b",
  op: "+o",
  deop: "-o",
};

/** An operator's action as `KICK`, `MODE`, 341 or a `NOTICE`. */
function moderation(
  state: IrcState,
  line: ServerLine<"MOD">,
  room: string,
  sink: IrcSink,
): void {
  const by = sourceOf(nickOf(line.by));
  const nick = line.alias === "-" ? "-" : nickOf(line.alias);
  const mode = (...params: string[]) =>
    sink.irc({ source: by, command: "MODE", params: [room, ...params] });
  if (line.action === "kick") {
    if (nick === state.nick) left(state, room);
    return sink.irc({
      source: by,
      command: "KICK",
      params: [room, nick, line.text || nickOf(line.by)],
    });
  }
  const change = MODES[line.action];
  if (change !== undefined) {
    return mode(change, change.endsWith("b") ? `${nick}!*@*` : nick);
  }
  if (line.action === "key") {
    // The key is never sent: only its setter, who gave it, sees it back.
    const own = nickOf(line.by) === state.nick
      ? state.keys.get(room)
      : undefined;
    state.keys.delete(room);
    return mode(line.text === "on" ? "+k" : "-k", own ?? "*");
  }
  if (line.action === "invite-only") {
    return mode(line.text === "on" ? "+i" : "-i");
  }
  if (line.action === "invite" && nickOf(line.by) === state.nick) {
    return sink.irc(state.numeric("341", nick, room));
  }
  const about = nick === "-" ? "" : ` ${nick}`;
  // A mute's text starts "by amy until ..." (describeSanction): said once.
  const said = `by ${line.by} `;
  const detail = line.text.startsWith(said)
    ? ` ${line.text.slice(said.length)}`
    : line.text
    ? `: ${line.text}`
    : "";
  sink.irc({
    source: state.settings.server,
    command: "NOTICE",
    params: [room, `${line.action}${about} by ${nickOf(line.by)}${detail}`],
  });
}

/** Replies and notices: numerics, `NOTICE`, `PING`, `INVITE`, or nothing. */
function reply(
  state: IrcState,
  line: ServerLine,
  context: Context,
  sink: IrcSink,
): void {
  switch (line.type) {
    case "WHO":
    case "ROOM":
    case "BAN":
      listReply(state, line, context.room, sink, context.time);
      return;
    case "INFO":
      if (listReply(state, line, context.room, sink)) return;
      return sink.irc(state.notice(line.text));
    case "ERR":
      return errorNumeric(state, line, sink);
    case "PING":
      return sink.irc({
        source: state.settings.server,
        command: "PING",
        params: [line.token || state.settings.server],
      });
    case "INVITE":
      return sink.irc({
        source: sourceOf(nickOf(line.by)),
        command: "INVITE",
        params: [state.nick, line.room],
      });
    case "HISTEND":
    case "RESUMED":
      return replayEnd(
        state,
        line,
        context.room ?? state.settings.defaultRoom,
        sink,
      );
    case "PASSWORD": {
      // A rename to an account: its password goes only with SASL or PASS.
      const alias = /"([^"]+)"/.exec(line.text)?.[1] ?? "*";
      return sink.irc(state.numeric("433", nickOf(alias), ACCOUNT_RENAME));
    }
  }
  // HELLO WELCOME CAP CURRENT PRESENCE RESUME READ FOUND FOUNDEND BYE:
  // nothing an IRC client shows.
}
