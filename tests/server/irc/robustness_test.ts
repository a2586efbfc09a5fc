/**
 * The IRC door's translators never throw, whatever a client or the session
 * sends: seeded random lines (known commands with odd parameters, junk,
 * every native line type with odd fields) through registration, inbound
 * and outbound, registered or not. Deterministic: a fixed seed.
 */

import { translateIn } from "../../../lib/server/irc/inbound.ts";
import { inOrder } from "../../../lib/server/irc/in_order.ts";
import { translateOut } from "../../../lib/server/irc/outbound.ts";
import { parseIrcLine } from "../../../lib/server/irc/parse.ts";
import {
  registrationCommand,
  registrationLine,
} from "../../../lib/server/irc/registration.ts";
import {
  parseServerLine,
  SERVER_LINE_FIELDS,
} from "../../../lib/server_lines.ts";
import { ircState, recorder } from "./_sink.ts";

/** A small seeded generator (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMMANDS = [
  "CAP",
  "PASS",
  "NICK",
  "USER",
  "AUTHENTICATE",
  "PING",
  "PONG",
  "QUIT",
  "PRIVMSG",
  "NOTICE",
  "JOIN",
  "PART",
  "TOPIC",
  "NAMES",
  "WHO",
  "WHOIS",
  "MODE",
  "KICK",
  "INVITE",
  "LIST",
  "AWAY",
  "TAGMSG",
  "FOO",
  "001",
];
const WORDS = [
  "",
  "*",
  "#",
  "#ops",
  "#Ops,#b",
  "#a.b",
  "0",
  "+",
  "-",
  "+ob-k",
  "b",
  "+b",
  "alice",
  "`2bob",
  "j|doe",
  "j^doe",
  "[x]",
  ":",
  "::",
  "LS",
  "302",
  "REQ",
  "END",
  "sasl",
  "-sasl",
  "PLAIN",
  "EXTERNAL",
  "+",
  btoa("\0alice\0pw"),
  "\x01ACTION",
  "\x01ACTION hi\x01",
  "\x03",
  "é",
  "#" + "x".repeat(40),
  "x".repeat(300),
];
const NATIVE = Object.keys(SERVER_LINE_FIELDS);

Deno.test("the IRC door's translators never throw on odd lines either way", () => {
  const next = random(18);
  const pick = <T>(list: readonly T[]) =>
    list[Math.floor(next() * list.length)]!;
  for (let round = 0; round < 40; round++) {
    const state = ircState({}, next() < 0.3 ? "alice" : null);
    if (next() < 0.5) {
      state.nick = "me";
      state.welcomed = state.registered = true;
    }
    const sink = recorder();
    for (let i = 0; i < 100; i++) {
      const words = Array.from(
        { length: Math.floor(next() * 5) },
        () => pick(WORDS),
      );
      const trailing = next() < 0.5 ? ` :${pick(WORDS)} ${pick(WORDS)}` : "";
      const message = parseIrcLine(
        `${pick(COMMANDS)} ${words.join(" ")}${trailing}`,
      );
      if (message && !registrationCommand(state, message, sink)) {
        translateIn(state, message, inOrder(state, sink));
      }
      const fields = Array.from(
        { length: 1 + Math.floor(next() * 6) },
        () => pick(WORDS),
      );
      const room = next() < 0.5 ? "#ops " : "";
      const tags = next() < 0.3
        ? "@seq=7;time=T "
        : next() < 0.1
        ? `@id=${"a".repeat(22)} `
        : "";
      const line = `${tags}${room}${pick(NATIVE)} ${fields.join(" ")}`;
      const native = parseServerLine(
        line.replace(/^@\S* /, "").replace(/^#\S+ /, ""),
      );
      if (
        state.registered || !native || !registrationLine(state, native, sink)
      ) {
        translateOut(state, line, sink);
      }
    }
  }
});
