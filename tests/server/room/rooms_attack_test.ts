/**
 * The rooms as an attacker sees them (issue 16's review), with fake members
 * and a fake clock: names that fold into ASCII from elsewhere, operator
 * rights left behind under a guest's alias, sanction lists that grow with
 * each repeat, creations counted per address group, room bans where they
 * cannot hold, and odd arguments to every room command (never a crash).
 */

import assert from "node:assert/strict";
import {
  ProtocolError,
  splitRoomPrefix,
  validateRoomName,
} from "../../../lib/protocol.ts";
import { refusal, server } from "./_rooms_fakes.ts";

Deno.test("room names: only ASCII folds; the Kelvin sign is not a K", () => {
  assert.throws(() => validateRoomName("#\u212Aey"), /room-invalid|Room name/);
  assert.throws(
    () => validateRoomName(`#${"\u212A".repeat(32)}`),
    /Room name/,
  );
  assert.deepEqual(splitRoomPrefix("#\u212Aey hi"), {
    room: null,
    rest: "#\u212Aey hi",
  });
  assert.equal(validateRoomName("#KEY"), "#key");
});

Deno.test("rooms: a guest is opped only in a room it is in; its rights do not outlive its stay for its alias's next holder", async () => {
  const { join, line, room, router } = server();
  const amy = await join("amy");
  await line(amy, "/join #ops");
  const bob = await join("bob");
  assert.match(await refusal(() => line(amy, "#ops /op bob")), /^not-in-room /);
  await line(bob, "/join #ops");
  await line(amy, "#ops /op bob");
  await line(bob, "/part #ops");
  room.leave(bob, "quit", "");
  const mallory = await join("bob");
  await line(mallory, "/join #ops");
  assert.equal(router.rooms.get("#ops")!.isOperator(mallory), false);
});

Deno.test("rooms: a guest operator's rename takes its rights along, not leaving them to its old alias", async () => {
  const { join, line, room, router } = server();
  const amy = await join("amy");
  await line(amy, "/join #ops");
  await room.rename(amy, "amelia");
  const mallory = await join("amy");
  await line(mallory, "/join #ops");
  const ops = router.rooms.get("#ops")!;
  assert.equal(ops.isOperator(mallory), false);
  assert.equal(ops.isOperator(amy), true);
});

Deno.test("rooms: repeating /roomban or /mute of a member replaces its sanction instead of adding one", async () => {
  const { join, line, router } = server();
  const amy = await join("amy");
  const bob = await join("bob");
  await line(amy, "/join #ops");
  await line(bob, "/join #ops");
  for (let i = 0; i < 5; i++) {
    await line(amy, "#ops /mute bob 10m");
    await line(amy, "#ops /roomban bob 10m");
  }
  const { record } = router.rooms.get("#ops")!;
  assert.equal(record.mutes.length, 1);
  assert.equal(record.bans.length, 1);
});

Deno.test("rooms: guests' creations are counted per address group (an IPv6 /64), not per address", async () => {
  const { join, line } = server({ roomCreations: 1 });
  const a = await join("a", { host: "2001:db8::1" });
  const b = await join("b", { host: "2001:db8::2" });
  await line(a, "/join #one");
  assert.match(await refusal(() => line(b, "/join #two")), /^room-creations /);
});

Deno.test("rooms: guests' creations are counted per IPv6 /48 too: one site's /64s cannot fill --max-rooms (each IPv4 address, and each account, keeps its own count)", async () => {
  const { join, line, router } = server({ roomCreations: 2 });
  for (let i = 1; i <= 2; i++) {
    const guest = await join(`g${i}`, { host: `2001:db8:0:${i}::1` });
    await line(guest, `/join #site${i}`);
  }
  const next = await join("g3", { host: "2001:db8:0:3::1" });
  assert.match(
    await refusal(() => line(next, "/join #site3")),
    /^room-creations /,
  );
  const elsewhere = await join("g4", { host: "2001:db8:1:4::1" });
  await line(elsewhere, "/join #other48");
  for (const host of ["192.0.2.1", "192.0.2.2", "192.0.2.3"]) {
    const guest = await join(`v${host.at(-1)}`, { host });
    await line(guest, `/join #v${host.at(-1)}`);
  }
  const amy = await join("amy", { account: "amy", host: "2001:db8:0:5::1" });
  await line(amy, "/join #amys");
  for (const room of ["#site1", "#site2", "#other48", "#v3", "#amys"]) {
    assert.ok(router.rooms.get(room), room);
  }
  assert.equal(router.rooms.get("#site3"), undefined);
});

Deno.test("rooms: a room ban in the default room is refused (bans there are /ban's), leaving nobody half in", async () => {
  const { join, line, router } = server();
  const op = await join("op", { operator: true });
  const old = await join("old", { roomsOn: false });
  assert.match(await refusal(() => line(op, "/roomban old")), /^usage /);
  assert.ok(router.rooms.default.members.has(old.id));
});

Deno.test("rooms: odd arguments to room commands get an ERR, never a crash", async () => {
  const { join, line } = server();
  const amy = await join("amy", { account: "amy" });
  const bob = await join("bob");
  await line(amy, "/join #a");
  const odd = [
    "#",
    "# x",
    "#".repeat(40),
    `#${"a".repeat(40)} hi`,
    "/join #",
    "/join # x",
    `/join #${"a".repeat(40)}`,
    "/join #a KEY EXTRA",
    "/join a",
    "/join #\u00e9t\u00e9",
    "/part #nope",
    "/part #",
    "/part",
    "/part #lobby",
    "/part #lobby",
    "/op amy",
    "/op",
    "/deop amy",
    "/kick amy",
    "/kick",
    "/mute",
    "/roomban",
    "/roomunban nobody",
    "/unmute nobody",
    "/key",
    "/key \u00e9\u{1F600}",
    "/key -",
    "/inviteonly maybe",
    "/invite",
    "/invite nobody",
    "/invite \u{1F600}",
    "/who extra",
    "/history -1",
    "/history 999999999999",
    "/topic \u{1F600}",
    "/register",
    "/rooms extra",
    "#a /join #a",
    "#a /part #a",
    "#a /rooms",
  ];
  for (const text of [...odd, ...odd.map((t) => `#a ${t}`)]) {
    for (const who of [amy, bob]) {
      try {
        await line(who, text);
      } catch (error) {
        if (!(error instanceof ProtocolError)) {
          throw new Error(`${who.alias}: ${text}: ${error}`);
        }
      }
    }
  }
});

Deno.test("rooms: an operator who is gone can still be deopped by name", async () => {
  const { join, line, room, router } = server();
  const amy = await join("amy", { account: "amy" });
  const eve = await join("eve", { account: "eve" });
  await line(amy, "/join #ops");
  await line(eve, "/join #ops");
  await line(amy, "/op eve");
  room.leave(eve, "quit", "");
  await line(amy, "#ops /deop eve");
  assert.deepEqual(router.rooms.get("#ops")!.record.operators, ["amy"]);
  assert.match(
    await refusal(() => line(amy, "#ops /deop nobody")),
    /^no-such-alias /,
  );
});

Deno.test("rooms: a guest's invitation is not left to the next holder of its alias, and follows its rename", async () => {
  const { join, line, room } = server();
  const amy = await join("amy", { account: "amy" });
  await line(amy, "/join #club");
  await line(amy, "/inviteonly on");
  const bob = await join("bob");
  const cat = await join("cat");
  await line(amy, "#club /invite bob");
  await line(amy, "#club /invite cat");
  room.leave(bob, "quit", "");
  const mallory = await join("bob");
  assert.match(
    await refusal(() => line(mallory, "/join #club")),
    /^room-invite-only /,
  );
  await room.rename(cat, "kit");
  const eve = await join("cat");
  assert.match(
    await refusal(() => line(eve, "/join #club")),
    /^room-invite-only /,
  );
  await line(cat, "/join #club");
  assert.ok(cat.take().includes("CURRENT #club"));
});

Deno.test("rooms: a member without rooms sees no room-only MOD action nor INVITE, and the default room cannot be registered", async () => {
  const { join, line } = server();
  const op = await join("op", { operator: true });
  const old = await join("old", { roomsOn: false });
  const bob = await join("bob");
  old.take();
  await line(op, "/op bob");
  await line(op, "/deop bob");
  await line(op, "/join #ops");
  await line(op, "#ops /invite old");
  assert.match(await refusal(() => line(op, "#lobby /register")), /^usage /);
  assert.deepEqual(old.take(), []);
  assert.ok(bob.take().includes("#lobby MOD op bob op"));
});
