/** Tests of the flag tables shared by every role (`lib/flags.ts`). */

import assert from "node:assert/strict";
import { parseFlags } from "../lib/flags.ts";

const FLAGS = {
  port: { type: "string", value: "N", help: "Port" },
  history: { type: "boolean", help: "Print history" },
} as const;

Deno.test("parseFlags() names an unknown flag, a missing value and a value given to a switch plainly", () => {
  const cases: [string[], string][] = [
    [
      ["--bogus"],
      'Cannot parse arguments: unknown option "--bogus"',
    ],
    [["-x"], 'Cannot parse arguments: unknown option "-x"'],
    [["--port"], 'Cannot parse arguments: "--port" needs a value'],
    [["--history=yes"], 'Cannot parse arguments: "--history" takes no value'],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseFlags(FLAGS, args), new TypeError(message));
  }
  const { values } = parseFlags(FLAGS, ["--port", "7443", "--history"]);
  assert.deepEqual({ ...values }, {
    port: "7443",
    history: true,
  });
});

Deno.test("parseFlags() takes a negative number after a flag as its value, for the range check to refuse", () => {
  // "--port -1" said '"--port" needs a value', one having been given.
  const { values } = parseFlags(FLAGS, ["--port", "-1"]);
  assert.equal(values.port, "-1");
  assert.throws(
    () => parseFlags(FLAGS, ["--port", "-x"]),
    new TypeError('Cannot parse arguments: "--port" needs a value'),
  );
});
