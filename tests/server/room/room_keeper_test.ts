/**
 * What rooms keep across restarts, with fake members, a fake clock and a
 * `MemoryRoomStore` shared by two servers (a restart): a registered room's
 * record stored after each change and loaded by the next server (guests'
 * operator rights and temporary rooms never stored), an account's rooms
 * stored on join and part (with the incarnation joined) and joined again
 * at login if still that incarnation, the per-room list limit, a store
 * that fails, and the list a cluster's servers share.
 */

import assert from "node:assert/strict";
import { ProtocolError } from "../../../lib/protocol.ts";
import type { Moderation } from "../../../lib/server/access/moderation.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import { Room } from "../../../lib/server/room/room.ts";
import {
  rejoin,
  type RoomCommandContext,
} from "../../../lib/server/room/room_commands.ts";
import {
  type AccountRoom,
  MemoryRoomStore,
  type RoomStore,
} from "../../../lib/server/room/room_store.ts";
import {
  rejoinable,
  RoomKeeper,
} from "../../../lib/server/room/room_keeper.ts";
import {
  hashRoomKey,
  newRoomRecord,
  registeredRoom,
} from "../../../lib/server/room/room_record.ts";
import {
  localSnapshot,
  type RoomsSnapshot,
} from "../../../lib/server/room/rooms_snapshot.ts";
import { names } from "./room_store_contract.ts";
import { FakeClock } from "../../_fakes.ts";
import { FakeMember, LIMITS as ROOM_LIMITS, lineIn } from "./_rooms_fakes.ts";

const LIMITS = { ...ROOM_LIMITS, maxRoomEntries: 3 } as const;

/**
 * A server over `store` (starting from `snapshot`, as a server joining a
 * cluster); `errors` collects what the store threw.
 */
function server(
  store: RoomStore,
  errors: unknown[] = [],
  snapshot?: RoomsSnapshot,
) {
  const clock = new FakeClock();
  const room = new Room<FakeMember>({
    log: new MemoryLog(clock, 1000),
    announceLimit: 100,
    clock,
    rooms: {
      ...LIMITS,
      history: 50,
      store,
      snapshot,
      onStoreError: (e) => errors.push(e),
    },
  });
  const router = room.router!;
  const ctx = (): RoomCommandContext<FakeMember> => ({
    room,
    router,
    history: 50,
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
    await Promise.resolve();
    return member;
  };
  return { clock, room, router, join, line: lineIn(ctx) };
}

/** The code of the ProtocolError `fn` throws (or rejects with). */
async function refusal(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof ProtocolError) return error.code;
    throw error;
  }
  throw new Error("not refused");
}

Deno.test("rooms keep a registered room: each change stored, all of it loaded by the next server; guests' operator rights never", async () => {
  const store = new MemoryRoomStore(LIMITS);
  const first = server(store);
  const amy = await first.join("amy", "amy");
  const bob = await first.join("bob");
  const cat = await first.join("cat", "cat");
  await first.line(amy, "/join #ops");
  await first.line(amy, "/topic Before registering");
  assert.deepEqual(store.load(), [], "a temporary room is not kept");
  await first.line(amy, "/register");
  await first.line(amy, "/key sesame");
  await first.line(amy, "/topic Deploys only");
  await first.line(amy, "/invite bob");
  await first.line(amy, "/op cat");
  await first.line(bob, "/join #ops"); // a guest is opped in the room only
  await first.line(amy, "#ops /op bob");
  await first.line(amy, "/mute bob 1h flooding");
  await first.line(amy, "/inviteonly on");
  const live = first.router.rooms.get("#ops")!.record;
  assert.deepEqual(live.operators, ["amy", "cat", "~bob"]);
  const [kept] = store.load();
  assert.deepEqual(kept, { ...live, operators: ["amy", "cat"] });
  assert.equal(kept!.registeredBy, "amy");
  assert.equal(kept!.topic?.text, "Deploys only");
  assert.deepEqual(kept!.invites, [], "a guest's invitation is not kept");
  assert.equal(kept!.mutes[0]?.reason, "flooding");
  assert.equal(kept!.inviteOnly, true);
  // The next server has it, as it was kept.
  const next = server(store);
  assert.deepEqual(next.router.rooms.get("#ops")?.record, kept);
  // A guest called bob is neither invited nor an operator there now.
  const bob2 = await next.join("bob");
  assert.equal(
    await refusal(() => next.line(bob2, "/join #ops sesame")),
    "room-invite-only",
  );
  const zed = await next.join("zed");
  assert.equal(
    await refusal(() => next.line(zed, "/join #ops sesame")),
    "room-invite-only",
  );
  void [bob, cat];
});

Deno.test("rooms keep an account's rooms: stored on join and part, not on leaving; joined again at login, past key and invite, not past a ban", async () => {
  const store = new MemoryRoomStore(LIMITS);
  const first = server(store);
  const opal = await first.join("opal", "opal");
  await first.line(opal, "/join #ops");
  await first.line(opal, "/register");
  await first.line(opal, "/key sesame");
  const bob = await first.join("bob", "bob");
  await first.line(bob, "/join #ops sesame");
  await first.line(bob, "/join #dev");
  await first.line(bob, "/join #tmp");
  await first.line(bob, "/part #tmp");
  assert.deepEqual(names(store, "bob"), ["#ops", "#dev"]);
  const guest = await first.join("gus");
  await first.line(guest, "/join #dev");
  assert.deepEqual(names(store, "gus"), [], "guests: their client's");
  first.room.leave(bob, "quit");
  assert.deepEqual(names(store, "bob"), ["#ops", "#dev"]);
  await first.line(opal, "#ops /inviteonly on");
  // Another server (a restart): bob's registered room comes back, the
  // lobby current; the temporary one vanished with the server: forgotten.
  const next = server(store);
  assert.deepEqual(names(store, "bob"), ["#ops"]);
  const again = await next.join("bob", "bob");
  const seen = again.take();
  assert.ok(seen.includes("#ops JOIN bob 1"), seen.join("\n"));
  assert.ok(!seen.some((l) => l.startsWith("#dev")), seen.join("\n"));
  assert.equal(
    seen.filter((l) => l.startsWith("CURRENT ")).at(-1),
    "CURRENT #lobby",
  );
  assert.deepEqual(next.router.rooms.roomsOf(again), ["#lobby", "#ops"]);
  assert.equal(next.router.rooms.get("#dev"), undefined, "not made again");
  // A ban placed meanwhile holds: told as /join would be, and forgotten.
  store.save({
    ...store.load()[0]!,
    bans: [{
      id: 1,
      type: "ban",
      kind: "account",
      target: "bob",
      label: "bob",
      until: null,
      by: "opal",
      reason: "",
    }],
  });
  const third = server(store);
  const banned = await third.join("bob", "bob");
  assert.ok(banned.take().includes("ERR room-banned"));
  assert.deepEqual(names(store, "bob"), []);
});

Deno.test("rooms: an account's membership of a temporary room ends when it vanishes; the room made again by another is not rejoined at login, a live one and a registered one are", async () => {
  const store = new MemoryRoomStore(LIMITS);
  const { clock, room, router, join, line } = server(store);
  const opal = await join("opal", "opal");
  await line(opal, "/join #reg");
  await line(opal, "/register");
  await line(opal, "/join #live");
  const alice = await join("alice", "alice");
  for (const name of ["#kx", "#live", "#reg"]) {
    await line(alice, `/join ${name}`);
  }
  room.leave(alice, "quit");
  await clock.advance(LIMITS.roomGraceMs + 1_000); // #kx empty: it vanishes
  assert.equal(router.rooms.get("#kx"), undefined);
  assert.deepEqual(names(store, "alice"), ["#live", "#reg"]);
  // eve makes it again, keyed and invite-only, and writes in it.
  const eve = await join("eve", "eve");
  await line(eve, "/join #kx");
  await line(eve, "#kx /key sekritkey");
  await line(eve, "#kx /inviteonly on");
  await line(eve, "#kx new room private plans");
  // A room remembered that is gone (a store that did not forget) is not made.
  const gone = { room: "#gone", since: 0 };
  store.setAccountRooms("alice", [...store.accountRooms("alice"), gone]);
  const back = await join("alice", "alice");
  const seen = back.take();
  assert.ok(seen.includes("#live JOIN alice 2"), seen.join("\n"));
  assert.ok(seen.includes("#reg JOIN alice 2"), seen.join("\n"));
  assert.ok(!seen.some((l) => /#kx|private plans/.test(l)), seen.join("\n"));
  assert.deepEqual(router.rooms.roomsOf(back), ["#lobby", "#live", "#reg"]);
  assert.equal(router.rooms.get("#gone"), undefined, "not made again");
  assert.deepEqual(names(store, "alice"), ["#live", "#reg"]);
  // It may /join eve's room like anyone: key and invitation apply.
  assert.equal(
    await refusal(() => line(back, "/join #kx sekritkey")),
    "room-invite-only",
  );
});

Deno.test("rooms refuse a list entry past --max-room-entries (too-many-entries); expired mutes make room", async () => {
  const store = new MemoryRoomStore(LIMITS);
  const { clock, join, line } = server(store);
  const amy = await join("amy", "amy");
  await line(amy, "/join #ops");
  await line(amy, "/register");
  for (const name of ["b1", "b2", "b3"]) {
    await join(name, name);
    await line(amy, `/invite ${name}`);
    await line(amy, `/mute ${name} 1m`);
  }
  await join("b4", "b4");
  assert.equal(
    await refusal(() => line(amy, "/invite b4")),
    "too-many-entries",
  );
  assert.equal(
    await refusal(() => line(amy, "/mute b4 1m")),
    "too-many-entries",
  );
  assert.deepEqual(store.load()[0]!.invites, ["b1", "b2", "b3"]);
  await clock.advance(60_000);
  await line(amy, "/mute b4 1m");
  assert.deepEqual(store.load()[0]!.mutes.map((m) => m.target), ["b4"]);
});

Deno.test("rooms report a store that fails, and the change holds until the server stops", async () => {
  const store = new MemoryRoomStore(LIMITS);
  const errors: unknown[] = [];
  const failing: RoomStore = {
    load: () => store.load(),
    starts: () => store.starts(),
    save: () => {
      throw new Error("disk full");
    },
    remove: (name) => store.remove(name),
    accountRooms: (account) => store.accountRooms(account),
    setAccountRooms: () => {
      throw new Error("disk full");
    },
    forgetRooms: (gone) => store.forgetRooms(gone),
    renumberRoom: (room, from, to) => store.renumberRoom(room, from, to),
  };
  const { join, line, router } = server(failing, errors);
  const amy = await join("amy", "amy");
  await line(amy, "/join #ops");
  await line(amy, "/register");
  await line(amy, "/key sesame");
  assert.ok(amy.take().includes("#ops MOD key - amy on"));
  assert.notEqual(router.rooms.get("#ops")?.record.keyHash, null);
  assert.deepEqual(errors.map((e) => (e as Error).message), [
    "disk full",
    "disk full",
    "disk full",
  ]);
});

Deno.test("rejoinable: the incarnation joined, or one not known only in a registered room or one begun at the log's start", () => {
  const temporary = (since: number) => ({ since, record: newRoomRecord("#t") });
  const registered = (since: number) => ({
    since,
    record: registeredRoom("#r", "opal"),
  });
  assert.equal(rejoinable(30, temporary(30)), true, "same incarnation");
  assert.equal(rejoinable(5, temporary(30)), false, "made again since");
  assert.equal(rejoinable(5, registered(30)), false, "made again, registered");
  assert.equal(rejoinable(null, temporary(30)), false, "not known");
  assert.equal(rejoinable(null, temporary(0)), true, "none before it");
  assert.equal(rejoinable(null, registered(30)), true, "never vanishes");
  assert.equal(rejoinable(40, registered(0)), true, "numbered anew");
  assert.equal(
    rejoinable(40, temporary(30)),
    false,
    "numbered anew: temporary",
  );
});

Deno.test("rooms: at login an account rejoins a room it joined in the same incarnation; one made again since it joined (a server down meanwhile) is not rejoined, and forgotten", async () => {
  const store = new MemoryRoomStore(LIMITS);
  const kx = { ...newRoomRecord("#kx"), keyHash: null, inviteOnly: true };
  // As a server of a cluster that was down: eve (on another server) made
  // #kx again at 30; #live lives on since 20; alice joined both earlier.
  const snapshot: RoomsSnapshot = {
    ...localSnapshot(
      [kx, newRoomRecord("#live"), registeredRoom("#reg", "opal")],
      [],
      LIMITS.defaultRoom,
      new Map([["#kx", 30], ["#live", 20], ["#reg", 25]]),
    ),
    members: [{ id: "s1/1", alias: "eve", rooms: ["#kx", "#live"] }],
  };
  store.setAccountRooms("alice", [
    { room: "#kx", since: 5 },
    { room: "#live", since: 20 },
    { room: "#reg", since: null }, // stored before incarnations were
  ]);
  const { join, router } = server(store, [], snapshot);
  const alice = await join("alice", "alice");
  const seen = alice.take();
  assert.ok(seen.includes("#live JOIN alice 2"), seen.join("\n"));
  assert.ok(seen.includes("#reg JOIN alice 1"), seen.join("\n"));
  assert.ok(!seen.some((l) => l.startsWith("#kx")), seen.join("\n"));
  assert.deepEqual(router.rooms.roomsOf(alice), ["#lobby", "#live", "#reg"]);
  assert.deepEqual(store.accountRooms("alice"), [
    { room: "#live", since: 20 },
    { room: "#reg", since: 25 },
  ]);
});

Deno.test("rooms: at login a row from before incarnations were kept (since unknown) passes the room's door: a registered room's key is asked again, its invitation holds", async () => {
  const store = new MemoryRoomStore(LIMITS);
  const keyed = {
    ...registeredRoom("#keyed", "opal"),
    keyHash: hashRoomKey("k"),
  };
  const invited = {
    ...registeredRoom("#invited", "opal"),
    inviteOnly: true,
    invites: ["alice"],
  };
  const closed = { ...registeredRoom("#closed", "opal"), inviteOnly: true };
  const snapshot = localSnapshot(
    [keyed, invited, closed],
    [],
    LIMITS.defaultRoom,
    new Map([["#keyed", 7], ["#invited", 8], ["#closed", 9]]),
  );
  store.setAccountRooms("alice", [
    { room: "#keyed", since: null },
    { room: "#invited", since: null },
    { room: "#closed", since: null },
  ]);
  const { join, router } = server(store, [], snapshot);
  const alice = await join("alice", "alice");
  const seen = alice.take();
  assert.ok(seen.includes("#invited JOIN alice 1"), seen.join("\n"));
  assert.ok(seen.some((l) => /^ERR room-key\b/.test(l)), seen.join("\n"));
  assert.ok(
    seen.some((l) => /^ERR room-invite-only\b/.test(l)),
    seen.join("\n"),
  );
  assert.deepEqual(router.rooms.roomsOf(alice), ["#lobby", "#invited"]);
  assert.deepEqual(store.accountRooms("alice"), [
    { room: "#invited", since: 8 },
  ]);
});

Deno.test("RoomKeeper shares an account's rooms where servers share them: each change written through, the shared list taken into the store at login (none, or unreadable: the store's own stands)", async () => {
  const written: [string, AccountRoom[]][] = [];
  let shared: AccountRoom[] | null | Error = null;
  const errors: unknown[] = [];
  const keeper = new RoomKeeper("#lobby", {
    ...LIMITS,
    store: new MemoryRoomStore(LIMITS),
    onStoreError: (e) => errors.push(e),
    shared: {
      get: (_account) =>
        shared instanceof Error
          ? Promise.reject(shared)
          : Promise.resolve(shared),
      set: (account, rooms) => {
        written.push([account, [...rooms]]);
        return Promise.resolve();
      },
    },
  }, () => ({ since: 5, record: { registeredBy: null } }));
  keeper.inRooms({ account: "alice", roomsOn: true }, ["#lobby", "#a"]);
  assert.deepEqual(written, [["alice", [{ room: "#a", since: 5 }]]]);
  await keeper.fetch("alice"); // none shared: the store's own
  assert.deepEqual(keeper.accountRooms("alice"), [{ room: "#a", since: 5 }]);
  shared = [{ room: "#b", since: 7 }];
  await keeper.fetch("alice");
  assert.deepEqual(keeper.accountRooms("alice"), [{ room: "#b", since: 7 }]);
  shared = new Error("Redis is away");
  await keeper.fetch("alice");
  assert.deepEqual(keeper.accountRooms("alice"), [{ room: "#b", since: 7 }]);
  assert.deepEqual(errors, [shared]);
});

Deno.test("RoomKeeper: where its list was not written (Redis away), the next login keeps only the rooms in both lists: a room left on either side is not entered again past its key", async () => {
  let held: AccountRoom[] = [{ room: "#secret", since: 5 }];
  let away = true;
  const errors: unknown[] = [];
  const keeper = new RoomKeeper("#lobby", {
    ...LIMITS,
    store: new MemoryRoomStore(LIMITS),
    onStoreError: (e) => errors.push(e),
    shared: {
      get: () => Promise.resolve(held),
      set: (_account, rooms) => {
        if (away) return Promise.reject(new Error("Redis is away"));
        held = [...rooms];
        return Promise.resolve();
      },
    },
  }, () => ({ since: 5, record: { registeredBy: null } }));
  // Kicked out of #secret (keyed): its list written here, refused there.
  keeper.inRooms({ account: "alice", roomsOn: true }, ["#lobby", "#a"]);
  await Promise.resolve();
  assert.equal(errors.length, 1);
  away = false;
  held = [{ room: "#secret", since: 5 }, { room: "#b", since: 5 }];
  await keeper.fetch("Alice"); // logs in again: neither #secret nor #a
  assert.deepEqual(keeper.accountRooms("alice"), []);
  await Promise.resolve();
  assert.deepEqual(held, []); // written, now that Redis is back
  held = [{ room: "#b", since: 5 }];
  await keeper.fetch("alice"); // written: the shared list is taken again
  assert.deepEqual(keeper.accountRooms("alice"), [{ room: "#b", since: 5 }]);
});

/**
 * A keeper over a shared list `held` whose reads fail while `failing` is
 * above 0 (each failure counts it down); each write resolves `wrote`.
 */
function flaky(store: RoomStore, errors: unknown[]) {
  const state = {
    held: [] as AccountRoom[],
    failing: 0,
    wrote: Promise.withResolvers<void>(),
  };
  const keeper = new RoomKeeper("#lobby", {
    ...LIMITS,
    store,
    onStoreError: (e) => errors.push(e),
    shared: {
      get: () => {
        if (state.failing === 0) return Promise.resolve(state.held);
        state.failing--;
        return Promise.reject(new Error("Redis timed out"));
      },
      set: (_account, rooms) => {
        state.held = [...rooms];
        state.wrote.resolve();
        state.wrote = Promise.withResolvers<void>();
        return Promise.resolve();
      },
    },
  }, () => ({ since: 5, record: { registeredBy: null } }));
  return { keeper, state };
}

const at5 = (...rooms: string[]) => rooms.map((room) => ({ room, since: 5 }));

Deno.test("RoomKeeper asks the shared list again once when it does not answer at login: a timeout alone does not leave the store's stale list standing", async () => {
  const errors: unknown[] = [];
  const store = new MemoryRoomStore(LIMITS);
  store.setAccountRooms("alice", at5("#a"));
  const { keeper, state } = flaky(store, errors);
  state.held = at5("#a", "#b"); // #b joined on another server
  state.failing = 1;
  await keeper.fetch("alice");
  assert.deepEqual(keeper.accountRooms("alice"), at5("#a", "#b"));
  assert.deepEqual(errors, []);
});

Deno.test("RoomKeeper: a shared list unread at login (twice) leaves the store's list marked stale; changes are then merged into the shared list, never written over it, and the rooms joined elsewhere come back at the next login", async () => {
  const errors: unknown[] = [];
  const store = new MemoryRoomStore(LIMITS);
  store.setAccountRooms("alice", at5("#a", "#x"));
  const { keeper, state } = flaky(store, errors);
  state.held = at5("#a", "#x", "#b"); // #b joined on another server
  state.failing = 2;
  await keeper.fetch("alice");
  assert.equal(errors.length, 1, "the second failure is reported");
  assert.equal(keeper.stale("alice"), true);
  assert.deepEqual(keeper.accountRooms("alice"), at5("#a", "#x"));
  // Put back into #a (its JOIN handed on; #x still on its way), while
  // Redis still does not answer: nothing is written over the shared list.
  const alice = { id: "s/1", account: "alice", roomsOn: true };
  keeper.rejoining(alice.id, "#a");
  keeper.rejoining(alice.id, "#x");
  keeper.rejoined(alice.id, "#a");
  state.failing = 1;
  keeper.inRooms(alice, ["#lobby", "#a"]);
  await keeper.fetch("bob"); // (after the merge's read: in order)
  assert.deepEqual(state.held, at5("#a", "#x", "#b"));
  // Redis answers: #a parted and #new joined here are merged in; #x (on
  // its way) and #b (joined elsewhere) stay.
  const wrote = state.wrote.promise;
  keeper.inRooms(alice, ["#lobby", "#new"]);
  await wrote;
  assert.deepEqual(state.held, at5("#x", "#b", "#new"));
  // The next login reads it: every room is back, the mark gone.
  await keeper.fetch("alice");
  assert.equal(keeper.stale("alice"), false);
  assert.deepEqual(keeper.accountRooms("alice"), at5("#x", "#b", "#new"));
});
