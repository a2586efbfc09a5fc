/** Tests of log formatting and level filtering. */

import assert from "node:assert/strict";
import { createLogger, formatLogLine, redact } from "../lib/log.ts";

Deno.test("createLogger() writes lines at its level and above only", () => {
  const lines: string[] = [];
  const log = createLogger("info", (line) => lines.push(line), () => 0);
  log.debug("hidden");
  log.info("join", { alias: "bob", online: 2 });
  log.warn("odd");
  log.error("bad", { error: "Error: x y" });
  assert.deepEqual(lines, [
    "1970-01-01T00:00:00.000Z INFO join alias=bob online=2",
    "1970-01-01T00:00:00.000Z WARN odd",
    '1970-01-01T00:00:00.000Z ERROR bad error="Error: x y"',
  ]);
});

Deno.test("formatLogLine() quotes values that would break key=value parsing", () => {
  assert.equal(
    formatLogLine(0, "debug", "e", {
      a: 'x"y',
      b: "k=v",
      c: "",
      d: undefined,
      e: true,
    }),
    '1970-01-01T00:00:00.000Z DEBUG e a="x\\"y" b="k=v" c="" e=true',
  );
});

Deno.test("formatLogLine() escapes every control character, C1 and DEL too", () => {
  // An Origin header is read as Latin-1: byte 0x9B is U+009B, CSI, which
  // some terminals obey (it was written raw: "CSI 2J" cleared the screen).
  assert.equal(
    formatLogLine(0, "info", "refused", {
      origin: "https://x\u009b2J\u001b[31m\u007f",
    }),
    '1970-01-01T00:00:00.000Z INFO refused origin="https://x\\u009b2J\\u001b[31m\\u007f"',
  );
});

Deno.test("redact() hides the user and all of the password of a URL", () => {
  assert.equal(
    redact("redis://user:secret@redis.example:6379/0"),
    "redis://***@redis.example:6379/0",
  );
  // The last @ ends the password: none of it may show.
  assert.equal(
    redact("redis://:p@ss@redis.example:6379/0"),
    "redis://***@redis.example:6379/0",
  );
  assert.equal(redact("redis://h:6379/0"), "redis://h:6379/0");
  assert.equal(redact("not a url"), "(not a URL)");
});
