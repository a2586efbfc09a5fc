/**
 * Tests the IRC the benchmark's load speaks (`bench/irc.ts`, scenario ci)
 * against the IRC door's own formatting: the text of a `PRIVMSG` found in
 * the bytes, whatever tags and source come before it.
 */

import assert from "node:assert/strict";
import {
  ircRegistration,
  joinedChannel,
  privmsgs,
  privmsgText,
} from "../bench/irc.ts";
import {
  formatIrcLine,
  type IrcMessage,
  parseIrcLine,
} from "../lib/server/irc/parse.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The text privmsgText finds in `line` framed among others, or null. */
function textOf(line: string): string | null {
  const before = encoder.encode(":tlschat PING :x\r\n");
  const bytes = encoder.encode(
    ":tlschat PING :x\r\n" + line + "\r\n:m1!m1@tlschat JOIN #lobby\r\n",
  );
  const end = before.length + encoder.encode(line).length;
  const at = privmsgText(bytes, before.length, end);
  return at === -1 ? null : decoder.decode(bytes.subarray(at, end));
}

Deno.test("privmsgText finds the text of the door's PRIVMSG lines", () => {
  const messages: IrcMessage[] = [
    {
      source: "m9!m9@tlschat",
      command: "PRIVMSG",
      params: ["#lobby", "#9:0:1"],
    },
    {
      tags: { time: "2026-12-06T21:00:00.000Z", msgid: "a b;c" },
      source: "m0!m0@tlschat",
      command: "PRIVMSG",
      params: ["#lobby", "#0:12:345"],
    },
    { command: "PRIVMSG", params: ["#lobby", "a : b"] },
  ];
  for (const message of messages) {
    const line = formatIrcLine(message);
    assert.equal(textOf(line), parseIrcLine(line)!.params[1], line);
  }
});

Deno.test("privmsgText refuses lines that hold no PRIVMSG text", () => {
  for (
    const line of [
      ":tlschat 353 m9 = #lobby :m0 m9",
      ":m0!m0@tlschat NOTICE #lobby :#0:1:2",
      "@time=T :m0!m0@tlschat PRIVMSG #lobby",
      "@time=T",
      ":tlschat PRIVMSG",
      "",
    ]
  ) assert.equal(textOf(line), null, line);
});

Deno.test("the load's registration, JOIN and PRIVMSG are the door's IRC", () => {
  const lines = ircRegistration("m9").split("\r\n").filter((l) => l !== "");
  assert.deepEqual(lines.map((l) => parseIrcLine(l)?.command), [
    "CAP",
    "CAP",
    "NICK",
    "USER",
    "CAP",
  ]);
  assert.deepEqual(parseIrcLine(lines[1]!)!.params, [
    "REQ",
    "server-time echo-message message-tags",
  ]);
  assert.equal(
    joinedChannel("@time=T :m9!m9@tlschat JOIN #lobby\r", "m9"),
    "#lobby",
  );
  assert.equal(joinedChannel(":m19!m19@tlschat JOIN #lobby", "m9"), null);
  assert.equal(joinedChannel(":tlschat 001 m9 :Welcome", "m9"), null);
  assert.equal(
    privmsgs("#lobby", "#9:0:1\n#9:1:2\n"),
    "PRIVMSG #lobby :#9:0:1\r\nPRIVMSG #lobby :#9:1:2\r\n",
  );
});
