/** Tests of the client's side of the wire protocol: aliases, capabilities, line ids, decoding. */

import assert from "node:assert/strict";
import {
  CAPABILITIES,
  decodeLine,
  encodeTaggedLine,
  isCapability,
  isLineId,
  isWellFormedAlias,
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
      "NickServ",
      "chanserv",
      "SaslServ",
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
  assert.deepEqual(Object.keys(CAPABILITIES), [
    "ids",
    "rooms",
    "seq",
    "resume",
    "notice",
  ]);
  assert.equal(isCapability("ids"), true);
  for (const name of ["IDS", "tags", "toString", "constructor", ""]) {
    assert.equal(isCapability(name), false, name);
  }
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
