/**
 * What a piped client's exit status makes of the server's answers to the
 * lines it sent with ids ({@linkcode PipeOutcome} fed what
 * {@linkcode readServer} shows): delivered, not sent, in doubt then
 * delivered, in doubt for good. Without sockets: a fake server connection
 * hands over scripted lines.
 */

import assert from "node:assert/strict";
import type { ServerConnection } from "../../lib/client/connection.ts";
import { readServer } from "../../lib/client/dialogue.ts";
import { PendingLines } from "../../lib/client/pending.ts";
import {
  EXIT_NOT_DELIVERED,
  PipeOutcome,
} from "../../lib/client/pipe_outcome.ts";
import { RoomState } from "../../lib/client/rooms.ts";

const ID = "AAAAAAAAAAAAAAAAAAAAAA";

/**
 * Reads `lines` as bot, joined, after sending `hi` under `ID`; returns the
 * exit code a session that ended normally gets, and what was sent again.
 */
async function exitAfter(lines: string[]) {
  const rooms = new RoomState("bot");
  const pending = new PendingLines({ newId: () => ID });
  pending.enabled = true;
  assert.equal(pending.tag("hi"), `@id=${ID} hi`);
  const queue = [...lines];
  const sent: string[] = [];
  const server = {
    readLine: () => Promise.resolve(queue.shift() ?? null),
    send: (line: string) => {
      sent.push(line);
      return Promise.resolve();
    },
    backOff: () => {},
  } as unknown as ServerConnection;
  const outcome = new PipeOutcome();
  outcome.joined = true;
  await readServer(server, {
    print: (line) => outcome.see(line),
    answer: () => Promise.resolve(false),
    pending,
    rooms,
    warn: () => {},
  });
  return { code: outcome.exitCode(0), sent };
}

const UNKNOWN =
  `@id=${ID} ERR unknown Perhaps not sent: the room's store stopped answering`;

Deno.test("PipeOutcome.exitCode() is 0 for a line echoed, and for one in doubt whose resend was echoed", async () => {
  assert.equal((await exitAfter([`@id=${ID} MSG bot hi`])).code, 0);
  const resent = await exitAfter([UNKNOWN, `@id=${ID} MSG bot hi`]);
  assert.deepEqual(resent.sent, [`@id=${ID} hi`]);
  assert.equal(resent.code, 0);
});

Deno.test("PipeOutcome.exitCode() is 3 for a line not stored, one refused, and one in doubt twice", async () => {
  const notStored = await exitAfter([
    `@id=${ID} ERR unavailable Not sent: the room cannot store messages right now; try again later`,
  ]);
  assert.equal(notStored.code, EXIT_NOT_DELIVERED);
  const muted = await exitAfter([`@id=${ID} ERR muted You are muted`]);
  assert.equal(muted.code, EXIT_NOT_DELIVERED);
  const doubt = await exitAfter([UNKNOWN, UNKNOWN]);
  assert.equal(doubt.code, EXIT_NOT_DELIVERED);
  // A command refused (no id) is a line not delivered too.
  const command = await exitAfter([
    `@id=${ID} MSG bot hi`,
    'ERR no-such-alias No one called "nobody" is here',
  ]);
  assert.equal(command.code, EXIT_NOT_DELIVERED);
});

Deno.test("PipeOutcome.exitCode() is 0 when the server only delayed a line (ERR flood) and then stored it", async () => {
  // The server's flood warning says the lines are delayed, not dropped
  // (the client backs off): every line was delivered, as the README's
  // exit status 0 says; it was 3.
  const delayed = await exitAfter([
    "ERR flood Slow down: more than 10 lines per second; your lines are delayed, and you will be disconnected if you keep on",
    `@id=${ID} MSG bot hi`,
  ]);
  assert.equal(delayed.code, 0);
});

Deno.test("PipeOutcome counts a line of stdin too long to send, not an ERR before joining, and keeps a failure's own code", () => {
  const outcome = new PipeOutcome();
  outcome.see({ type: "ERR", code: "alias-taken", text: "Taken" });
  assert.equal(outcome.exitCode(0), 0);
  outcome.skipped();
  assert.equal(outcome.exitCode(0), EXIT_NOT_DELIVERED);
  assert.equal(outcome.exitCode(1), 1);
  assert.equal(
    outcome.summary(),
    '1 line refused or perhaps not sent (the "!" lines above): exit status 3',
  );
});
