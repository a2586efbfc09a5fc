/** Tests of the server's lines: their format, parsing and encoding, and the greeting's params. */

import assert from "node:assert/strict";
import {
  encodeServerLine,
  formatHelloParams,
  formatServerLine,
  parseHelloParams,
  parseServerLine,
  SERVER_LINE_FIELDS,
  type ServerLine,
} from "../lib/server_lines.ts";

Deno.test("formatHelloParams() and parseHelloParams() carry the flood limits", () => {
  const text = formatHelloParams({ rate: 2.5, burst: 10, lineBytes: 4096 });
  assert.equal(text, "rate=2.5,burst=10,line=4096");
  assert.deepEqual(parseHelloParams(text), {
    rate: 2.5,
    burst: 10,
    lineBytes: 4096,
  });
  assert.deepEqual(parseHelloParams(""), {});
  assert.equal(
    formatHelloParams({ rate: 5, burst: 10, lineBytes: 4096, auth: "room" }),
    "rate=5,burst=10,line=4096,auth=room",
  );
  assert.equal(parseHelloParams("rate=5,auth=accounts").auth, "accounts");
  assert.equal(parseHelloParams("auth=sometimes").auth, undefined);
  assert.deepEqual(parseHelloParams("Send your alias"), {});
});

Deno.test("formatHelloParams() lists the capabilities offered, parseHelloParams() reads every name", () => {
  const text = formatHelloParams({
    rate: 5,
    burst: 10,
    lineBytes: 4096,
    auth: "room",
    caps: ["ids", "rooms"],
  });
  assert.equal(text, "rate=5,burst=10,line=4096,auth=room,caps=ids+rooms");
  assert.deepEqual(parseHelloParams(text).caps, ["ids", "rooms"]);
  // None offered: no key at all (what older clients saw).
  assert.equal(
    formatHelloParams({ rate: 5, burst: 10, lineBytes: 4096, caps: [] }),
    "rate=5,burst=10,line=4096",
  );
  assert.equal(parseHelloParams("rate=5").caps, undefined);
  assert.deepEqual(parseHelloParams("caps=").caps, []);
});

Deno.test("formatServerLine() and parseServerLine() round-trip every line type", () => {
  const samples: ServerLine[] = [
    {
      type: "HELLO",
      protocol: "tlschat/1",
      server: "room",
      params: "rate=5,burst=10,line=4096",
      text: "Send your alias",
    },
    { type: "WELCOME", alias: "bob", online: "3", text: "Type /help" },
    {
      type: "MSG",
      alias: "bob",
      text: "MSG alice forged? no: still bob's text",
    },
    { type: "ME", alias: "bob", text: "waves" },
    { type: "PRIV", alias: "bob", text: "psst" },
    { type: "SENT", alias: "amy", text: "psst" },
    { type: "NOTICE", alias: "bot", text: "NOTICE amy not amy's" },
    { type: "PRIVNOTICE", alias: "bot", text: "psst" },
    { type: "SENTNOTICE", alias: "bot", text: "psst" },
    { type: "JOIN", alias: "bob", online: "2" },
    {
      type: "LEAVE",
      alias: "bob",
      online: "1",
      reason: "quit",
      text: "bye all",
    },
    { type: "NICK", alias: "bob", newAlias: "rob", online: "2" },
    { type: "PRESENCE", joined: "5", left: "2", online: "103" },
    { type: "WHO", online: "2", aliases: "@amy bob" },
    { type: "PASSWORD", kind: "room", text: "This room has a password" },
    { type: "TOPIC", alias: "amy", text: "Release day" },
    {
      type: "HIST",
      seq: "41",
      time: "2026-11-26T15:04:05.123Z",
      kind: "MSG",
      alias: "bob",
      text: "said before you came",
    },
    { type: "HISTEND", count: "1", text: "End of history: 1 message" },
    { type: "MOD", action: "kick", alias: "bob", by: "amy", text: "spam" },
    {
      type: "BAN",
      kind: "account",
      target: "bob",
      until: "2026-12-01T00:00:00.000Z",
      by: "amy",
      text: "spam",
    },
    { type: "INFO", text: "a b c" },
    { type: "ERR", code: "usage", text: "Usage: /me ACTION" },
    { type: "PING", token: "42" },
    { type: "BYE", reason: "quit", text: "Goodbye" },
    { type: "CAP", caps: "ids" },
    { type: "ROOM", room: "#ops", members: "3", flags: "mk", topic: "Deploys" },
    { type: "CURRENT", room: "#ops" },
    { type: "INVITE", room: "#ops", by: "amy" },
    {
      type: "FOUND",
      room: "#ops",
      seq: "42",
      time: "2026-11-26T15:04:05.123Z",
      kind: "MSG",
      alias: "amy",
      text: "deploy on Friday",
    },
    { type: "FOUNDEND", count: "1", text: "End of search: 1 line" },
    { type: "RESUMED", last: "120", missing: "?", text: "Caught up" },
    {
      type: "RESUME",
      token: "AAAAAAAAAAAAAAAAAAAAAA",
      seconds: "30",
      text: "Come back within 30 s",
    },
    { type: "READ", seq: "120" },
  ];
  assert.deepEqual(
    samples.map((l) => l.type).sort(),
    Object.keys(SERVER_LINE_FIELDS).sort(),
  );
  for (const line of samples) {
    const text = formatServerLine(line);
    assert.deepEqual(parseServerLine(text), line, text);
    assert.deepEqual(
      encodeServerLine(line),
      new TextEncoder().encode(text + "\n"),
    );
  }
});

Deno.test("formatServerLine() leaves out empty trailing fields only", () => {
  assert.equal(
    formatServerLine({
      type: "LEAVE",
      alias: "bob",
      online: "1",
      reason: "disconnect",
      text: "",
    }),
    "LEAVE bob 1 disconnect",
  );
  assert.equal(
    formatServerLine({ type: "WHO", online: "0", aliases: "" }),
    "WHO 0",
  );
  assert.deepEqual(parseServerLine("LEAVE bob 1 disconnect"), {
    type: "LEAVE",
    alias: "bob",
    online: "1",
    reason: "disconnect",
    text: "",
  });
});

Deno.test("parseServerLine() returns undefined for an unknown type", () => {
  assert.equal(parseServerLine("FUTURE thing"), undefined);
  assert.equal(parseServerLine("msg lowercase"), undefined);
  assert.equal(parseServerLine("constructor x"), undefined);
});
