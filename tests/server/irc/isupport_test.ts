/**
 * Tests of what the IRC door's 005 advertises, without sockets: each length
 * is what the door takes (nicks, channels) or what every line carrying it
 * holds whole within 512 bytes (topics), for the longest names it allows.
 */

import assert from "node:assert/strict";
import {
  fitKick,
  fitTopic,
  isupportTokens,
  kickBytes,
  topicBytes,
} from "../../../lib/server/irc/isupport.ts";
import {
  aliasOf,
  CHANNEL_LENGTH,
  NICK_LENGTH,
  roomOf,
} from "../../../lib/server/irc/names.ts";
import {
  formatIrcLines,
  type IrcMessage,
} from "../../../lib/server/irc/parse.ts";
import { ircState } from "./_sink.ts";

const NICK = "`9" + "n".repeat(NICK_LENGTH - 2);
const CHANNEL = "#" + "c".repeat(CHANNEL_LENGTH - 1);
const bytes = (text: string) => new TextEncoder().encode(text).length;

/** The token `name=` of a 005 list, as a number. */
function token(tokens: readonly string[], name: string): number {
  const found = tokens.find((t) => t.startsWith(`${name}=`));
  assert.ok(found, `${name} in ${tokens.join(" ")}`);
  return Number(found.slice(name.length + 1));
}

/** The lines that carry `topic` to a client, for the longest names. */
function topicLines(server: string, topic: string): IrcMessage[] {
  return [
    {
      source: `${NICK}!${NICK}@tlschat`,
      command: "TOPIC",
      params: [CHANNEL, topic],
    },
    { source: server, command: "332", params: [NICK, CHANNEL, topic] },
  ];
}

for (const server of ["tlschat", "s".repeat(64)]) {
  Deno.test(`isupportTokens() advertises TOPICLEN as the longest topic TOPIC and 332 carry whole (server name of ${server.length})`, () => {
    const tokens = isupportTokens(ircState({ server }).settings);
    const most = token(tokens, "TOPICLEN");
    assert.equal(most, topicBytes(server));
    // The report: TOPICLEN=4096 was advertised, and topics were cut near 470.
    for (const char of ["t", "é", "👍"]) {
      const topic = char.repeat(Math.floor(most / bytes(char)));
      for (const message of topicLines(server, topic)) {
        const lines = formatIrcLines(message);
        assert.equal(lines.length, 1);
        assert.ok(lines[0]!.endsWith(` :${topic}`), message.command);
        assert.ok(bytes(lines[0]!) <= 510);
      }
    }
    // One byte more does not fit in one of them.
    const over = topicLines(server, "t".repeat(most + 1)).map((m) =>
      formatIrcLines(m)[0]!
    );
    assert.ok(over.some((line) => !line.endsWith(` :${"t".repeat(most + 1)}`)));
    // 005 itself fits, every token whole, for the longest nick.
    const isupport = formatIrcLines({
      source: server,
      command: "005",
      params: [NICK, ...tokens, "are supported by this server"],
    });
    assert.equal(isupport.length, 1);
    assert.ok(isupport[0]!.includes(` ${tokens.join(" ")} :`));
  });
}

Deno.test("isupportTokens() advertises NICKLEN and CHANNELLEN as the longest nick and channel the door takes", () => {
  const tokens = isupportTokens(ircState().settings);
  const nickLength = token(tokens, "NICKLEN");
  assert.notEqual(aliasOf("`9" + "n".repeat(nickLength - 2)), null);
  assert.equal(aliasOf("`9" + "n".repeat(nickLength - 1)), null);
  assert.equal(aliasOf("n".repeat(nickLength)), null); // no backtick: 32
  const channelLength = token(tokens, "CHANNELLEN");
  assert.notEqual(roomOf("#" + "c".repeat(channelLength - 1)), null);
  assert.equal(roomOf("#" + "c".repeat(channelLength)), null);
  assert.ok(tokens.includes("CHANLIMIT=#:20"), "the door's own settings");
});

Deno.test("fitTopic() cuts what an IRC client sets to TOPICLEN, between graphemes", () => {
  const most = topicBytes("tlschat");
  assert.equal(fitTopic("short", "tlschat"), "short");
  assert.equal(fitTopic("t".repeat(most + 50), "tlschat"), "t".repeat(most));
  const flags = fitTopic("t".repeat(most - 5) + "🇫🇷".repeat(3), "tlschat");
  assert.equal(flags, "t".repeat(most - 5));
});

/** The lines that carry a kick's `reason`, for the longest names. */
function kickLines(server: string, reason: string): IrcMessage[] {
  const params = [CHANNEL, NICK, reason];
  return [
    { source: `${NICK}!${NICK}@tlschat`, command: "KICK", params },
    { source: server, command: "KICK", params }, // a ban's
  ];
}

for (const server of ["tlschat", "s".repeat(64)]) {
  Deno.test(`isupportTokens() advertises KICKLEN as the longest reason every KICK carries whole, and no AWAYLEN (server name of ${server.length})`, () => {
    const tokens = isupportTokens(ircState({ server }).settings);
    const most = token(tokens, "KICKLEN");
    assert.equal(most, kickBytes(server));
    assert.equal(most, 359);
    for (const char of ["k", "é", "👍"]) {
      const reason = char.repeat(Math.floor(most / bytes(char)));
      for (const message of kickLines(server, reason)) {
        const lines = formatIrcLines(message);
        assert.equal(lines.length, 1);
        assert.ok(lines[0]!.endsWith(` :${reason}`), message.source);
      }
    }
    const over = kickLines(server, "k".repeat(most + 1)).map((m) =>
      formatIrcLines(m)[0]!
    );
    assert.ok(over.some((line) => !line.endsWith(` :${"k".repeat(most + 1)}`)));
    assert.ok(!tokens.some((t) => t.startsWith("AWAYLEN")), "no AWAY here");
  });
}

Deno.test("fitKick() and fitTopic() cut between graphemes, counting what the session makes of a control character (U+FFFD)", () => {
  const most = kickBytes("tlschat");
  assert.equal(fitKick("k".repeat(most + 9), "tlschat"), "k".repeat(most));
  const flags = fitKick("k".repeat(most - 5) + "🇫🇷".repeat(3), "tlschat");
  assert.equal(flags, "k".repeat(most - 5));
  for (
    const fitted of [
      fitKick("\x07".repeat(most), "tlschat"),
      fitTopic("\x07".repeat(392), "tlschat"),
    ]
  ) {
    assert.ok(bytes(fitted) <= most + 33, `${bytes(fitted)} bytes`);
    assert.match(fitted, /^\uFFFD+$/);
  }
});
