/**
 * Tests of rooms (capability `rooms`) with fake members and a fake clock,
 * no sockets: which room each line reaches, joins, parts, history per
 * room, room operators, every refusal and limit, and empty rooms expiring.
 */

import assert from "node:assert/strict";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import { Room } from "../../../lib/server/room/room.ts";
import type {
  AppendOutcome,
  RoomLog,
  RoomLogFailure,
} from "../../../lib/server/room/room_log.ts";
import {
  MemoryRoomStore,
  type RoomStore,
} from "../../../lib/server/room/room_store.ts";
import type { Moderation } from "../../../lib/server/access/moderation.ts";
import {
  rejoin,
  type RoomCommandContext,
} from "../../../lib/server/room/room_commands.ts";
import { roomLine } from "../../../lib/server/room/room_lines.ts";
import { roomSkeleton } from "../../../lib/server/room/room_state.ts";
import { FakeClock } from "../../_fakes.ts";
import { FakeMember, LIMITS, lineIn, refusal, server } from "./_rooms_fakes.ts";
import { ProtocolError } from "../../../lib/protocol.ts";
import type { RoomLimits } from "../../../lib/server/room/rooms.ts";

Deno.test("rooms: a member with rooms gets its own JOIN, CURRENT, and prefixed lines; one without sees today's lines", async () => {
  const { join, line } = server();
  const amy = await join("amy");
  assert.deepEqual(amy.take(), [
    "WELCOME amy 1 Type /help for commands",
    "#lobby JOIN amy 1",
    "CURRENT #lobby",
  ]);
  const old = await join("old", { roomsOn: false });
  assert.deepEqual(old.take(), ["WELCOME old 2 Type /help for commands"]);
  assert.deepEqual(amy.take(), ["#lobby JOIN old 2"]);
  await line(amy, "hi");
  assert.deepEqual(old.take(), ["MSG amy hi"]);
  assert.deepEqual(amy.take(), ["#lobby MSG amy hi"]);
});

Deno.test("rooms: a line in a room reaches its members only; a member of two sees both, prefixed", async () => {
  const { join, line, router } = server();
  const [amy, bob, cat] = [
    await join("amy"),
    await join("bob"),
    await join("cat"),
  ];
  await line(amy, "/join #ops");
  await line(bob, "/join #dev");
  await line(cat, "/join #ops");
  await line(cat, "/join #dev");
  for (const m of [amy, bob, cat]) m.take();
  await line(amy, "#ops deploy done");
  await line(bob, "build green");
  assert.deepEqual(amy.take(), ["#ops MSG amy deploy done"]);
  assert.deepEqual(bob.take(), ["#dev MSG bob build green"]);
  assert.deepEqual(cat.take(), [
    "#ops MSG amy deploy done",
    "#dev MSG bob build green",
  ]);
  assert.equal(router.rooms.get("#ops")!.members.size, 2);
  assert.equal(
    await refusal(() => line(bob, "#ops hi")),
    "not-in-room You are not in #ops",
  );
  // Text starting with # that is not a room prefix is a message.
  await line(cat, "#ops #1 priority");
  assert.deepEqual(amy.take(), ["#ops MSG cat #1 priority"]);
  assert.equal(
    await refusal(() => line(cat, "#ops")),
    "usage Usage: #room TEXT or #room /COMMAND",
  );
});

Deno.test("rooms: /roomban and /mute take an absent account by name; it is kept out, or silent, when it comes; a server operator or an unknown name is refused", async () => {
  const accounts = new Map([
    ["bob", { alias: "Bob", operator: false, fingerprint: null }],
    ["opal", { alias: "opal", operator: true, fingerprint: null }],
  ]);
  const { join, line } = server({}, 50, {
    accounts: { get: (name) => accounts.get(name.toLowerCase()) ?? null },
  });
  const amy = await join("amy");
  await line(amy, "/join #ops");
  amy.take();
  await line(amy, "/roomban bob 1h spam");
  await line(amy, "/mute BOB");
  assert.deepEqual(amy.take().map((l) => l.replace(/ until \S+/, "")), [
    "#ops MOD ban Bob amy by amy spam",
    "#ops MOD mute Bob amy by amy",
  ]);
  await line(amy, "/roombans");
  assert.match(
    amy.take().join("\n"),
    /^BAN account Bob \S+ amy spam\nINFO 1 ban/,
  );
  const bob = await join("Bob", { account: "Bob" });
  assert.match(await refusal(() => line(bob, "/join #ops")), /^room-banned /);
  await line(amy, "/roomunban bob");
  await line(bob, "/join #ops");
  assert.match(await refusal(() => line(bob, "#ops hi")), /^muted /);
  assert.equal(
    await refusal(() => line(amy, "/roomban opal")),
    'not-permitted "opal" is a server operator',
  );
  assert.equal(
    await refusal(() => line(amy, "/mute nobody")),
    'no-such-alias Nobody is called "nobody" and no account has that name',
  );
});

Deno.test("rooms: /join replays the room's own history and topic; /part tells everyone, the parter too, then CURRENT", async () => {
  const { join, line } = server();
  const amy = await join("amy");
  const bob = await join("bob");
  await line(amy, "/join #ops");
  await line(amy, "/topic Deploys");
  await line(amy, "ops line");
  await line(amy, "#lobby lobby line");
  bob.take();
  await line(bob, "/join #OPS");
  const seen = bob.take();
  assert.equal(seen[0], "#ops JOIN bob 2");
  assert.equal(seen[1], "#ops TOPIC amy Deploys");
  assert.match(seen[2]!, /^#ops HIST \d+ \S+ MSG amy ops line$/);
  assert.deepEqual(seen.slice(3), [
    "#ops HISTEND 1 End of history: 1 message",
    "CURRENT #ops",
  ]);
  // Already in: only a switch.
  await line(bob, "/join #lobby");
  assert.deepEqual(bob.take(), ["CURRENT #lobby"]);
  await line(bob, "/who");
  assert.deepEqual(bob.take(), ["#lobby WHO 2 amy bob"]);
  await line(bob, "#ops /who");
  assert.deepEqual(bob.take(), ["#ops WHO 2 @amy bob"]);
  amy.take();
  await line(amy, "/part #ops done here");
  assert.deepEqual(amy.take(), [
    "#ops LEAVE amy 1 part done here",
    "CURRENT #lobby",
  ]);
  assert.deepEqual(bob.take(), ["#ops LEAVE amy 1 part done here"]);
  await line(amy, "/part");
  assert.deepEqual(amy.take(), ["#lobby LEAVE amy 1 part", "CURRENT -"]);
  assert.equal(
    await refusal(() => line(amy, "hello?")),
    "not-in-room You are in no room: /join #room",
  );
});

Deno.test("rooms: a rename and a disconnect are announced in each room of the member, with that room's count", async () => {
  const { join, line, room } = server();
  const amy = await join("amy");
  const bob = await join("bob");
  await line(amy, "/join #ops");
  await line(bob, "/join #ops");
  await line(amy, "/join #dev");
  amy.take();
  bob.take();
  await room.rename(bob, "robert");
  assert.deepEqual(amy.take(), [
    "#lobby NICK bob robert 2",
    "#ops NICK bob robert 2",
  ]);
  room.leave(bob, "quit", "bye");
  assert.deepEqual(amy.take(), [
    "#lobby LEAVE robert 1 quit bye",
    "#ops LEAVE robert 1 quit bye",
  ]);
});

Deno.test("rooms: /rooms lists the busiest first with flags, invite-only rooms only to those who may see them", async () => {
  const { join, line } = server();
  const amy = await join("amy");
  const bob = await join("bob");
  await line(amy, "/join #ops");
  await line(amy, "/key sesame");
  await line(amy, "/join #secret");
  await line(amy, "/inviteonly on");
  amy.take();
  bob.take();
  await line(bob, "/rooms");
  assert.deepEqual(bob.take(), [
    "ROOM #lobby 2 m",
    "ROOM #ops 1 k",
    "INFO 2 rooms",
  ]);
  await line(amy, "/rooms");
  assert.deepEqual(amy.take(), [
    "ROOM #lobby 2 m",
    "ROOM #ops 1 mk",
    "ROOM #secret 1 mi",
    "INFO 3 rooms",
  ]);
});

Deno.test("rooms: /rooms #room reads that room alone: its line, or none it may not see", async () => {
  const { join, line } = server();
  const amy = await join("amy");
  const bob = await join("bob");
  await line(amy, "/join #ops");
  await line(amy, "/key sesame");
  await line(amy, "/join #secret");
  await line(amy, "/inviteonly on");
  amy.take();
  bob.take();
  await line(bob, "/rooms #OPS");
  assert.deepEqual(bob.take(), ["ROOM #ops 1 k", "INFO 1 room"]);
  await line(bob, "/rooms #secret");
  assert.deepEqual(bob.take(), ["INFO 0 rooms"]);
  await line(bob, "/rooms #nowhere");
  assert.deepEqual(bob.take(), ["INFO 0 rooms"]);
  await line(amy, "#ops /rooms #secret");
  assert.deepEqual(amy.take(), ["ROOM #secret 1 mi", "INFO 1 room"]);
  assert.match(await refusal(() => line(bob, "/rooms ops")), /^room-invalid /);
});

Deno.test("rooms: names are checked, look-alikes refused, keys, invites and room bans enforced", async () => {
  const { join, line } = server();
  const amy = await join("amy");
  const bob = await join("bob");
  assert.match(await refusal(() => line(bob, "/join ops")), /^room-invalid /);
  assert.match(
    await refusal(() => line(bob, `/join #${"x".repeat(33)}`)),
    /^room-invalid /,
  );
  await line(amy, "/join #ops");
  assert.equal(
    await refusal(() => line(bob, "/join #0ps")),
    "room-taken Cannot create #0ps: it looks like #ops",
  );
  assert.equal(
    await refusal(() => line(bob, "/join #o-ps")),
    "room-taken Cannot create #o-ps: it looks like #ops",
  );
  await line(amy, "/key sesame");
  assert.match(amy.take().at(-1)!, /^#ops MOD key - amy on$/);
  assert.match(await refusal(() => line(bob, "/join #ops")), /^room-key /);
  assert.match(
    await refusal(() => line(bob, "/join #ops wrong")),
    /^room-key /,
  );
  await line(bob, "/join #ops sesame");
  await line(amy, "/inviteonly on");
  await line(amy, "/roomban bob 1h spam");
  const amySaw = amy.take();
  assert.ok(
    amySaw.includes("#ops MOD invite-only - amy on"),
    amySaw.join("\n"),
  );
  assert.ok(
    amySaw.some((l) => /^#ops MOD ban bob amy /.test(l)),
    amySaw.join("\n"),
  );
  assert.ok(bob.take().includes("#ops LEAVE bob 1 banned spam"));
  assert.match(
    await refusal(() => line(bob, "/join #ops sesame")),
    /^room-banned /,
  );
  await line(amy, "/roombans");
  assert.match(
    amy.take().join("\n"),
    /^BAN address bob \S+ amy spam\nINFO 1 ban in #ops$/,
  );
  await line(amy, "/roomunban bob");
  assert.match(
    await refusal(() => line(bob, "/join #ops sesame")),
    /^room-invite-only /,
  );
  await line(amy, "/invite bob");
  assert.deepEqual(bob.take(), ["INVITE #ops amy"]);
  await line(bob, "/join #ops");
  assert.ok(bob.take().includes("CURRENT #ops"));
});

Deno.test("rooms: only room operators moderate; /op grants it; kicks and mutes are per room", async () => {
  const { join, line } = server();
  const amy = await join("amy");
  const bob = await join("bob");
  const cat = await join("cat");
  await line(amy, "/join #ops");
  await line(bob, "/join #ops");
  await line(cat, "/join #ops");
  assert.match(await refusal(() => line(bob, "/kick cat")), /^not-operator /);
  assert.match(await refusal(() => line(bob, "/topic mine")), /^not-operator /);
  await line(amy, "/op bob");
  for (const m of [amy, bob, cat]) m.take();
  await line(bob, "/mute cat 10m calm down");
  assert.match(cat.take()[0]!, /^#ops MOD mute cat bob /);
  assert.match(
    await refusal(() => line(cat, "#ops hi")),
    /^muted You are muted in #ops/,
  );
  await line(cat, "#lobby still here"); // a mute elsewhere is for that room only
  assert.deepEqual(cat.take(), ["#lobby MSG cat still here"]);
  await line(bob, "/unmute cat");
  await line(bob, "/kick cat bye");
  const seen = cat.take();
  assert.ok(seen.includes("#ops MOD kick cat bob bye"), seen.join("\n"));
  assert.ok(seen.includes("#ops LEAVE cat 2 kicked bye"), seen.join("\n"));
  assert.equal(seen.at(-1), "CURRENT #lobby");
  await line(bob, "/deop bob");
  assert.match(await refusal(() => line(bob, "/kick amy")), /^not-operator /);
});

Deno.test("rooms: a muted member's /part passes on no reason, whether the room's mute or the server's", async () => {
  const { join, line, ctx } = server();
  const amy = await join("amy");
  const cat = await join("cat");
  await line(amy, "/join #ops");
  await line(cat, "/join #ops");
  await line(amy, "#ops /mute cat 10m");
  amy.take();
  await line(cat, "/part #ops buy cheap pills at example.com");
  assert.deepEqual(amy.take(), ["#ops LEAVE cat 1 part"]);
  // Muted server-wide (the session's check refuses): nothing said either.
  const muted = lineIn(ctx, () => {
    throw new ProtocolError("muted", "You are muted");
  });
  await muted(cat, "/part #lobby buy cheap pills at example.com");
  assert.deepEqual(amy.take(), ["#lobby LEAVE cat 1 part"]);
});

Deno.test("rooms: limits: rooms per member, rooms on the server, creations an hour, who may create; each refusal names the room asked first", async () => {
  {
    const { join, line } = server({ maxRoomsPerMember: 2 });
    const amy = await join("amy");
    await line(amy, "/join #a");
    assert.match(
      await refusal(() => line(amy, "/join #b")),
      /^too-many-rooms Cannot join #b: you are in 2 rooms, /,
    );
  }
  {
    const { join, line } = server({ maxRooms: 2 });
    const amy = await join("amy");
    await line(amy, "/join #a");
    assert.match(
      await refusal(() => line(amy, "/join #b")),
      /^rooms-full Cannot create #b: the server has 2 rooms, /,
    );
  }
  {
    const { join, line, clock } = server({ roomCreations: 1 });
    const amy = await join("amy");
    await line(amy, "/join #a");
    assert.match(
      await refusal(() => line(amy, "/join #b")),
      /^room-creations Cannot create #b: you created 1 rooms this hour, /,
    );
    await clock.advance(3_600_001);
    await line(amy, "/join #b");
  }
  {
    const { join, line } = server({ roomCreate: "accounts" });
    const amy = await join("amy");
    assert.match(await refusal(() => line(amy, "/join #a")), /^no-such-room /);
    const bob = await join("bob", { account: "bob" });
    await line(bob, "/join #a");
    await line(amy, "/join #a"); // entering an existing room is not creating
    assert.ok(amy.take().includes("CURRENT #a"));
  }
  {
    const { join, line } = server({ roomCreate: "operators" });
    const bob = await join("bob", { account: "bob" });
    assert.match(await refusal(() => line(bob, "/join #a")), /^no-such-room /);
    const op = await join("op", { account: "op", operator: true });
    await line(op, "/join #a");
  }
});

Deno.test("rooms: an empty unregistered room vanishes after the grace; a registered one stays", async () => {
  const { join, line, router, clock } = server({ roomGraceMs: 60_000 });
  const amy = await join("amy", { account: "amy" });
  await line(amy, "/join #tmp");
  await line(amy, "/join #kept");
  await line(amy, "/register");
  await line(amy, "/part #tmp");
  await line(amy, "/part #kept");
  await clock.advance(59_000);
  assert.ok(router.rooms.get("#tmp"));
  await line(amy, "/join #tmp"); // back within the grace: same room
  await line(amy, "/part #tmp");
  await clock.advance(59_000);
  assert.ok(router.rooms.get("#tmp"));
  await clock.advance(2_000);
  assert.equal(router.rooms.get("#tmp"), undefined);
  assert.ok(router.rooms.get("#kept"));
  assert.ok(router.rooms.get("#lobby"));
  // Its name is free again.
  await line(amy, "/join #tmp");
});

Deno.test("roomSkeleton() ignores #, - and _ and folds look-alike letters", () => {
  assert.equal(roomSkeleton("#ops"), roomSkeleton("#0ps"));
  assert.equal(roomSkeleton("#ops"), roomSkeleton("#o_p-s"));
  assert.notEqual(roomSkeleton("#ops"), roomSkeleton("#dev"));
});

/**
 * A room over a log that does not store the next `JOIN` into a room named
 * in `refuse` (its outcome), a server whose rooms are kept in `store`. A
 * `JOIN` left in doubt (`unknown`) is reported under an id (as a shared
 * log's is), and stored after all, under that id, by `land()`.
 */
function refusingServer(store?: RoomStore, limits: Partial<RoomLimits> = {}) {
  const clock = new FakeClock();
  const inner = new MemoryLog(clock, 100);
  const refuse = new Map<string, AppendOutcome>();
  let failed: RoomLogFailure = () => {};
  const doubts: (() => void)[] = [];
  const land = () => doubts.splice(0).forEach((append) => append());
  const log: RoomLog = {
    epoch: inner.epoch,
    since: (room, after, options) => inner.since(room, after, options),
    subscribe(sink, onFailed) {
      failed = onFailed ?? (() => {});
      inner.subscribe(sink, onFailed);
    },
    append(line, origin, options) {
      const outcome = refuse.get(options?.room ?? "");
      if (outcome && line.type === "JOIN") {
        refuse.delete(options!.room!);
        const id = options?.id ?? `sDoubt${doubts.length}`.padEnd(23, "0");
        doubts.push(() => inner.append(line, origin, { ...options, id }));
        return failed([{ line, origin, id }], outcome, null);
      }
      inner.append(line, origin, options);
    },
    settled: () => inner.settled(),
    recent: (limit) => inner.recent(limit),
    close: () => inner.close(),
  };
  const room = new Room<FakeMember>({
    log,
    announceLimit: 100,
    clock,
    rooms: { ...LIMITS, ...limits, history: 10, store },
  });
  const router = room.router!;
  const ctx = (): RoomCommandContext<FakeMember> => ({
    room,
    router,
    history: 10,
    now: clock.now(),
    moderation: { setTopic() {} } as unknown as Moderation,
    moderate: () => Promise.resolve(),
    accounts: { get: () => null },
  });
  /** Joins as the session does: the default room, then its rooms again. */
  const join = async (alias: string, account: string | null = null) => {
    const member = Object.assign(new FakeMember(), { account });
    await room.join(member, alias, {
      onEnter: () => {
        router.enter(member, router.rooms.default);
        rejoin(ctx(), member, (e) => member.inbox.push(`ERR ${e.code}`));
      },
    });
    return member;
  };
  const hooks = { checkMute() {}, common() {} };
  const line = (member: FakeMember, text: string) =>
    roomLine(ctx(), member, text, hooks);
  return { room, router, refuse, join, line, land, clock };
}

Deno.test("rooms: a /join whose JOIN the log refused or left in doubt is answered with an ERR, and the member is not in the room nor left pending", async () => {
  const { router, refuse, join, line } = refusingServer();
  const amy = await join("amy");
  const bob = await join("bob");
  await line(bob, "/join #b");
  amy.take();
  bob.take();
  refuse.set("#a", "refused");
  await line(amy, "/join #a");
  assert.deepEqual(amy.take(), [
    "ERR unavailable Cannot join #a: the room cannot store events right now; /join #a again later",
  ]);
  assert.equal(router.rooms.joining(amy), false);
  // The room its JOIN would have made is not kept: the log never knew it.
  assert.equal(router.rooms.get("#a"), undefined);
  await line(amy, "/join #a");
  assert.deepEqual(amy.take(), ["#a JOIN amy 1", "CURRENT #a"]);
  // In doubt: told so, and not counted in until the log hands it on.
  refuse.set("#b", "unknown");
  await line(amy, "/join #b");
  assert.deepEqual(amy.take(), [
    "ERR unknown Perhaps not in #b: the room's store stopped answering; if your join was stored, you will enter #b as usual; if not, /join #b again",
  ]);
  assert.equal(router.rooms.joining(amy), false);
  assert.deepEqual(router.rooms.roomsOf(amy), ["#lobby", "#a"]);
  assert.deepEqual([...router.rooms.get("#b")!.everyone.keys()], [bob.id]);
  assert.deepEqual(bob.take(), []);
  await assert.rejects(
    Promise.resolve().then(() => line(amy, "#b hello")),
    /You are not in #b/,
  );
});

Deno.test("rooms: a /join sent again after one left in doubt is sent under the same id: when the first was stored after all, the room sees one JOIN", async () => {
  const { router, refuse, join, line, land } = refusingServer();
  // With ids: her JOIN's echo is tagged, and a duplicate is not echoed.
  const amy = Object.assign(await join("amy"), { lineIds: true });
  const bob = await join("bob");
  await line(bob, "/join #b");
  refuse.set("#b", "unknown");
  await line(amy, "/join #b");
  assert.match(amy.take().join("\n"), /ERR unknown Perhaps not in #b/);
  bob.take();
  // She tries again before the first lands: stored (a log that hangs
  // stores both, the first perhaps behind the second).
  await line(amy, "/join #b");
  const id = "sDoubt0".padEnd(23, "0");
  assert.deepEqual(amy.take(), [`@id=${id} #b JOIN amy 2`, "CURRENT #b"]);
  land();
  assert.deepEqual(amy.take(), []);
  assert.deepEqual(bob.take(), ["#b JOIN amy 2"]);
  assert.deepEqual(router.rooms.roomsOf(amy), ["#lobby", "#b"]);
  assert.equal(router.rooms.joining(amy), false);
  // In, and out: a /join later is a new one (its doubt is over).
  await line(amy, "/part #b");
  await line(amy, "/join #b");
  assert.deepEqual(bob.take(), ["#b LEAVE amy 1 part", "#b JOIN amy 2"]);
});

Deno.test("rooms: a room creation the log refused is given back (--room-creations); one left in doubt still counts", async () => {
  const { router, refuse, join, line } = refusingServer();
  const amy = await join("amy");
  for (let n = 0; n < LIMITS.roomCreations; n++) {
    refuse.set("#new", "refused");
    await line(amy, "/join #new");
    assert.equal(router.rooms.get("#new"), undefined);
  }
  amy.take();
  await line(amy, "/join #new");
  assert.deepEqual(amy.take(), ["#new JOIN amy 1", "CURRENT #new"]);
  for (let n = 1; n < LIMITS.roomCreations; n++) {
    refuse.set(`#doubt${n}`, "unknown");
    await line(amy, `/join #doubt${n}`);
  }
  await assert.rejects(
    Promise.resolve().then(() => line(amy, "/join #more")),
    /Cannot create #more: you created 10 rooms this hour/,
  );
});

Deno.test("rooms: a /join sent again after a doubt that the log refuses leaves the doubt: the first JOIN may still land, so its room is not dropped nor its creation given back", async () => {
  const { router, refuse, join, line, land } = refusingServer();
  const amy = await join("amy");
  refuse.set("#new", "unknown");
  await line(amy, "/join #new");
  // Sent again under the same id while the log still cannot store: this
  // one surely not stored, the first perhaps (a paused store runs it yet).
  refuse.set("#new", "refused");
  await line(amy, "/join #new");
  assert.deepEqual(amy.take().slice(-1), [
    "ERR unknown Perhaps not in #new: the room's store stopped answering; if your join was stored, you will enter #new as usual; if not, /join #new again",
  ]);
  assert.notEqual(router.rooms.get("#new"), undefined);
  land(); // the first was stored after all: she is in the room she made
  assert.deepEqual(router.rooms.roomsOf(amy), ["#lobby", "#new"]);
  // One room made this hour: nine more, not ten.
  for (let n = 1; n < LIMITS.roomCreations; n++) {
    await line(amy, `/join #r${n}`);
    await line(amy, `/part #r${n}`);
  }
  await assert.rejects(
    Promise.resolve().then(() => line(amy, "/join #more")),
    /Cannot create #more: you created 10 rooms this hour/,
  );
});

Deno.test("rooms: a room in doubt that went after the grace, made again by a /join whose resend the log refuses: that second creation is given back, the first still counts", async () => {
  const { router, refuse, join, line, land, clock } = refusingServer();
  const amy = await join("amy");
  refuse.set("#new", "unknown");
  await line(amy, "/join #new");
  await clock.advance(LIMITS.roomGraceMs); // never confirmed: it goes
  assert.equal(router.rooms.get("#new"), undefined);
  refuse.set("#new", "refused");
  await line(amy, "/join #new"); // made again, and its resend refused
  assert.match(amy.take().at(-1)!, /^ERR unknown Perhaps not in #new/);
  land();
  assert.deepEqual(router.rooms.roomsOf(amy), ["#lobby", "#new"]);
  // One room made this hour (counted once): nine more, not eight.
  for (let n = 1; n < LIMITS.roomCreations; n++) {
    await line(amy, `/join #r${n}`);
    await line(amy, `/part #r${n}`);
  }
  await assert.rejects(
    Promise.resolve().then(() => line(amy, "/join #more")),
    /Cannot create #more: you created 10 rooms this hour/,
  );
});

Deno.test("rooms: an account's room rejoined at login whose JOIN the log refused is answered with an ERR, not left pending: /join enters it and makes it current", async () => {
  const store = new MemoryRoomStore(LIMITS);
  const first = refusingServer(store);
  const amy = await first.join("amy", "amy");
  await first.line(amy, "/join #a");
  await first.line(amy, "/register"); // kept across the restart
  first.room.leave(amy, "quit");
  const next = refusingServer(store);
  next.refuse.set("#a", "refused");
  const again = await next.join("amy", "amy");
  const seen = again.take();
  assert.ok(
    seen.includes(
      "ERR unavailable Cannot join #a: the room cannot store events right now; /join #a again later",
    ),
    seen.join("\n"),
  );
  assert.equal(next.router.rooms.joining(again), false);
  assert.deepEqual(next.router.rooms.roomsOf(again), ["#lobby"]);
  await next.line(again, "/join #a");
  assert.deepEqual(again.take(), ["#a JOIN amy 1", "CURRENT #a"]);
});

Deno.test("rooms: /kick in the default room takes a rooms member out of it; one without rooms gets today's kick", async () => {
  const { join, line, router, moderated } = server();
  const op = await join("op", { account: "op", operator: true });
  const amy = await join("amy");
  const old = await join("old", { roomsOn: false });
  await line(op, "/kick amy behave");
  assert.ok(amy.take().includes("#lobby LEAVE amy 2 kicked behave"));
  assert.ok(old.take().includes("LEAVE amy 2 kicked behave"));
  assert.equal(router.rooms.default.members.has(amy.id), false);
  assert.deepEqual(moderated, []);
  await line(op, "/kick old");
  assert.deepEqual(moderated, ["kick"]);
  await line(op, "/mute old");
  assert.deepEqual(moderated, ["kick", "mute"]);
});

Deno.test("rooms: WELCOME counts the default room's members, not those who parted it", async () => {
  const { join, line } = server();
  const amy = await join("amy");
  await line(amy, "/part");
  const bob = await join("bob");
  assert.equal(bob.take()[0], "WELCOME bob 1 Type /help for commands");
});

Deno.test("rooms: a JOIN left in doubt that lands after its member was banned from the room does not put it in", async () => {
  const { router, refuse, join, line, land } = refusingServer();
  const amy = await join("amy");
  const bob = await join("bob");
  await line(bob, "/join #b"); // its creator: an operator of it
  refuse.set("#b", "unknown");
  await line(amy, "/join #b");
  assert.match(amy.take().join("\n"), /ERR unknown Perhaps not in #b/);
  await line(bob, "#b /roomban amy 1h spam");
  await line(bob, "#b said to the room only");
  bob.take();
  land(); // the store ran her JOIN after all, after the ban
  assert.deepEqual(router.rooms.roomsOf(amy), ["#lobby"]);
  await new Promise<void>(queueMicrotask); // her LEAVE, appended after
  assert.equal(router.rooms.get("#b")!.everyone.has(amy.id), false);
  // Out again, as the log says on every server: she read nothing of it.
  assert.deepEqual(bob.take(), ["#b JOIN amy 2", "#b LEAVE amy 1 banned"]);
  assert.deepEqual(amy.take(), ["#b LEAVE amy 1 banned", "CURRENT #lobby"]);
});

Deno.test("rooms: a JOIN left in doubt that lands once its member filled its rooms otherwise does not take it past --max-rooms-per-member", async () => {
  const { router, refuse, join, line, land } = refusingServer(undefined, {
    maxRoomsPerMember: 3,
  });
  const amy = await join("amy");
  const bob = await join("bob");
  for (const room of ["#a", "#b"]) await line(bob, `/join ${room}`);
  refuse.set("#a", "unknown");
  await line(amy, "/join #a");
  assert.match(amy.take().join("\n"), /ERR unknown Perhaps not in #a/);
  // Not counted while in doubt: she fills her rooms.
  await line(amy, "/join #b");
  await line(amy, "/join #c");
  assert.deepEqual(router.rooms.roomsOf(amy), ["#lobby", "#b", "#c"]);
  amy.take();
  bob.take();
  land(); // the store ran her first JOIN after all
  assert.deepEqual(router.rooms.roomsOf(amy), ["#lobby", "#b", "#c"]);
  await new Promise<void>(queueMicrotask); // her LEAVE, appended after
  assert.equal(router.rooms.get("#a")!.everyone.has(amy.id), false);
  assert.deepEqual(amy.take(), [
    "INFO Not in #a: your join of it was stored once you were in 3 rooms, the most one member may be in",
    "#a LEAVE amy 1 part",
    "CURRENT #c",
  ]);
  assert.deepEqual(bob.take(), ["#a JOIN amy 2", "#a LEAVE amy 1 part"]);
  assert.deepEqual(router.rooms.roomsOf(amy), ["#lobby", "#b", "#c"]);
});

Deno.test("rooms: an account's list longer than --max-rooms-per-member (merged after a read of the cluster's list failed) rejoins up to the cap at login: the rest refused and taken off the list", async () => {
  const store = new MemoryRoomStore(LIMITS);
  const first = refusingServer(store);
  const amy = await first.join("amy", "amy");
  for (const room of ["#a", "#b", "#c", "#d"]) {
    await first.line(amy, `/join ${room}`);
    await first.line(amy, "/register"); // kept across the restart
  }
  first.room.leave(amy, "quit");
  assert.deepEqual(
    store.accountRooms("amy").map((r) => r.room),
    ["#a", "#b", "#c", "#d"],
  );
  const next = refusingServer(store, { maxRoomsPerMember: 3 });
  const again = await next.join("amy", "amy");
  assert.deepEqual(
    again.take().filter((l) => l.startsWith("ERR")),
    ["ERR too-many-rooms", "ERR too-many-rooms"],
  );
  assert.deepEqual(next.router.rooms.roomsOf(again), ["#lobby", "#a", "#b"]);
  assert.deepEqual(store.accountRooms("amy").map((r) => r.room), ["#a", "#b"]);
});

Deno.test("rooms: a /join sent again after one left in doubt and a rename goes under the first one's id, as the new alias: the room never sees the old alias join", async () => {
  const { room, router, refuse, join, line, land } = refusingServer();
  const amy = Object.assign(await join("amy"), { lineIds: true });
  const bob = await join("bob");
  await line(bob, "/join #b");
  refuse.set("#b", "unknown");
  await line(amy, "/join #b");
  assert.match(amy.take().join("\n"), /ERR unknown Perhaps not in #b/);
  await room.rename(amy, "amelia");
  bob.take();
  await line(amy, "/join #b"); // under the first one's id, as amelia
  const id = "sDoubt0".padEnd(23, "0");
  assert.deepEqual(amy.take().slice(-2), [
    `@id=${id} #b JOIN amelia 2`,
    "CURRENT #b",
  ]);
  land(); // the first, under that id: not stored again, nothing said
  assert.deepEqual(amy.take(), []);
  assert.deepEqual(bob.take(), ["#b JOIN amelia 2"]);
  assert.deepEqual([...router.rooms.get("#b")!.everyone.values()], [
    "bob",
    "amelia",
  ]);
});
