/**
 * What the client's reading ({@linkcode readServer}) shows of a line sent
 * with an id that the server did not store, or perhaps not: the line, and
 * the reason the server gave in its `ERR`. Without sockets: a fake server
 * connection hands over scripted lines.
 */

import assert from "node:assert/strict";
import type { ServerConnection } from "../../lib/client/connection.ts";
import { readServer } from "../../lib/client/dialogue.ts";
import { PendingLines } from "../../lib/client/pending.ts";
import { RoomState } from "../../lib/client/rooms.ts";

const ID = "AAAAAAAAAAAAAAAAAAAAAA";

/** The ERR texts shown after sending `hi` under `ID` and reading `lines`. */
async function shownErrors(lines: string[]): Promise<string[]> {
  const pending = new PendingLines({ newId: () => ID });
  pending.enabled = true;
  pending.tag("hi");
  const queue = [...lines];
  const server = {
    readLine: () => Promise.resolve(queue.shift() ?? null),
    send: () => Promise.resolve(),
    backOff: () => {},
  } as unknown as ServerConnection;
  const shown: string[] = [];
  await readServer(server, {
    print: (line) => {
      if (typeof line !== "string" && line.type === "ERR") {
        shown.push(line.text);
      }
    },
    answer: () => Promise.resolve(false),
    pending,
    rooms: new RoomState("bot"),
    warn: () => {},
  });
  return shown;
}

Deno.test("readServer() shows a line not sent with the server's reason", async () => {
  assert.deepEqual(
    await shownErrors([
      `@id=${ID} ERR unavailable Not sent: the room cannot store messages right now; try again later`,
    ]),
    [
      "Not sent: hi (the room cannot store messages right now; try again later)",
    ],
  );
  assert.deepEqual(
    await shownErrors([
      `@id=${ID} ERR unavailable Not sent (1 line): you were out of #ops before it was stored`,
    ]),
    ["Not sent: hi (you were out of #ops before it was stored)"],
  );
});

Deno.test("readServer() shows a line perhaps not sent with the server's reason", async () => {
  const unknown =
    `@id=${ID} ERR unknown Perhaps not sent: the room's store stopped answering`;
  assert.deepEqual(await shownErrors([unknown, unknown]), [
    "Perhaps not sent (if it was, you will see it): hi (the room's store stopped answering)",
  ]);
});
