/**
 * Registration on the IRC door: `CAP LS/REQ/LIST/END`, `PASS`, `NICK`,
 * `USER` and `AUTHENTICATE` (SASL `PLAIN` and `EXTERNAL`, `sasl.ts`),
 * mapped onto the session's login dialogue. Once capability negotiation
 * is over and the client gave a nick and `USER`, its alias goes to the
 * session; SASL sends the account's alias earlier and answers the
 * session's `PASSWORD account` with the SASL password (EXTERNAL: the
 * certificate logs in, no password).
 * `PASS` answers whichever password the session asks for first (the room's,
 * or the account's when the nick is one). When the session has taken the
 * alias, and the client has ended negotiation and given `NICK` and `USER`
 * (irssi sends them after `CAP END` when it logs in with SASL), 001 to 005
 * and 422 follow. An alias the session refused (432, 433) goes again only
 * on a new `NICK`, or on `PASS` when it was an account's.
 * Pure: what to send goes to an {@linkcode IrcSink}.
 *
 * @module
 */

import { parseHelloParams, type ServerLine } from "../../server_lines.ts";
import { isCommand } from "./inbound.ts";
import { isupportTokens } from "./isupport.ts";
import { aliasOf, nickOf, takeableAlias } from "./names.ts";
import type { IrcMessage } from "./parse.ts";
import { authenticate, saslFailed } from "./sasl.ts";
import {
  IRC_CAPS,
  type IrcCap,
  type IrcSink,
  type IrcState,
  needMore,
  sourceOf,
} from "./state.ts";

/** Commands a client may send before it is registered. */
const BEFORE_REGISTRATION = new Set([
  "CAP",
  "PASS",
  "NICK",
  "USER",
  "AUTHENTICATE",
  "PING",
  "PONG",
  "QUIT",
]);

/** 433's text for a nick that is a registered account. */
export const NICK_IS_ACCOUNT =
  "Nickname is a registered account: log in with SASL (or PASS), or choose another";

/** 433's text where only accounts may join (`--accounts-only`), any nick. */
const ONLY_ACCOUNTS =
  "Only accounts may join: log in with SASL (or PASS) as your account";

/**
 * Handles a command of registration (any time for `CAP`, `AUTHENTICATE`,
 * `PING`); false when it is not one, or the client is registered and it is
 * for `inbound.ts`. An unregistered client's `NOTICE` is ignored, its
 * other commands get 451 (421 when the door knows no such command).
 */
export function registrationCommand(
  state: IrcState,
  message: IrcMessage,
  sink: IrcSink,
): boolean {
  const { command, params } = message;
  state.noticing = command === "NOTICE";
  // Without a subcommand (a 410 had an empty parameter) or a token: 461.
  if (
    (command === "CAP" && !params[0]) || (command === "PING" && !params.length)
  ) {
    return needMore(state, command, sink), true;
  }
  if (command === "CAP") return capCommand(state, params, sink), true;
  if (command === "PING") {
    sink.irc({
      source: state.settings.server,
      command: "PONG",
      params: [state.settings.server, params[0]!],
    });
    return true;
  }
  if (command === "AUTHENTICATE") {
    return authenticate(state, params[0] ?? "", sink), true;
  }
  if (state.registered) return false;
  // Never answered, not even with 451 (RFC 2812 3.3.2).
  if (command === "NOTICE") return true;
  if (!BEFORE_REGISTRATION.has(command)) {
    // One the door serves once registered waits for it (451); one it does
    // not know is 421 already, as Ergo and InspIRCd answer.
    sink.irc(
      isCommand(command)
        ? state.numeric("451", "You have not registered")
        : state.numeric("421", command, "Unknown command"),
    );
    return true;
  }
  if (command === "PASS") {
    if (params.length < 1) return needMore(state, command, sink), true;
    state.pass = params[0]!;
    // An account's 433 answered with its password: the nick goes again.
    if (state.refused === "account") state.refused = null;
  } else if (command === "USER") {
    if (params.length < 4) return needMore(state, command, sink), true;
    state.user = true;
  } else if (command === "NICK") {
    nick(state, params[0], sink);
  } else if (command === "QUIT") {
    sink.native(`/quit ${params[0] ?? ""}`.trimEnd());
  }
  // PONG before registration: nothing to do. The alias goes once ready,
  // not again after a refusal (only a new NICK, or PASS, retries it).
  if (command !== "QUIT") sendAlias(state, sink);
  return true;
}

/** `NICK` before registration: checked, kept. */
function nick(state: IrcState, nick: string | undefined, sink: IrcSink): void {
  if (nick === undefined || nick === "") {
    return sink.irc(state.numeric("431", "No nickname given"));
  }
  if (takeableAlias(nick, state.settings.server) === null) {
    return sink.irc(
      state.numeric(
        "432",
        nick,
        "Erroneous nickname: letters, digits, _ - and ^ (for .), a digit first behind `",
      ),
    );
  }
  state.nickGiven = true;
  state.refused = null;
  if (!state.welcomed) state.nick = nick;
}

/** `CAP LS|LIST|REQ|END`. */
function capCommand(
  state: IrcState,
  params: readonly string[],
  sink: IrcSink,
): void {
  const sub = (params[0] ?? "").toUpperCase();
  const reply = (...rest: string[]) =>
    sink.irc({
      source: state.settings.server,
      command: "CAP",
      params: [state.target, ...rest],
    });
  if (sub === "LS") {
    if (!state.registered) state.negotiating = true;
    const v302 = Number(params[1] ?? "0") >= 302;
    const list = IRC_CAPS.map((cap) =>
      cap === "sasl" && v302 ? "sasl=PLAIN,EXTERNAL" : cap
    );
    return reply("LS", list.join(" "));
  }
  if (sub === "LIST") return reply("LIST", [...state.caps].join(" "));
  if (sub === "REQ") {
    if (!state.registered) state.negotiating = true;
    const asked = (params[1] ?? "").split(" ").filter((cap) => cap !== "");
    const known = (cap: string) =>
      (IRC_CAPS as readonly string[]).includes(cap.replace(/^-/, ""));
    if (asked.length === 0 || !asked.every(known)) {
      return reply("NAK", params[1] ?? "");
    }
    for (const cap of asked) {
      if (cap.startsWith("-")) state.caps.delete(cap.slice(1) as IrcCap);
      else state.caps.add(cap as IrcCap);
    }
    return reply("ACK", asked.join(" "));
  }
  if (sub === "END") {
    if (state.registered) return;
    state.negotiating = false;
    // SASL begun but never given credentials: aborted (906).
    if (state.sasl?.account === null) {
      state.sasl = null;
      sink.irc(state.numeric("906", "SASL authentication aborted"));
    }
    return sendAlias(state, sink);
  }
  sink.irc(state.numeric("410", sub, "Invalid CAP command"));
}

/**
 * Sends the nick's alias to the session once negotiation is over and the
 * client gave `NICK` and `USER`; with SASL it went already (a SASL
 * exchange still waiting for credentials is aborted, 906). Not while one
 * waits for its answer, nor once refused (until `NICK`, or `PASS`).
 */
function sendAlias(state: IrcState, sink: IrcSink): void {
  if (
    state.welcomed || state.aliasSent !== null || state.refused !== null ||
    state.negotiating || !state.user || state.nick === "*"
  ) return;
  if (state.sasl !== null) {
    // Credentials given: the session answers their alias first.
    if (state.sasl.account !== null) return;
    // Registration ended (`CAP END`, `NICK`, `USER`) with SASL's yet to
    // come: aborted, and the client registers without (IRCv3 SASL 3.1).
    state.sasl = null;
    sink.irc(state.numeric("906", "SASL authentication aborted"));
  }
  state.aliasSent = state.nick;
  sink.native(aliasOf(state.nick)!);
}

/**
 * The session refused the alias of the nick sent (`why`): `code` (432,
 * 433) for that nick, which is not sent again by itself; a nick the
 * client gave meanwhile goes now. SASL's alias (no nick went): a `NOTICE`
 * after its 904.
 */
function aliasRefused(
  state: IrcState,
  why: "alias" | "account",
  [code, text]: [string, string],
  sink: IrcSink,
): void {
  const sent = state.aliasSent;
  state.aliasSent = null;
  if (sent === null) return sink.irc(state.notice(text));
  // The client has no nick now: `*`, as servers call it before NICK.
  const { server } = state.settings;
  sink.irc({ source: server, command: code, params: ["*", sent, text] });
  if (sent === state.nick) state.refused = why;
  else sendAlias(state, sink);
}

/**
 * Handles a native line while the client is registering (the greeting,
 * `CAP`, `PASSWORD`, `WELCOME`, and the refusals of an alias or a
 * password); false for any other, which `outbound.ts` translates.
 */
export function registrationLine(
  state: IrcState,
  line: ServerLine,
  sink: IrcSink,
): boolean {
  switch (line.type) {
    case "HELLO":
      // Where every nick is answered as an account's (none is told apart).
      state.accountsOnly = parseHelloParams(line.params).auth === "accounts";
      return true;
    case "CAP":
      return true;
    case "PASSWORD":
      password(state, line.kind, sink);
      return true;
    case "WELCOME":
      welcome(state, line.alias, sink);
      return true;
    case "ERR":
      return !state.welcomed && refused(state, line.code, line.text, sink);
  }
  return false;
}

/** The session asks for a password: SASL's, `PASS`, or none to give. */
function password(state: IrcState, kind: string, sink: IrcSink): void {
  const { sasl } = state;
  if (sasl !== null && !state.welcomed) {
    // EXTERNAL: the certificate did not log in; PLAIN: the account's.
    if (kind !== "account" || sasl.password === null) {
      return saslFailed(state, sink);
    }
    sink.native(`/pass ${sasl.password}`);
    sasl.password = null;
    return;
  }
  if (state.pass !== null && !state.welcomed) {
    sink.native(`/pass ${state.pass}`);
    state.pass = null;
    // Welcomed only if it was right (else the connection ends).
    state.account = kind === "account";
    return;
  }
  if (kind === "room") {
    sink.irc(
      state.numeric(
        "464",
        "Password incorrect: give the room password with PASS",
      ),
    );
    return sink.close("Password incorrect");
  }
  const text = state.accountsOnly ? ONLY_ACCOUNTS : NICK_IS_ACCOUNT;
  aliasRefused(state, "account", ["433", text], sink);
}

/** The session took the alias: logged in (SASL), registered when ready. */
function welcome(state: IrcState, alias: string, sink: IrcSink): void {
  const nick = nickOf(alias);
  // Said before the welcome: what comes after it waits for registration.
  if (state.sasl !== null) {
    sink.irc(
      state.numeric(
        "900",
        sourceOf(nick),
        alias,
        `You are now logged in as ${alias}`,
      ),
    );
    sink.irc(state.numeric("903", "SASL authentication successful"));
    state.sasl = null;
    state.account = true;
  }
  state.welcomed = true;
  state.aliasSent = null;
  state.refused = null;
  state.nick = nick;
  completeRegistration(state, sink);
}

/**
 * An `ERR` before the alias was taken: its numeric. SASL's failures are
 * 904 and registration goes on; a refused nick (432, 433) waits for
 * another; any other refusal of the alias or `PASS` (a wrong account
 * password, too many attempts, busy) ends the connection, since an IRC
 * client does not try again by itself.
 */
function refused(
  state: IrcState,
  code: string,
  text: string,
  sink: IrcSink,
): boolean {
  if (code === "flood") return sink.irc(state.notice(text)), true;
  if (state.sasl !== null && code !== "password-wrong") {
    saslFailed(state, sink);
    if (code === "login-failed") return true;
  }
  if (code.startsWith("alias-")) {
    const numeric = code === "alias-taken" ? "433" : "432";
    aliasRefused(state, "alias", [numeric, text], sink);
  } else if (code === "login-failed" || code === "password-wrong") {
    sink.irc(state.numeric("464", text));
    if (code === "login-failed") sink.close(text);
  } else {
    sink.irc(state.notice(text));
    if (state.aliasSent !== null) sink.close(text);
  }
  return true;
}

/**
 * 001 to 005 and 422, once the session took the alias, negotiation is over
 * and the client gave `NICK` and `USER` (some send them after `CAP END`):
 * from then on the client is registered.
 */
export function completeRegistration(state: IrcState, sink: IrcSink): void {
  if (
    state.registered || !state.welcomed || state.negotiating ||
    !state.user || !state.nickGiven
  ) return;
  state.registered = true;
  const { server } = state.settings;
  const reply = (code: string, ...params: string[]) =>
    sink.irc(state.numeric(code, ...params));
  reply("001", `Welcome to the tlschat IRC door, ${state.nick}`);
  reply("002", `Your host is ${server}, running tlschat`);
  reply("003", "This server speaks tlschat/1 behind an IRC door");
  reply("004", server, "tlschat", "i", "bikot", "bko");
  reply(
    "005",
    ...isupportTokens(state.settings),
    "are supported by this server",
  );
  reply("422", "MOTD File is missing");
}
