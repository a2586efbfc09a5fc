/**
 * What the client's reading ({@linkcode readServer}) does with the echo
 * of a line it sent again under its id, in a room other than the default
 * one, with `ids rooms seq`: the server echoes it as the first time
 * (`@id=ID;seq=N;time=T #den MSG ...`). Without sockets: a fake server
 * connection hands over scripted lines.
 */

import assert from "node:assert/strict";
import type { ServerConnection } from "../../lib/client/connection.ts";
import { readServer } from "../../lib/client/dialogue.ts";
import { PendingLines } from "../../lib/client/pending.ts";
import { ResumeState } from "../../lib/client/resume.ts";
import { RoomState } from "../../lib/client/rooms.ts";
import type { ServerLine } from "../../lib/server_lines.ts";

const ID = "AAAAAAAAAAAAAAAAAAAAAA";
const T = "2026-12-07T18:00:00.000Z";

/**
 * Reads `lines` as bot, in `#lobby` and `#den` (current), with one line
 * `cut 0` sent to `#den` under `ID` and not answered; `pastShown` as in
 * pipe mode without `--history` (false) or on a terminal. Returns what
 * was printed, each with its room label, and the line still unanswered.
 */
async function read(lines: string[], pastShown: boolean) {
  const rooms = new RoomState("bot");
  rooms.enabled = true;
  const pending = new PendingLines({ newId: () => ID });
  pending.enabled = true;
  const queue = [
    `@seq=1;time=${T} #lobby JOIN bot 1`,
    "CURRENT #lobby",
    ...lines,
  ];
  const server = {
    readLine: () => Promise.resolve(queue.shift() ?? null),
    send: () => Promise.resolve(),
    backOff: () => {},
  } as unknown as ServerConnection;
  const printed: string[] = [];
  const print = (line: ServerLine | string, room?: string | null) => {
    const text = typeof line === "string"
      ? line
      : `${line.type} ${"alias" in line ? line.alias : ""} ${
        "text" in line ? line.text : ""
      }`.trim();
    printed.push(room ? `${room} ${text}` : text);
  };
  const resume = new ResumeState();
  resume.greeted("e1", true);
  assert.equal(pending.tag("cut 0", "#den"), `@id=${ID} #den cut 0`);
  await readServer(server, {
    print,
    answer: () => Promise.resolve(false),
    pending,
    rooms,
    warn: () => {},
    resume,
    pastShown,
  });
  return { printed, unanswered: pending.size };
}

for (const pastShown of [false, true]) {
  Deno.test(`readServer() shows a resend's echo in its room when the line was not shown, though numbered below its rejoin (past ${pastShown})`, async () => {
    // A new connection (no catch-up): back in #den after the line was
    // stored, its echo lost with the old connection.
    const { printed, unanswered } = await read([
      `@seq=5;time=${T} #den JOIN bot 1`,
      "CURRENT #den",
      `@id=${ID};seq=3;time=${T} #den MSG bot cut 0`,
    ], pastShown);
    assert.deepEqual(printed.filter((line) => line.endsWith("cut 0")), [
      "#den MSG bot cut 0",
    ]);
    assert.equal(unanswered, 0);
  });

  Deno.test(`readServer() shows a resend's echo not again when the room's catch-up showed its line (past ${pastShown})`, async () => {
    const { printed, unanswered } = await read([
      `@seq=2;time=${T} #den JOIN bot 1`,
      "CURRENT #den",
      `@seq=3;time=${T} #den MSG bot cut 0`,
      `@id=${ID};seq=3;time=${T} #den MSG bot cut 0`,
    ], pastShown);
    assert.deepEqual(printed.filter((line) => line.endsWith("cut 0")), [
      "#den MSG bot cut 0",
    ]);
    assert.equal(unanswered, 0);
  });
}
