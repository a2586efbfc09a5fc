/**
 * Notices on the IRC door without sockets: a client's `NOTICE` goes to its
 * session as a notice (`/notice`, `/privnotice`), the session's notices
 * (`NOTICE`, `PRIVNOTICE`, `SENTNOTICE`, `HIST` kind `NOTICE`) come out as
 * `NOTICE` from the source a `PRIVMSG` would have, a `NOTICE` before
 * registration gets nothing back, and 005's `TARGMAX` says what the door
 * takes.
 */

import assert from "node:assert/strict";
import { translateIn } from "../../../lib/server/irc/inbound.ts";
import { inOrder } from "../../../lib/server/irc/in_order.ts";
import { isupportTokens, TARGMAX } from "../../../lib/server/irc/isupport.ts";
import { translateOut } from "../../../lib/server/irc/outbound.ts";
import { parseIrcLine } from "../../../lib/server/irc/parse.ts";
import { registrationCommand } from "../../../lib/server/irc/registration.ts";
import type { IrcCap } from "../../../lib/server/irc/state.ts";
import { ircState, recorder } from "./_sink.ts";

const T = "2026-12-06T20:00:00.000Z";
const ID = "Qm9vb3Rz_-0123456";

/** A registered client `me` in `#lobby` and `#t` with `caps`. */
function setup(...caps: IrcCap[]) {
  const state = ircState();
  state.nick = "me";
  state.registered = true;
  state.joined.add("#lobby");
  state.joined.add("#t");
  for (const cap of caps) state.caps.add(cap);
  const sink = recorder();
  const out = (...lines: string[]) => {
    for (const line of lines) translateOut(state, line, sink);
    return sink.irc_.splice(0);
  };
  const send = (...lines: string[]) => {
    for (const line of lines) {
      translateIn(state, parseIrcLine(line)!, inOrder(state, sink));
    }
    return sink.native_.splice(0);
  };
  return { state, sink, out, send };
}

Deno.test("translateIn() sends a NOTICE to a channel as /notice and to a nick as /privnotice, a PRIVMSG as ever", () => {
  const { send, sink } = setup();
  assert.deepEqual(
    send(
      "NOTICE #lobby :build \x02passed\x02",
      "NOTICE #t :/not a command",
      "NOTICE bob,#lobby :both",
      "PRIVMSG #lobby :a message",
      "PRIVMSG bob :psst",
    ),
    [
      "#lobby /notice build passed",
      "#t /notice /not a command",
      "/privnotice bob both",
      "#lobby /notice both",
      "#lobby a message",
      "/msg bob psst",
    ],
  );
  assert.deepEqual(sink.irc_, []);
});

Deno.test("translateOut() sends the session's notices as NOTICE from the source a PRIVMSG has, to the channel or the client's nick", () => {
  const { out } = setup();
  assert.deepEqual(
    out(
      `@seq=5;time=${T} #lobby NOTICE bob build passed`,
      `@seq=6;time=${T} #lobby MSG bob a message`,
      "PRIVNOTICE j.doe psst",
      "PRIV j.doe psst",
      "SENTNOTICE bob not echoed",
      `@id=${ID};seq=7;time=${T} #t NOTICE me not echoed`,
    ),
    [
      ":bob!bob@tlschat NOTICE #lobby :build passed",
      ":bob!bob@tlschat PRIVMSG #lobby :a message",
      ":j^doe!j^doe@tlschat NOTICE me :psst",
      ":j^doe!j^doe@tlschat PRIVMSG me :psst",
    ],
  );
});

Deno.test("translateOut() echoes a client's own notice as NOTICE with echo-message, with its time and msgid", () => {
  const { out } = setup("echo-message", "server-time", "message-tags");
  assert.deepEqual(
    out(`@id=${ID};seq=7;time=${T} #t NOTICE me mine`, "SENTNOTICE bob psst"),
    [
      `@time=${T};msgid=${ID} :me!me@tlschat NOTICE #t :mine`,
      ":me!me@tlschat NOTICE bob :psst",
    ],
  );
});

Deno.test("translateOut() replays a notice in history as NOTICE with its time, in the chathistory batch", () => {
  const { out } = setup("batch", "server-time");
  const lines = out(
    `#lobby HIST 4 ${T} NOTICE bob build passed`,
    `#lobby HIST 5 ${T} MSG bob a message`,
    "#lobby HISTEND 2 End of history: 2 messages",
  );
  assert.deepEqual(lines.slice(1, -1), [
    `@batch=h1;time=${T} :bob!bob@tlschat NOTICE #lobby :build passed`,
    `@batch=h1;time=${T} :bob!bob@tlschat PRIVMSG #lobby :a message`,
  ]);
});

Deno.test("registration: a NOTICE before registration gets no answer (no 451) and reaches nobody", () => {
  const state = ircState();
  const sink = recorder();
  for (const line of ["NOTICE #lobby :hi", "NOTICE bob :hi", "NOTICE"]) {
    assert.equal(registrationCommand(state, parseIrcLine(line)!, sink), true);
  }
  assert.deepEqual(sink.irc_, []);
  assert.deepEqual(sink.native_, []);
  // Another command the door serves once registered still gets 451.
  registrationCommand(state, parseIrcLine("PRIVMSG #lobby :hi")!, sink);
  assert.deepEqual(sink.irc_, [":tlschat 451 * :You have not registered"]);
});

Deno.test("isupportTokens() says TARGMAX, and the door takes every target of each command it leaves unlimited", () => {
  assert.ok(isupportTokens(ircState().settings).includes(TARGMAX));
  const limits = new Map(
    TARGMAX.slice("TARGMAX=".length).split(",").map((pair) => {
      const [command = "", limit = ""] = pair.split(":");
      return [command, limit];
    }),
  );
  assert.equal(limits.get("WHOIS"), "1");
  const lines: Record<string, string> = {
    JOIN: "JOIN #x1,#x2,#x3",
    PART: "PART #x1,#x2,#x3",
    NAMES: "NAMES #x1,#x2,#x3",
    KICK: "KICK #x1,#x2,#x3 n1,n2,n3",
    PRIVMSG: "PRIVMSG #x1,#x2,#x3 :hi",
    NOTICE: "NOTICE #x1,#x2,#x3 :hi",
  };
  for (const [command, limit] of limits) {
    if (command === "WHOIS") continue;
    assert.equal(limit, "", command);
    const { state, sink } = setup();
    for (const room of ["#x1", "#x2", "#x3"]) state.joined.add(room);
    translateIn(state, parseIrcLine(lines[command]!)!, inOrder(state, sink));
    const said = [...sink.native_, ...sink.irc_].join("\n");
    for (const room of ["#x1", "#x2", "#x3"]) {
      assert.ok(said.includes(room), `${command} ${room}:\n${said}`);
    }
  }
});
