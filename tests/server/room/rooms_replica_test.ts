/**
 * The rooms' replica on two (or three) fake servers over one shared log
 * in memory, which hands every event to each of them in one order (as a
 * cluster's stream does), each server with its own members: the replicas
 * agree on counts, `/who`, `/rooms` and records after concurrent changes;
 * the first creation in the log wins; a room kick decided on one server
 * takes its member out on the other, and so do a room ban, a mute, an
 * operator right and an invite (its `INVITE` reaches the invitee there);
 * guests' operator rights go with them
 * on both; an empty room expires once, by the log; and a server built
 * later from a snapshot sees what the others see. No sockets, a fake
 * clock.
 */

import assert from "node:assert/strict";
import type {
  AppendOptions,
  RoomEvent,
  RoomEventSink,
  RoomLine,
  RoomLog,
  RoomLogFailure,
} from "../../../lib/server/room/room_log.ts";
import type {
  RoomsSnapshot,
  SnapshotMember,
} from "../../../lib/server/room/rooms_snapshot.ts";
import {
  readEffect,
  storedEffect,
} from "../../../lib/server/room/stored_event.ts";
import { heldByMute } from "../../../lib/server/room/room_mutes.ts";
import { newRoomRecord } from "../../../lib/server/room/room_record.ts";
import type { Sanction } from "../../../lib/server/access/moderation.ts";
import { FakeClock } from "../../_fakes.ts";
import { type FakeMember, refusal, server } from "./_rooms_fakes.ts";

/** One order for every server: each event is handed to all of them. */
class SharedLog {
  readonly clock = new FakeClock();
  #seq = 0;
  #sinks: RoomEventSink[] = [];
  #failed: (RoomLogFailure | undefined)[] = [];
  /** Servers whose appends are refused (their Redis is down), by index. */
  #down = new Set<number>();
  #held: RoomEvent[] | null = null;
  /** Every event stored, in the log's order. */
  readonly stored: RoomEvent[] = [];
  /** What servers that read late have not read yet, by server index. */
  #behind = new Map<number, RoomEvent[]>();

  /** A server's log: what it appends joins the one order. */
  log(): RoomLog {
    const i = this.#failed.length;
    this.#failed.push(undefined);
    return {
      subscribe: (sink, failed) => {
        this.#sinks.push(sink);
        this.#failed[i] = failed;
      },
      append: (line, origin, options) =>
        this.#down.has(i)
          ? this.#refuse(i, line, origin, options)
          : this.#append(line, origin, options),
      settled: () => undefined,
      recent: () => [],
      epoch: "shared",
      since: () =>
        Promise.resolve({
          events: [],
          over: 0,
          overRoomsOnly: 0,
          gap: true,
          lost: { lines: 0, roomsOnly: 0 },
        }),
      close: () => Promise.resolve(),
    };
  }

  /** Server `i`'s appends are refused (`down`), or stored again. */
  down(i: number, down = true): void {
    if (down) this.#down.add(i);
    else this.#down.delete(i);
  }

  #refuse(i: number, line: RoomLine, origin: string, options?: AppendOptions) {
    const { id, room } = options ?? {};
    const lost = [{
      line,
      origin,
      id,
      ...(room === undefined ? {} : { room }),
    }];
    queueMicrotask(() =>
      this.#failed[i]?.(lost, "refused", new Error("Redis is down"))
    );
  }

  /** Holds what is appended from now on (two servers decide at once). */
  hold(): void {
    this.#held = [];
  }

  /** Hands on what was held, in the order it was appended. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const event of held) this.#hand(event);
  }

  #append(line: RoomLine, origin: string, options: AppendOptions = {}) {
    const event: RoomEvent = {
      seq: ++this.#seq,
      time: this.clock.now(),
      line,
      origin,
      effect: options.effect,
      id: options.id,
      ...(options.room === undefined ? {} : { room: options.room }),
      ...(options.target === undefined ? {} : { target: options.target }),
    };
    this.stored.push(event);
    if (this.#held) this.#held.push(event);
    else this.#hand(event);
  }

  /** The `LEAVE`s stored of member `id` in room `room`, as their lines. */
  leaves(id: string, room: string): string[] {
    return this.stored.filter((e) =>
      e.line.type === "LEAVE" && e.origin === id && e.room === room
    ).map((e) => JSON.stringify(e.line));
  }

  /** Server `i` reads nothing more until {@linkcode catchUp} (its reader lags). */
  lag(i: number): void {
    this.#behind.set(i, this.#behind.get(i) ?? []);
  }

  /** Server `i` reads what it had not read, in order, and keeps up again. */
  catchUp(i: number): void {
    const behind = this.#behind.get(i) ?? [];
    this.#behind.delete(i);
    for (const event of behind) this.#sinks[i]!(event);
  }

  #hand(event: RoomEvent): void {
    for (const [i, sink] of this.#sinks.entries()) {
      const behind = this.#behind.get(i);
      if (behind) behind.push(event);
      else sink(event);
    }
  }
}

type Server = ReturnType<typeof server>;

function cluster(count = 2, grace = 60_000) {
  const shared = new SharedLog();
  const make = (snapshot?: RoomsSnapshot) =>
    server({ roomGraceMs: grace }, 50, {
      clock: shared.clock,
      log: shared.log(),
      snapshot,
    });
  const servers = Array.from({ length: count }, () => make());
  return { shared, servers, make };
}

/**
 * Makes each server's directory find the members of the others (as a
 * cluster's does: `{ elsewhere }`, with account and host).
 */
function linkDirectories(servers: readonly Server[]): void {
  const finds = servers.map((s) => s.room.find.bind(s.room));
  servers.forEach((s, i) => {
    s.room.find = async (alias) => {
      for (const [j, find] of finds.entries()) {
        const found = await find(alias);
        if (found === null || !("here" in found)) continue;
        if (j === i) return found;
        const { id, account, host, operator } = found.here;
        return {
          elsewhere: { id, alias: found.here.alias, account, host, operator },
        };
      }
      return null;
    };
  });
}

/** What a server's replica says of a room: its record, who is in it. */
function view(s: Server, name: string) {
  const state = s.router.rooms.get(name);
  return state && {
    record: state.record,
    everyone: [...state.everyone.values()],
  };
}

/** The `WHO` answer a member gets for a room. */
async function who(s: Server, member: FakeMember, room: string) {
  member.take();
  await s.line(member, `${room} /who`);
  return member.take().join("\n");
}

/** A snapshot of a server's rooms, as a cluster would keep it. */
function snapshotOf(s: Server): RoomsSnapshot {
  const states = [...s.router.rooms.all()];
  type Entry = SnapshotMember & {
    rooms: string[];
    muted: Record<string, string>;
  };
  const members = new Map<string, Entry>();
  for (const state of states) {
    for (const [id, alias] of state.everyone) {
      const entry = members.get(id) ?? { id, alias, rooms: [], muted: {} };
      entry.rooms.push(state.name);
      const held = state.mutedIds.get(id);
      if (held !== undefined) entry.muted[state.name] = held;
      members.set(id, entry);
    }
  }
  return {
    records: states.map((state) => state.record),
    members: [...members.values()],
    recent: new Map(states.map((state) => [state.name, state.recent.last(50)])),
    since: new Map(states.map((state) => [state.name, state.since])),
  };
}

Deno.test("replica: two servers agree on counts, /who and /rooms; JOIN counts are the cluster's", async () => {
  const { servers: [a, b] } = cluster();
  const amy = await a!.join("amy");
  const bob = await b!.join("bob");
  assert.deepEqual(amy.take().at(-1), "#lobby JOIN bob 2");
  await a!.line(amy, "/join #dev");
  assert.deepEqual(amy.take(), ["#dev JOIN amy 1", "CURRENT #dev"]);
  await b!.line(bob, "/join #dev");
  assert.deepEqual(amy.take(), ["#dev JOIN bob 2"]);
  for (const s of [a!, b!]) {
    assert.deepEqual(view(s, "#dev")!.everyone, ["amy", "bob"]);
  }
  assert.equal(await who(a!, amy, "#dev"), "#dev WHO 2 @amy bob");
  assert.equal(await who(b!, bob, "#dev"), "#dev WHO 2 @amy bob");
  assert.equal(await who(b!, bob, "#lobby"), "#lobby WHO 2 amy bob");
  await b!.line(bob, "/rooms");
  assert.deepEqual(bob.take(), [
    "ROOM #dev 2 m",
    "ROOM #lobby 2 m",
    "INFO 2 rooms",
  ]);
  // A line in the room reaches its members on both servers.
  await b!.line(bob, "#dev hi");
  assert.deepEqual(amy.take(), ["#dev MSG bob hi"]);
  // A rename and a leave of the server, on every server's replica.
  await b!.room.rename(bob, "rob");
  assert.deepEqual(amy.take(), [
    "#lobby NICK bob rob 2",
    "#dev NICK bob rob 2",
  ]);
  assert.equal(await who(a!, amy, "#dev"), "#dev WHO 2 @amy rob");
  b!.room.leave(bob, "quit");
  assert.deepEqual(amy.take(), [
    "#lobby LEAVE rob 1 quit",
    "#dev LEAVE rob 1 quit",
  ]);
  for (const s of [a!, b!]) {
    assert.deepEqual(view(s, "#dev")!.everyone, ["amy"]);
    assert.equal(s.router.rooms.default.everyone.size, 1);
  }
});

Deno.test("replica: concurrent changes on two servers end, everywhere, as the later line says", async () => {
  const { shared, servers: [a, b] } = cluster();
  const amy = await a!.join("amy", { account: "amy" });
  const boss = await b!.join("boss", { operator: true });
  await a!.line(amy, "/join #dev");
  const first = shared.clock.now();
  await a!.line(amy, "/topic first");
  await b!.line(boss, "/join #dev");
  shared.hold();
  await a!.line(amy, "#dev /topic from a");
  await b!.line(boss, "#dev /inviteonly on");
  // Each server changed its record at once (optimistic)...
  assert.notDeepEqual(view(a!, "#dev")!.record, view(b!, "#dev")!.record);
  shared.release();
  // ... and both end with the record of the later line: b's.
  const record = view(a!, "#dev")!.record;
  assert.deepEqual(view(b!, "#dev")!.record, record);
  assert.equal(record.inviteOnly, true);
  assert.deepEqual(record.topic, { text: "first", by: "amy", at: first });
  assert.deepEqual(record.operators, ["amy"]);
});

Deno.test("replica: two servers creating one room at once: the first creation in the log wins, everywhere", async () => {
  const { shared, servers: [a, b] } = cluster();
  const amy = await a!.join("amy");
  const cat = await b!.join("cat");
  shared.hold();
  await a!.line(amy, "/join #new");
  await b!.line(cat, "/join #new");
  // Each made it here, tentatively, operated by its own creator.
  assert.deepEqual(view(a!, "#new")!.record.operators, ["~amy"]);
  assert.deepEqual(view(b!, "#new")!.record.operators, ["~cat"]);
  shared.release();
  for (const s of [a!, b!]) {
    assert.deepEqual(view(s, "#new")!.record.operators, ["~amy"]);
    assert.deepEqual(view(s, "#new")!.everyone, ["amy", "cat"]);
    assert.equal(s.router.rooms.get("#new")!.confirmed, true);
  }
  assert.equal(await who(b!, cat, "#new"), "#new WHO 2 @amy cat");
  // A guest's operator right goes when it leaves the room, on both.
  await a!.line(amy, "/part #new");
  for (const s of [a!, b!]) {
    assert.deepEqual(view(s, "#new")!.record.operators, []);
  }
});

Deno.test("replica: a record decided before its guest operator left does not bring the right back", async () => {
  const { shared, servers: [a, b] } = cluster();
  const boss = await a!.join("boss", { operator: true });
  const cat = await b!.join("cat");
  await b!.line(cat, "/join #x");
  await a!.line(boss, "/join #x");
  shared.hold();
  await b!.line(cat, "/part #x");
  // Decided on a's replica, where cat still operates #x.
  await a!.line(boss, "#x /inviteonly on");
  assert.deepEqual(view(a!, "#x")!.record.operators, ["~cat"]);
  shared.release();
  for (const s of [a!, b!]) {
    assert.deepEqual(view(s, "#x")!.record.operators, []);
    assert.equal(view(s, "#x")!.record.inviteOnly, true);
  }
});

Deno.test("replica: every server keeps a registered room's record as its events are handed on", async () => {
  const { shared, servers: [a, b] } = cluster();
  const amy = await a!.join("amy", { account: "amy" });
  await a!.line(amy, "/join #keep");
  await a!.line(amy, "/register");
  const set = shared.clock.now();
  await a!.line(amy, "/topic Kept");
  for (const s of [a!, b!]) {
    const [kept] = s.router.rooms.keeper.store.load();
    assert.equal(kept?.name, "#keep");
    assert.equal(kept?.registeredBy, "amy");
    // Kept with when it was set, on every server.
    assert.deepEqual(kept?.topic, { text: "Kept", by: "amy", at: set });
    assert.deepEqual(kept?.operators, ["amy"]);
  }
});

Deno.test("replica: a room kick decided on one server takes the member out where it is", async () => {
  const { servers: [a, b] } = cluster();
  const amy = await a!.join("amy");
  const cat = await b!.join("cat");
  await a!.line(amy, "/join #ops");
  await b!.line(cat, "/join #ops");
  cat.take();
  amy.take();
  await a!.line(amy, "#ops /kick cat spam");
  assert.deepEqual(cat.take(), [
    "#ops MOD kick cat amy spam",
    "#ops LEAVE cat 1 kicked spam",
    "CURRENT #lobby",
  ]);
  assert.deepEqual(amy.take(), [
    "#ops MOD kick cat amy spam",
    "#ops LEAVE cat 1 kicked spam",
  ]);
  assert.equal(b!.router.rooms.get("#ops")!.members.size, 0);
  for (const s of [a!, b!]) {
    assert.deepEqual(view(s, "#ops")!.everyone, ["amy"]);
  }
  // Nobody of that name is in the room: refused.
  assert.equal(
    await refusal(() => a!.line(amy, "#ops /kick cat")),
    'no-such-alias Nobody is called "cat"',
  );
  assert.equal(
    await refusal(() => a!.line(amy, "#ops /kick nobody")),
    'no-such-alias Nobody is called "nobody"',
  );
});

Deno.test("replica: an empty temporary room expires once, by the log, on every server; nobody sees it", async () => {
  const { shared, servers: [a, b] } = cluster(2, 60_000);
  const amy = await a!.join("amy");
  const cat = await b!.join("cat");
  await a!.line(amy, "/join #tmp");
  await b!.line(cat, "/join #tmp");
  await a!.line(amy, "/part #tmp");
  await shared.clock.advance(59_000);
  // Still one in it (on the other server): it stays.
  await shared.clock.advance(120_000);
  for (const s of [a!, b!]) assert.ok(s.router.rooms.get("#tmp"));
  await b!.line(cat, "/part #tmp");
  await shared.clock.advance(59_000);
  for (const s of [a!, b!]) assert.ok(s.router.rooms.get("#tmp"));
  await shared.clock.advance(2_000);
  for (const s of [a!, b!]) assert.equal(s.router.rooms.get("#tmp"), undefined);
  for (const m of [amy, cat]) {
    assert.ok(!m.take().some((l) => l.includes("expire")));
  }
  // Its name is free again, on both.
  await b!.line(cat, "/join #tmp");
  for (const s of [a!, b!]) {
    assert.deepEqual(view(s, "#tmp")!.record.operators, ["~cat"]);
  }
});

Deno.test("replica: a room made again after it expired begins anew: its bound is its first JOIN's number - 1, on every server and from a snapshot", async () => {
  const { shared, servers: [a, b], make } = cluster(2, 60_000);
  const amy = await a!.join("amy");
  const cat = await b!.join("cat");
  const since = (s: Server, name: string) => s.router.rooms.get(name)?.since;
  assert.equal(since(a!, "#lobby"), 0);
  await a!.line(amy, "/join #tmp");
  const first = since(a!, "#tmp")!;
  assert.ok(first > 0);
  await b!.line(cat, "/join #tmp"); // a live room: its bound stays
  await b!.line(cat, "#tmp old secret");
  for (const s of [a!, b!]) assert.equal(since(s, "#tmp"), first);
  await a!.line(amy, "/part #tmp");
  await b!.line(cat, "/part #tmp");
  await shared.clock.advance(61_000);
  for (const s of [a!, b!]) assert.equal(since(s, "#tmp"), undefined);
  // Made again, on the other server: a new room, numbered from its JOIN.
  let join = 0;
  shared.log().subscribe((event) => {
    if (event.line.type === "JOIN" && event.room === "#tmp") join = event.seq;
  });
  await b!.line(cat, "/join #tmp");
  assert.ok(join > first + 1);
  for (const s of [a!, b!]) assert.equal(since(s, "#tmp"), join - 1);
  assert.equal(since(make(snapshotOf(b!)), "#tmp"), join - 1);
  assert.equal(since(make(snapshotOf(b!)), "#lobby"), 0);
});

Deno.test("replica: a server built later from a snapshot sees what the others see", async () => {
  const { servers: [a, b], make } = cluster();
  const amy = await a!.join("amy", { account: "amy" });
  const bob = await b!.join("bob");
  await a!.line(amy, "/join #dev");
  await a!.line(amy, "/topic Deploys");
  await a!.line(amy, "/key sesame");
  await b!.line(bob, "/join #dev sesame");
  await b!.line(bob, "#dev before");
  const c = make(snapshotOf(a!));
  for (const name of ["#dev", "#lobby"]) {
    assert.deepEqual(view(c, name), view(a!, name));
  }
  const cat = await c.join("cat");
  assert.deepEqual(cat.take(), [
    "WELCOME cat 3 Type /help for commands",
    "#lobby JOIN cat 3",
    "CURRENT #lobby",
  ]);
  assert.deepEqual(amy.take().at(-1), "#lobby JOIN cat 3");
  await c.line(cat, "/join #dev sesame");
  const got = cat.take();
  assert.equal(got[0], "#dev JOIN cat 3");
  assert.equal(got[1], "#dev TOPIC amy Deploys");
  assert.match(got[2]!, /^#dev HIST \d+ \S+ MSG bob before$/);
  assert.equal(await who(c, cat, "#dev"), "#dev WHO 3 @amy bob cat");
  await b!.line(bob, "#dev after");
  assert.deepEqual(cat.take(), ["#dev MSG bob after"]);
  for (const s of [a!, b!]) assert.deepEqual(view(s, "#dev"), view(c, "#dev"));
});

Deno.test("replica: a server built later from a snapshot holds the members the room's mutes hold: a line of one stored after the mute (by a server of an earlier release) reaches nobody there either", async () => {
  const { a, b, amy, cat, dan, make } = await remoteRoom();
  await a.line(amy, "#ops /mute cat 10m noise");
  const c = a.router.rooms.get("#ops")!;
  assert.deepEqual([...c.mutedIds.keys()], [cat.id]);
  const later = make(snapshotOf(a));
  const eve = await later.join("eve");
  await later.line(eve, "/join #ops");
  eve.take();
  // Its server sends it anyway (as one that had not read the mute).
  b.room.speak("MSG", cat, "noise again", undefined, "#ops");
  for (const m of [amy, dan, eve]) {
    assert.deepEqual(m.take().filter((l) => l.includes("noise again")), []);
  }
});

Deno.test("replica: RoomSet.restart() starts again from a snapshot: rooms it lacks go, its rooms, records, members and last lines come", async () => {
  const { servers: [a], make } = cluster(1);
  const amy = await a!.join("amy", { account: "amy" });
  await a!.line(amy, "/join #dev");
  await a!.line(amy, "/key sesame");
  await a!.line(amy, "#dev before");
  const later = snapshotOf(a!);
  const c = make();
  const stale = await c.join("stale");
  await c.line(stale, "/join #stale");
  c.room.leave(stale, "quit"); // nobody of c's is left when it restarts
  assert.ok(c.router.rooms.get("#stale"));
  c.router.rooms.restart(later);
  assert.equal(c.router.rooms.get("#stale"), undefined);
  for (const name of ["#dev", "#lobby"]) {
    assert.deepEqual(view(c, name), view(a!, name));
  }
  assert.deepEqual(
    c.router.rooms.get("#dev")!.recent.last(5).map((e) => e.line.type),
    ["MSG"],
  );
});

Deno.test("replica: a room effect is stored and read back as it went; a record that is none is refused", () => {
  const { servers: [a] } = cluster(1);
  const record = a!.router.rooms.default.record;
  const stored = storedEffect({ kind: "room", record });
  assert.deepEqual(readEffect(stored.kind, stored.value, "JOIN"), {
    kind: "room",
    record,
  });
  assert.deepEqual(readEffect("expire", "null", "MOD"), { kind: "expire" });
  assert.equal(readEffect("expire", "null", "JOIN"), null);
  assert.equal(readEffect("room", stored.value, "MSG"), null);
  assert.equal(readEffect("room", '{"name":"ops"}', "MOD"), null);
  assert.equal(
    readEffect("room", JSON.stringify({ ...record, bans: [{}] }), "MOD"),
    null,
  );
});

/** amy (account) operates #ops on a; cat (guest) and dan (account) are in it on b. */
async function remoteRoom(linked = true) {
  const { shared, servers: [a, b], make } = cluster();
  if (linked) linkDirectories([a!, b!]);
  const amy = await a!.join("amy", { account: "amy" });
  const cat = await b!.join("cat");
  const dan = await b!.join("dan", { account: "dan" });
  await a!.line(amy, "/join #ops");
  await b!.line(cat, "/join #ops");
  await b!.line(dan, "/join #ops");
  for (const m of [amy, cat, dan]) m.take();
  return { shared, a: a!, b: b!, amy, cat, dan, make };
}

Deno.test("replica: /mute and /unmute of a member on another server hold there", async () => {
  const { a, b, amy, cat, dan } = await remoteRoom();
  await a.line(amy, "#ops /mute cat 10m noise");
  assert.match(cat.take()[0]!, /^#ops MOD mute cat amy /);
  assert.match(
    await refusal(() => b.line(cat, "#ops hello")),
    /^muted You are muted in #ops/,
  );
  assert.deepEqual(dan.take().length, 1);
  await a.line(amy, "#ops /unmute cat");
  assert.deepEqual(cat.take(), ["#ops MOD unmute cat amy"]);
  await b.line(cat, "#ops hello");
  assert.deepEqual(amy.take().slice(-2), [
    "#ops MOD unmute cat amy",
    "#ops MSG cat hello",
  ]);
  assert.deepEqual(dan.take().at(-1), "#ops MSG cat hello");
});

Deno.test("replica: a line a muted member's server appended before it read the mute, stored after it, reaches nobody on any server; its sender hears ERR muted", async () => {
  const { shared, a, b, amy, cat, dan } = await remoteRoom();
  Object.assign(cat, { lineIds: true });
  shared.lag(1); // b reads nothing for a while
  await a.line(amy, "#ops /mute cat 10m noise");
  b.room.speak("MSG", cat, "noise again", "c".repeat(22), "#ops");
  const mod = amy.take();
  assert.equal(mod.length, 1, `amy got ${JSON.stringify(mod)}`);
  assert.match(mod[0]!, /^#ops MOD mute cat amy /);
  shared.catchUp(1);
  assert.deepEqual(dan.take(), mod);
  assert.deepEqual(cat.take(), [
    mod[0],
    `@id=${
      "c".repeat(22)
    } ERR muted Not sent: you were muted in #ops before it was stored`,
  ]);
  for (const s of [a, b]) {
    const recent = s.router.rooms.get("#ops")!.recent.last(10);
    assert.deepEqual(recent.map((e) => e.line.type), []);
  }
  // Lifted in the log: its lines go again, everywhere.
  await a.line(amy, "#ops /unmute cat");
  b.room.speak("MSG", cat, "quiet now", "d".repeat(22), "#ops");
  assert.deepEqual(amy.take().at(-1), "#ops MSG cat quiet now");
  assert.deepEqual(dan.take().at(-1), "#ops MSG cat quiet now");
});

Deno.test("replica: a MOD mute holds the member it names by id, not a newcomer who took its alias before it was handed on; a MOD of an earlier release (no id) holds its alias's holder", () => {
  const before = newRoomRecord("#ops");
  const mute: Sanction = {
    id: 1,
    type: "mute",
    kind: "address",
    target: "10.0.0.2",
    label: "cat",
    until: null,
    by: "amy",
    reason: "",
  };
  // cat (b/1) renamed to kitty; a newcomer (b/2) took "cat".
  const room = () => ({
    logged: { ...before, mutes: [mute] },
    everyone: new Map([["b/1", "kitty"], ["b/2", "cat"]]),
    mutedIds: new Map<string, string>(),
  });
  const line = {
    type: "MOD",
    action: "mute",
    alias: "cat",
    by: "amy",
    text: "",
  } as const;
  const named = room();
  heldByMute(named, before, { line, target: "b/1" });
  assert.deepEqual([...named.mutedIds], [["b/1", "1 10.0.0.2"]]);
  const older = room();
  heldByMute(older, before, { line });
  assert.deepEqual([...older.mutedIds], [["b/2", "1 10.0.0.2"]]);
});

Deno.test("replica: a room change the log refused is undone on its server, and the next change carries none of it to the others", async () => {
  const { shared, a, b, amy, cat } = await remoteRoom();
  await a.line(amy, "#ops /op cat"); // a guest's right, while in the room
  await b.line(cat, "/part #ops");
  amy.take();
  shared.down(0); // a's Redis is down
  await a.line(amy, "#ops /key s3cret");
  await new Promise<void>(queueMicrotask); // the refusal
  assert.deepEqual(amy.take(), [
    "ERR unavailable Not done: the other servers could not be told; do it again later",
  ]);
  assert.equal(view(a, "#ops")!.record.keyHash, null, "undone on a");
  assert.deepEqual(view(a, "#ops")!.record.operators, ["amy"], "~cat left");
  shared.down(0, false);
  await a.line(amy, "#ops /inviteonly on");
  for (const s of [a, b]) {
    const { record } = view(s, "#ops")!;
    assert.equal(record.keyHash, null, "no key: the log refused it");
    assert.equal(record.inviteOnly, true);
  }
  await a.line(amy, "#ops /invite cat");
  await b.line(cat, "/join #ops"); // no key asked
  assert.deepEqual(view(a, "#ops")!.everyone, ["amy", "dan", "cat"]);
});

Deno.test("replica: /roomban of a member on another server takes it out there, by one LEAVE in the log, and keeps it out", async () => {
  const { shared, a, b, amy, cat, dan } = await remoteRoom();
  await a.line(amy, "#ops /roomban cat spam");
  await new Promise<void>(queueMicrotask); // whatever b appends for cat
  assert.equal(shared.leaves(cat.id, "#ops").length, 1);
  const got = cat.take();
  assert.match(got[0]!, /^#ops MOD ban cat amy .*spam/);
  assert.deepEqual(got.slice(1), [
    "#ops LEAVE cat 2 banned spam",
    "CURRENT #lobby",
  ]);
  assert.deepEqual(dan.take().at(-1), "#ops LEAVE cat 2 banned spam");
  for (const s of [a, b]) {
    assert.deepEqual(view(s, "#ops")!.everyone, ["amy", "dan"]);
    assert.equal(view(s, "#ops")!.record.bans[0]!.kind, "address");
  }
  assert.match(
    await refusal(() => b.line(cat, "/join #ops")),
    /^room-banned You are banned from #ops/,
  );
  // An account's ban is by account; lifted by name, it may come back.
  await a.line(amy, "#ops /roomban dan");
  assert.equal(view(b, "#ops")!.record.bans.at(-1)!.target, "dan");
  await a.line(amy, "#ops /roomunban dan");
  await b.line(dan, "/join #ops");
  assert.deepEqual(view(a, "#ops")!.everyone, ["amy", "dan"]);
});

Deno.test("replica: /roomban of a member on another server whose JOIN the banning server has not read yet: out as the ban is handed on, on every server", async () => {
  const { shared, servers: [a, b] } = cluster();
  linkDirectories([a!, b!]);
  const amy = await a!.join("amy", { account: "amy" });
  const cat = await b!.join("cat");
  const dan = await b!.join("dan");
  await a!.line(amy, "/join #ops");
  await b!.line(dan, "/join #ops");
  shared.lag(0); // a reads nothing for a while
  await b!.line(cat, "/join #ops"); // in on b; a has not read it
  assert.deepEqual(view(a!, "#ops")!.everyone, ["amy", "dan"]);
  for (const m of [amy, cat, dan]) m.take();
  await a!.line(amy, "#ops /roomban cat spam");
  await new Promise<void>(queueMicrotask); // what b appends for cat
  shared.catchUp(0);
  // The log says: cat joined, then was banned. Every server agrees she
  // is out, and she is out on her own server.
  for (const s of [a!, b!]) {
    assert.deepEqual(view(s, "#ops")!.everyone, ["amy", "dan"]);
  }
  assert.deepEqual(b!.router.rooms.roomsOf(cat), ["#lobby"]);
  const got = cat.take();
  assert.match(got[0]!, /^#ops MOD ban cat amy .*spam/);
  assert.deepEqual(got.slice(1), ["#ops LEAVE cat 2 banned", "CURRENT #lobby"]);
  assert.deepEqual(dan.take().slice(1), ["#ops LEAVE cat 2 banned"]);
  assert.equal(shared.leaves(cat.id, "#ops").length, 1, "b's own LEAVE");
  assert.equal(
    await refusal(() => b!.line(cat, "#ops still here?")),
    "not-in-room You are not in #ops",
  );
});

Deno.test("replica: a line a kicked member's server appended before it read the kick, stored after its LEAVE, reaches nobody; its sender hears so", async () => {
  const { shared, servers: [a, b] } = cluster();
  const amy = await a!.join("amy");
  const cat = Object.assign(await b!.join("cat"), { lineIds: true });
  const dan = await b!.join("dan");
  for (const [s, m] of [[a!, amy], [b!, cat], [b!, dan]] as const) {
    await s.line(m, "/join #ops");
  }
  for (const m of [amy, cat, dan]) m.take();
  shared.lag(1); // b reads nothing for a while
  await a!.line(amy, "#ops /kick cat spam");
  b!.room.speak("MSG", cat, "spam again", "c".repeat(22), "#ops");
  assert.deepEqual(amy.take(), [
    "#ops MOD kick cat amy spam",
    "#ops LEAVE cat 2 kicked spam",
  ]);
  shared.catchUp(1);
  assert.deepEqual(dan.take(), [
    "#ops MOD kick cat amy spam",
    "#ops LEAVE cat 2 kicked spam",
  ]);
  assert.deepEqual(cat.take(), [
    "#ops MOD kick cat amy spam",
    "#ops LEAVE cat 2 kicked spam",
    "CURRENT #lobby",
    `@id=${
      "c".repeat(22)
    } ERR unavailable Not sent: you were out of #ops before it was stored`,
  ]);
  for (const s of [a!, b!]) {
    const recent = s.router.rooms.get("#ops")!.recent.last(10);
    assert.deepEqual(recent.map((e) => e.line.type), []);
  }
});

Deno.test("replica: /op and /deop of a member on another server: it operates the room there", async () => {
  const { a, b, amy, cat, dan } = await remoteRoom();
  await a.line(amy, "#ops /op dan");
  await a.line(amy, "#ops /op cat");
  for (const s of [a, b]) {
    assert.deepEqual(view(s, "#ops")!.record.operators, ["amy", "dan", "~cat"]);
  }
  assert.deepEqual(dan.take(), ["#ops MOD op dan amy", "#ops MOD op cat amy"]);
  await b.line(dan, "#ops /inviteonly on");
  assert.equal(view(a, "#ops")!.record.inviteOnly, true);
  await a.line(amy, "#ops /deop dan");
  assert.equal(
    await refusal(() => b.line(dan, "#ops /inviteonly off")),
    "not-operator /inviteonly is for operators of #ops only",
  );
  // A guest's right goes with it when it leaves the room, everywhere.
  await b.line(cat, "/part #ops");
  for (const s of [a, b]) {
    assert.deepEqual(view(s, "#ops")!.record.operators, ["amy"]);
  }
});

Deno.test("replica: /invite of a member on another server: announced, INVITE reaches it, it may enter", async () => {
  const { a, b, amy } = await remoteRoom();
  await a.line(amy, "#ops /inviteonly on");
  const eve = await b.join("eve");
  const fay = await b.join("fay", { roomsOn: false });
  for (const m of [amy, eve]) m.take();
  await a.line(amy, "#ops /invite eve");
  assert.deepEqual(amy.take(), [
    "#ops MOD invite eve amy",
    "INFO eve is invited to #ops",
  ]);
  assert.deepEqual(eve.take(), ["INVITE #ops amy"]);
  await b.line(eve, "/join #ops");
  assert.ok(view(a, "#ops")!.everyone.includes("eve"));
  // Without rooms it gets no INVITE line (it could not /join).
  fay.take();
  await a.line(amy, "#ops /invite fay");
  assert.deepEqual(fay.take(), []);
  // An account's invitation is in the record, on every server.
  const gil = await b.join("gil", { account: "gil" });
  await a.line(amy, "#ops /invite gil");
  for (const s of [a, b]) {
    assert.deepEqual(view(s, "#ops")!.record.invites, ["gil"]);
  }
  await b.line(gil, "/join #ops");
  assert.ok(view(a, "#ops")!.everyone.includes("gil"));
});

Deno.test("replica: a guest's invitation is its own server's: in no record, gone when it leaves, never the next holder's of its alias on another server", async () => {
  const { a, b, amy } = await remoteRoom();
  await a.line(amy, "#ops /inviteonly on");
  const eve = await b.join("eve");
  eve.take();
  await a.line(amy, "#ops /invite eve");
  assert.deepEqual(eve.take(), ["INVITE #ops amy"]);
  for (const s of [a, b]) {
    assert.deepEqual(view(s, "#ops")!.record.invites, []);
  }
  // Renamed, it keeps its invitation; its old alias gets none.
  await b.room.rename(eve, "eva");
  const eve2 = await a.join("eve");
  assert.match(
    await refusal(() => a.line(eve2, "/join #ops")),
    /^room-invite-only /,
  );
  await b.line(eve, "/join #ops");
  assert.ok(view(a, "#ops")!.everyone.includes("eva"));
  // Gone from its server, its alias is taken on the other: not invited.
  b.room.leave(eve, "quit");
  a.room.leave(eve2, "quit");
  const mallory = await a.join("eva");
  assert.match(
    await refusal(() => a.line(mallory, "/join #ops")),
    /^room-invite-only /,
  );
  const again = await b.join("eva");
  assert.match(
    await refusal(() => b.line(again, "/join #ops")),
    /^room-invite-only /,
  );
});

Deno.test("replica: without the directory's word, one in the room's replica is still a target", async () => {
  const { a, b, amy } = await remoteRoom(false);
  await a.line(amy, "#ops /op cat");
  assert.deepEqual(view(b, "#ops")!.record.operators, ["amy", "~cat"]);
  // Its account and address are unknown here: a ban cannot aim at it.
  assert.equal(
    await refusal(() => a.line(amy, "#ops /roomban dan")),
    'no-such-alias Cannot ban "dan": its address is unknown',
  );
  assert.equal(
    await refusal(() => a.line(amy, "#ops /invite nobody")),
    'no-such-alias Nobody is called "nobody"',
  );
});
