/**
 * What the client's reading ({@linkcode readServer}) hands on of a topic's
 * or a ban's `@time=` tag (when it was set): the time to show with the
 * line, only on a line without a number (a live change's time is its own,
 * and the terminal shows when it came). Without sockets: a fake server
 * connection hands over scripted lines.
 */

import assert from "node:assert/strict";
import type { ServerConnection } from "../../lib/client/connection.ts";
import { readServer } from "../../lib/client/dialogue.ts";
import { PendingLines } from "../../lib/client/pending.ts";
import { RoomState } from "../../lib/client/rooms.ts";
import type { ServerLine } from "../../lib/server_lines.ts";

const T = "2026-12-07T21:00:00.000Z";

Deno.test("readServer() shows a topic or a ban with the time its @time= tag says it was set; a numbered TOPIC (a change) and untagged lines without", async () => {
  const rooms = new RoomState("bot");
  rooms.enabled = true;
  const queue = [
    `@seq=1;time=${T} #lobby JOIN bot 1`,
    "CURRENT #lobby",
    `@time=${T} #lobby TOPIC opal Read the FAQ`,
    `@seq=2;time=${T} #lobby TOPIC opal Changed`,
    "#lobby TOPIC opal Old one",
    `@time=${T} BAN account bob - opal spam`,
    "@time=soon BAN account eve - opal x",
  ];
  const server = {
    readLine: () => Promise.resolve(queue.shift() ?? null),
    send: () => Promise.resolve(),
    backOff: () => {},
  } as unknown as ServerConnection;
  const printed: [string, string | null][] = [];
  const print = (line: ServerLine | string, _?: string | null, at?: Date) => {
    if (typeof line === "string" || !["TOPIC", "BAN"].includes(line.type)) {
      return;
    }
    const text = "text" in line ? line.text : "";
    printed.push([text, at?.toISOString() ?? null]);
  };
  await readServer(server, {
    print,
    answer: () => Promise.resolve(false),
    pending: new PendingLines({ newId: () => "AAAAAAAAAAAAAAAAAAAAAA" }),
    rooms,
    warn: () => {},
  });
  assert.deepEqual(printed, [
    ["Read the FAQ", T],
    ["Changed", null],
    ["Old one", null],
    ["spam", T],
    ["x", null],
  ]);
});
