/** Tests of the order the client sends lines in, with rooms: no sockets. */

import assert from "node:assert/strict";
import { Outbox } from "../../lib/client/outbox.ts";
import { PendingLines } from "../../lib/client/pending.ts";
import { RoomState, splitRoomLine } from "../../lib/client/rooms.ts";
import { parseServerLine } from "../../lib/server_lines.ts";
import { settle } from "../_fakes.ts";

/** An outbox whose lines land in `sent`, rooms on or off, ids on or off. */
function outbox(options: { rooms: boolean; ids?: boolean }) {
  const sent: string[] = [];
  const rooms = new RoomState("bot");
  rooms.enabled = options.rooms;
  let n = 0;
  const pending = new PendingLines({ newId: () => `id${++n}`.padEnd(16, "0") });
  pending.enabled = options.ids ?? false;
  const box = new Outbox(rooms, pending, (line) => {
    sent.push(line);
    return Promise.resolve();
  });
  const hear = (text: string) => {
    const { room, rest } = splitRoomLine(text);
    rooms.see(room, parseServerLine(rest) ?? rest);
  };
  return { sent, rooms, pending, box, hear };
}

Deno.test("Outbox sends nothing until the server says the current room, then each line to it", async () => {
  const { sent, rooms, box, hear } = outbox({ rooms: true });
  rooms.welcomed();
  const lines = ["first", "/who"].map((line) => box.send(line));
  await settle();
  assert.deepEqual(sent, []);
  hear("#lobby JOIN bot 1");
  hear("CURRENT #lobby");
  await Promise.all(lines);
  assert.deepEqual(sent, ["#lobby first", "#lobby /who"]);
});

Deno.test("Outbox keeps piped order: a line after /join goes to the room joined", async () => {
  const { sent, rooms, box, hear } = outbox({ rooms: true });
  rooms.welcomed();
  hear("#lobby JOIN bot 1");
  hear("CURRENT #lobby");
  const lines = ["/join #ops", "deploy done", "/join #nope", "still ops"]
    .map((line) => box.send(line));
  await settle();
  assert.deepEqual(sent, ["/join #ops"], "held until the join is answered");
  hear("#ops JOIN bot 1");
  hear("#ops HISTEND 0 No history");
  await settle();
  assert.deepEqual(sent, ["/join #ops"]);
  hear("CURRENT #ops");
  await settle();
  assert.deepEqual(sent, ["/join #ops", "#ops deploy done", "/join #nope"]);
  hear("ERR no-such-room No room #nope");
  await Promise.all(lines);
  assert.deepEqual(sent.slice(3), ["#ops still ops"]);
});

Deno.test("Outbox puts the id before the room, and sends a line again with both", async () => {
  const { sent, rooms, pending, box, hear } = outbox({
    rooms: true,
    ids: true,
  });
  rooms.welcomed();
  hear("CURRENT #ops");
  await box.send("hello");
  await box.send("/who");
  const id = "id1".padEnd(16, "0");
  assert.deepEqual(sent, [`@id=${id} #ops hello`, "#ops /who"]);
  const again = pending.answer(id, parseServerLine("ERR unknown Not sure"));
  assert.deepEqual(again.kind === "resend" && again.line, sent[0]);
  assert.deepEqual(pending.unanswered()[0]?.text, "hello");
});

Deno.test("Outbox without the rooms capability sends lines as they are", async () => {
  const { sent, rooms, box } = outbox({ rooms: false, ids: true });
  rooms.welcomed();
  for (const line of ["hi", "/join #ops", "after"]) await box.send(line);
  const id = (n: number) => `id${n}`.padEnd(16, "0");
  assert.deepEqual(sent, [
    `@id=${id(1)} hi`,
    "/join #ops",
    `@id=${id(2)} after`,
  ]);
});

Deno.test("Outbox.idle() waits for answers to ids and to a room change", async () => {
  const { rooms, pending, box, hear } = outbox({ rooms: true, ids: true });
  rooms.welcomed();
  hear("CURRENT #lobby");
  await box.send("hi");
  await box.send("/join #ops");
  let idle = false;
  box.idle().then(() => idle = true);
  pending.answer("id1".padEnd(16, "0"), parseServerLine("MSG bot hi"));
  await settle();
  assert.equal(idle, false, "the join is not answered yet");
  hear("CURRENT #ops");
  await settle();
  assert.equal(idle, true);
});

Deno.test("Outbox.join() joins each room in turn, before a line given meanwhile", async () => {
  const { sent, rooms, box, hear } = outbox({ rooms: true });
  rooms.welcomed();
  hear("CURRENT #lobby");
  const joining = box.join(["#a", "#b"]);
  const line = box.send("hi");
  await settle();
  assert.deepEqual(sent, ["/join #a"]);
  hear("CURRENT #a");
  await settle();
  assert.deepEqual(sent, ["/join #a", "/join #b"]);
  hear("CURRENT #b");
  await Promise.all([joining, line]);
  assert.deepEqual(sent, ["/join #a", "/join #b", "#b hi"]);
});

Deno.test("Outbox.join() joins a room again with the key it was entered with", async () => {
  const { sent, rooms, box, hear } = outbox({ rooms: true });
  rooms.welcomed();
  hear("CURRENT #lobby");
  await box.send("/join #ops s3cret");
  hear("#ops JOIN bot 2");
  hear("CURRENT #ops");
  rooms.lost(); // a new connection
  rooms.welcomed();
  hear("CURRENT #lobby");
  await box.join(["#ops"]);
  assert.deepEqual(sent, ["/join #ops s3cret", "/join #ops s3cret"]);
});
