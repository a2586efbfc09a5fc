/** Tests of the client's side of the wire protocol: aliases, capabilities, line ids, commands. */

import assert from "node:assert/strict";
import {
  CAPABILITIES,
  decodeLine,
  encodeTaggedLine,
  isCapability,
  isCommand,
  isLineId,
  isWellFormedAlias,
  parseCommand,
  parseDuration,
  ProtocolError,
  splitLineId,
  tagLine,
  validateAlias,
} from "../lib/protocol.ts";
import {
  formatServerLine,
  parseServerLine,
  type ServerLine,
} from "../lib/server_lines.ts";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ProtocolError, String(e));
    return e.code;
  }
  assert.fail("expected a ProtocolError");
};

Deno.test("validateAlias() accepts 1 to 32 safe characters", () => {
  for (
    const alias of [
      "a",
      "Z",
      "_",
      "bob",
      "Bob_1",
      "j.doe",
      "x-y",
      "9lives",
      "a".repeat(32),
    ]
  ) {
    assert.equal(validateAlias(alias), alias);
  }
});

Deno.test("validateAlias() refuses empty, long, unsafe and reserved aliases", () => {
  assert.equal(code(() => validateAlias("")), "alias-invalid");
  assert.equal(code(() => validateAlias("a".repeat(33))), "alias-invalid");
  for (
    const alias of ["a b", "-x", ".x", "é", "a/b", "a\tb", "<b>", "a\u202eb"]
  ) {
    assert.equal(code(() => validateAlias(alias)), "alias-invalid", alias);
  }
  for (
    const alias of [
      "server",
      "SYSTEM",
      "Admin",
      "root",
      "operator",
      "everyone",
      "nobody",
    ]
  ) {
    assert.equal(code(() => validateAlias(alias)), "alias-reserved", alias);
  }
});

Deno.test("isWellFormedAlias() checks the characters of an alias from a server", () => {
  assert.equal(isWellFormedAlias("alice"), true);
  assert.equal(isWellFormedAlias("a".repeat(33)), false);
  assert.equal(isWellFormedAlias("alice \x1b]0;title\x07"), false);
  assert.equal(isWellFormedAlias(""), false);
});

Deno.test("CAPABILITIES is the one table of capabilities; isCapability() knows only its names", () => {
  assert.deepEqual(Object.keys(CAPABILITIES), ["ids"]);
  assert.equal(isCapability("ids"), true);
  for (const name of ["IDS", "tags", "toString", "constructor", ""]) {
    assert.equal(isCapability(name), false, name);
  }
});

Deno.test("parseCommand() parses /cap with its names, unknown ones included", () => {
  assert.deepEqual(parseCommand("/cap ids"), { kind: "cap", names: ["ids"] });
  assert.deepEqual(parseCommand("/CAP  ids   later "), {
    kind: "cap",
    names: ["ids", "later"],
  });
  assert.equal(code(() => parseCommand("/cap")), "usage");
  assert.equal(code(() => parseCommand("/cap  ")), "usage");
});

Deno.test("splitLineId() takes off a well-formed @id= prefix and refuses a malformed one", () => {
  const id = "AAAAAAAAAAAAAAAAAAAAAA"; // 128 bits in base64url
  assert.deepEqual(splitLineId(`@id=${id} hi all`), { id, rest: "hi all" });
  assert.deepEqual(splitLineId(`@id=${id} /me waves`), {
    id,
    rest: "/me waves",
  });
  assert.deepEqual(splitLineId(`@id=${id}`), { id, rest: "" });
  assert.deepEqual(splitLineId(`@id=${id}  two spaces`), {
    id,
    rest: " two spaces",
  });
  // Only the first prefix is one: the text may hold another.
  assert.deepEqual(splitLineId(`@id=${id} @id=${id} x`), {
    id,
    rest: `@id=${id} x`,
  });
  for (const plain of ["hi", "@bob hi", "@id hi", "@ID=" + id + " hi", ""]) {
    assert.deepEqual(splitLineId(plain), { id: null, rest: plain }, plain);
  }
  const bad = [
    "@id= hi",
    "@id=short hi",
    `@id=${"a".repeat(65)} hi`,
    `@id=${id.slice(1)}+ hi`,
    `@id=${id}\u00e9 hi`,
    `@id=${id.slice(0, 10)}.${id.slice(0, 10)} hi`,
  ];
  for (const line of bad) {
    assert.equal(code(() => splitLineId(line)), "usage", line);
  }
  assert.match(
    (() => {
      try {
        splitLineId("@id=x y");
      } catch (e) {
        return (e as Error).message;
      }
    })() ?? "",
    /^Usage: @id=ID TEXT, where ID is 16 to 64 letters, digits, _ and -$/,
  );
});

Deno.test("isLineId() takes 16 to 64 of A-Z a-z 0-9 _ -", () => {
  assert.equal(isLineId("a".repeat(16)), true);
  assert.equal(isLineId("Z9_-".repeat(16)), true);
  assert.equal(isLineId("a".repeat(15)), false);
  assert.equal(isLineId("a".repeat(65)), false);
  assert.equal(isLineId("a".repeat(15) + "="), false);
});

Deno.test("tagLine() and encodeTaggedLine() put the prefix that splitLineId() takes off", () => {
  const id = "sAAAAAAAAAAAAAAAAAAAAAA";
  const line: ServerLine = { type: "MSG", alias: "amy", text: "hi there" };
  const tagged = tagLine(id, formatServerLine(line));
  assert.equal(tagged, `@id=${id} MSG amy hi there`);
  assert.deepEqual(
    encodeTaggedLine(id, line),
    new TextEncoder().encode(tagged + "\n"),
  );
  const { id: back, rest } = splitLineId(tagged);
  assert.equal(back, id);
  assert.deepEqual(parseServerLine(rest), line);
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

Deno.test("decodeLine() decodes UTF-8 and rejects invalid bytes", () => {
  assert.equal(decodeLine(new TextEncoder().encode("żółw")), "żółw");
  for (
    const bad of [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [
      0xc0,
      0xaf,
    ]]
  ) {
    assert.equal(code(() => decodeLine(Uint8Array.from(bad))), "bad-utf8");
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
