/** Tests of a joined client's lines: chat or command, the commands' table, durations. */

import assert from "node:assert/strict";
import { ProtocolError } from "../lib/protocol.ts";
import { isCommand, parseCommand, parseDuration } from "../lib/commands.ts";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ProtocolError, String(e));
    return e.code;
  }
  assert.fail("expected a ProtocolError");
};

Deno.test("parseCommand() parses /cap with its names, unknown ones included", () => {
  assert.deepEqual(parseCommand("/cap ids"), { kind: "cap", names: ["ids"] });
  assert.deepEqual(parseCommand("/CAP  ids   later "), {
    kind: "cap",
    names: ["ids", "later"],
  });
  assert.equal(code(() => parseCommand("/cap")), "usage");
  assert.equal(code(() => parseCommand("/cap  ")), "usage");
});

Deno.test("parseCommand() parses every command, case-insensitively", () => {
  assert.deepEqual(parseCommand("/nick Bob2"), { kind: "nick", alias: "Bob2" });
  assert.deepEqual(parseCommand("/WHO"), { kind: "who" });
  assert.deepEqual(parseCommand("/me waves  slowly"), {
    kind: "me",
    text: "waves  slowly",
  });
  assert.deepEqual(parseCommand("/msg bob  hi  there "), {
    kind: "msg",
    to: "bob",
    text: "hi  there",
  });
  assert.deepEqual(parseCommand("/quit"), { kind: "quit", reason: "" });
  assert.deepEqual(parseCommand("/quit see you"), {
    kind: "quit",
    reason: "see you",
  });
  assert.deepEqual(parseCommand("/help"), { kind: "help" });
  assert.deepEqual(parseCommand("/pong 123"), { kind: "pong" });
});

Deno.test("parseCommand() parses /rooms with or without the one room asked about", () => {
  assert.deepEqual(parseCommand("/rooms"), { kind: "rooms", room: null });
  assert.deepEqual(parseCommand("/rooms #Ops"), {
    kind: "rooms",
    room: "#Ops",
  });
});

Deno.test("parseCommand() parses operator commands, durations included", () => {
  assert.deepEqual(parseCommand("/kick bob  stop it"), {
    kind: "kick",
    target: "bob",
    reason: "stop it",
  });
  assert.deepEqual(parseCommand("/ban 10.0.0.0/8 2h spam bots"), {
    kind: "ban",
    target: "10.0.0.0/8",
    durationMs: 7_200_000,
    reason: "spam bots",
  });
  assert.deepEqual(parseCommand("/ban bob rude"), {
    kind: "ban",
    target: "bob",
    durationMs: null,
    reason: "rude",
  });
  assert.deepEqual(parseCommand("/mute bob 10m"), {
    kind: "mute",
    target: "bob",
    durationMs: 600_000,
    reason: "",
  });
  // A number that is no duration is refused: "/ban bob 1y" banned bob
  // until lifted, "1y" its reason. An ordinal starts a reason.
  for (
    const line of ["/ban bob 1y", "/mute bob 10min", "/roomban bob 5 spam"]
  ) {
    assert.equal(code(() => parseCommand(line)), "usage", line);
  }
  assert.deepEqual(parseCommand("/ban bob 2nd warning"), {
    kind: "ban",
    target: "bob",
    durationMs: null,
    reason: "2nd warning",
  });
  assert.deepEqual(parseCommand("/unban bob"), {
    kind: "unban",
    target: "bob",
  });
  assert.deepEqual(parseCommand("/unmute Bob"), {
    kind: "unmute",
    target: "Bob",
  });
  assert.deepEqual(parseCommand("/bans"), { kind: "bans" });
  assert.deepEqual(parseCommand("/topic Release day"), {
    kind: "topic",
    text: "Release day",
  });
  assert.deepEqual(parseCommand("/topic"), { kind: "topic", text: "" });
  assert.deepEqual(parseCommand("/history"), { kind: "history", count: null });
  assert.deepEqual(parseCommand("/history 20"), { kind: "history", count: 20 });
  assert.deepEqual(parseCommand("/HISTORY 9999"), {
    kind: "history",
    count: 500, // at most HISTORY_REQUEST_LIMIT
  });
});

Deno.test("parseDuration() reads s, m, h, d and w", () => {
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("7d"), 604_800_000);
  assert.equal(parseDuration("1w"), 604_800_000);
  for (const bad of ["", "10", "m", "1y", "-1m", "1.5h"]) {
    assert.equal(parseDuration(bad), null, bad);
  }
});

Deno.test("parseCommand() treats other lines as chat, // as an escaped /", () => {
  assert.deepEqual(parseCommand("hello /nick"), {
    kind: "say",
    text: "hello /nick",
  });
  assert.deepEqual(parseCommand("//nick is a command"), {
    kind: "say",
    text: "/nick is a command",
  });
  assert.deepEqual(parseCommand(""), { kind: "say", text: "" });
  assert.deepEqual(parseCommand("bad\x1b[31m"), { kind: "say", text: "bad" });
});

Deno.test("parseCommand() rejects unknown commands and missing arguments", () => {
  assert.equal(code(() => parseCommand("/")), "unknown-command");
  assert.equal(code(() => parseCommand("/frob bob")), "unknown-command");
  assert.equal(code(() => parseCommand("/kick")), "usage");
  assert.equal(code(() => parseCommand("/ban")), "usage");
  assert.equal(code(() => parseCommand("/unmute")), "usage");
  assert.equal(code(() => parseCommand("/nick")), "usage");
  assert.equal(code(() => parseCommand("/me  ")), "usage");
  assert.equal(code(() => parseCommand("/msg")), "usage");
  assert.equal(code(() => parseCommand("/msg bob")), "usage");
  for (const bad of ["/history 0", "/history -3", "/history ten"]) {
    assert.equal(code(() => parseCommand(bad)), "usage", bad);
  }
});

Deno.test("parseCommand() knows only its table's commands, not an object's own names", () => {
  for (
    const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]
  ) {
    assert.equal(
      code(() => parseCommand(`/${name} x`)),
      "unknown-command",
      name,
    );
  }
});

Deno.test("parseCommand() judges text blank after sanitising, in every kind of line", () => {
  const blanks = [" ", "\u200B \u200B ", "\u3164", "\u2800\u2800", "\x1b[0m "];
  for (const blank of blanks) {
    const name = JSON.stringify(blank);
    assert.deepEqual(parseCommand(blank), { kind: "say", text: "" }, name);
    assert.equal(code(() => parseCommand(`/me ${blank}`)), "usage", name);
    assert.equal(code(() => parseCommand(`/msg bob ${blank}`)), "usage", name);
    assert.deepEqual(parseCommand(`/quit ${blank}`), {
      kind: "quit",
      reason: "",
    }, name);
    assert.deepEqual(
      parseCommand(`/topic ${blank}`),
      { kind: "topic", text: "" },
      name,
    );
    assert.deepEqual(parseCommand(`/kick bob ${blank}`), {
      kind: "kick",
      target: "bob",
      reason: "",
    }, name);
    for (const kind of ["ban", "mute"] as const) {
      assert.deepEqual(parseCommand(`/${kind} bob 10m ${blank}`), {
        kind,
        target: "bob",
        durationMs: 600_000,
        reason: "",
      }, name);
    }
  }
  // Trimmed after sanitising, not before: nothing invisible is left over.
  assert.deepEqual(parseCommand("/me \u200B waves\u200B "), {
    kind: "me",
    text: "waves",
  });
  assert.deepEqual(parseCommand("\u3164hi"), { kind: "say", text: "\u3164hi" });
});

Deno.test("parseCommand() caps combining marks in every kind of text it takes, whatever the door", () => {
  const zalgo = "Z" + "\u0336\u0317".repeat(100) + "ALGO";
  const capped = "Z" + "\u0336\u0317".repeat(2) + "ALGO";
  assert.deepEqual(parseCommand(zalgo), { kind: "say", text: capped });
  assert.deepEqual(parseCommand(`/me ${zalgo}`), { kind: "me", text: capped });
  assert.deepEqual(parseCommand(`/msg bob ${zalgo}`), {
    kind: "msg",
    to: "bob",
    text: capped,
  });
  assert.deepEqual(parseCommand(`/topic ${zalgo}`), {
    kind: "topic",
    text: capped,
  });
  assert.deepEqual(parseCommand(`/quit ${zalgo}`), {
    kind: "quit",
    reason: capped,
  });
  assert.deepEqual(parseCommand(`/kick bob ${zalgo}`), {
    kind: "kick",
    target: "bob",
    reason: capped,
  });
  assert.deepEqual(parseCommand(`/part #ops ${zalgo}`), {
    kind: "part",
    room: "#ops",
    reason: capped,
  });
});

Deno.test("isCommand() gives the same answer for a line's text and its bytes, and parseCommand() follows it", () => {
  const encoder = new TextEncoder();
  const cases: [string, boolean][] = [
    ["/who", true],
    ["/", true],
    ["/ x", true],
    ["//etc", false],
    ["//", false],
    ["hello", false],
    ["", false],
    [" /who", false],
    ["é/who", false],
  ];
  for (const [line, command] of cases) {
    assert.equal(isCommand(line), command, line);
    assert.equal(isCommand(encoder.encode(line)), command, `bytes of ${line}`);
    if (!command) assert.equal(parseCommand(line).kind, "say", line);
  }
});

Deno.test("parseCommand() parses /read [#ROOM] SEQ and refuses anything else with its usage", () => {
  assert.deepEqual(parseCommand("/read 42"), {
    kind: "read",
    room: null,
    seq: 42,
  });
  assert.deepEqual(parseCommand("/read #ops 0"), {
    kind: "read",
    room: "#ops",
    seq: 0,
  });
  for (
    const bad of [
      "/read",
      "/read ops 4",
      "/read #ops",
      "/read #ops 4 5",
      "/read -1",
      "/read 1e3",
      "/read 1234567890123456",
    ]
  ) {
    assert.equal(code(() => parseCommand(bad)), "usage", bad);
  }
});
