/** Tests of IRC lines as messages and back, without sockets. */

import assert from "node:assert/strict";
import {
  formatIrcLine,
  parseIrcLine,
  splitBytes,
  withoutTags,
} from "../../../lib/server/irc/parse.ts";

Deno.test("parseIrcLine() reads tags (unescaped), source, middle and trailing params", () => {
  assert.deepEqual(
    parseIrcLine("@a=1\\:2\\s3;b :n!u@h PRIVMSG #x :  two  spaces "),
    {
      tags: { a: "1;2 3", b: "" },
      source: "n!u@h",
      command: "PRIVMSG",
      params: ["#x", "  two  spaces "],
    },
  );
  assert.deepEqual(parseIrcLine("nick  bob"), {
    command: "NICK",
    params: ["bob"],
  });
  assert.deepEqual(parseIrcLine("TOPIC #x :"), {
    command: "TOPIC",
    params: ["#x", ""],
  });
  assert.equal(parseIrcLine(""), null);
  assert.equal(parseIrcLine("@tags-only"), null);
  assert.equal(parseIrcLine(":source-only"), null);
});

Deno.test("formatIrcLine() puts a colon before text and where one is needed, and escapes tags", () => {
  assert.equal(
    formatIrcLine({ command: "PRIVMSG", params: ["#x", "hi"] }),
    "PRIVMSG #x :hi",
  );
  assert.equal(formatIrcLine({ command: "JOIN", params: ["#x"] }), "JOIN #x");
  assert.equal(
    formatIrcLine({ command: "MODE", params: ["#x", "+b", ":odd"] }),
    "MODE #x +b ::odd",
  );
  assert.equal(
    formatIrcLine({ tags: { t: "a b;c\\" }, command: "PING", params: ["x"] }),
    "@t=a\\sb\\:c\\\\ PING x",
  );
  const line = "@time=T :bob!bob@tlschat PRIVMSG #x :hi there";
  assert.equal(formatIrcLine(parseIrcLine(line)!), line);
});

Deno.test("withoutTags() is the part the 512-byte limit counts", () => {
  assert.equal(withoutTags("@a=b  PING x"), "PING x");
  assert.equal(withoutTags("PING x"), "PING x");
});

Deno.test("splitBytes() never cuts a character, and keeps every part within the bytes", () => {
  const text = "é".repeat(5) + "👩‍💻" + "x".repeat(7);
  const parts = splitBytes(text, 6);
  assert.equal(parts.join(""), text);
  for (const part of parts) {
    assert.ok(new TextEncoder().encode(part).length <= 6, part);
  }
  assert.deepEqual(splitBytes("", 5), [""]);
});
