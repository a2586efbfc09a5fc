/** Tests of the room with fake members: no sockets, no bytes on a wire. */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/clock.ts";
import { ProtocolError } from "../../../lib/protocol.ts";
import type { Member } from "../../../lib/server/room/member.ts";
import { Room } from "../../../lib/server/room/room.ts";
import type { Moderated } from "../../../lib/server/room/moderator.ts";
import {
  type RoomCommandContext,
  who,
} from "../../../lib/server/room/room_commands.ts";
import {
  type AppendOptions,
  type AppendOutcome,
  type LogRange,
  type RoomEventSink,
  type RoomLine,
  type RoomLog,
  type RoomLogFailure,
} from "../../../lib/server/room/room_log.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import type { ByeReason, LeaveReason } from "../../../lib/server_lines.ts";
import { SqliteLog } from "../../../lib/server/storage/sqlite_log.ts";
import { openStore } from "../../../lib/server/storage/store.ts";
import { FakeClock } from "../../_fakes.ts";

let ids = 0;

/** A member that records what it receives and can be made to overflow. */
class FakeMember implements Member {
  readonly id = String(++ids);
  alias = "";
  operator = false;
  readonly account = null;
  readonly host = "127.0.0.1";
  lineIds = false;
  inbox: string[] = [];
  /** The lines delivered as the room's fan-out (`room: true`). */
  roomLines: string[] = [];
  full = false;
  closed: [ByeReason, string][] = [];
  deliver(line: Uint8Array, options?: { room?: boolean }): boolean {
    if (this.full) return false;
    const text = new TextDecoder().decode(line).replace(/\n$/, "");
    this.inbox.push(text);
    if (options?.room) this.roomLines.push(text);
    return true;
  }
  close(reason: ByeReason, text: string): void {
    this.closed.push([reason, text]);
  }
  take(): string[] {
    return this.inbox.splice(0);
  }
}

function roomWith(aliases: string[], options = {}) {
  const left: [string, LeaveReason][] = [];
  const room = new Room<FakeMember>({
    log: new MemoryLog(systemClock),
    announceLimit: 100,
    ...options,
    onLeave: (member, reason) => left.push([member.alias, reason]),
  });
  const members = aliases.map((alias) => {
    const member = new FakeMember();
    room.join(member, alias);
    return member;
  });
  for (const member of members) member.take();
  return { room, members, left };
}

/** `/who` of the default room, as a member asks it (`room_commands.ts`). */
function whoOf(room: Room<FakeMember>, member: FakeMember): void {
  const ctx = { room, router: room.router } as unknown as RoomCommandContext<
    Moderated
  >;
  who(ctx, member as unknown as Moderated, ctx.router.rooms.default);
}

Deno.test("Room.speak() delivers to every member, the sender included, the same bytes", () => {
  const { room, members } = roomWith(["a", "b", "c"]);
  const seen: Uint8Array[] = [];
  for (const member of members) {
    const deliver = member.deliver.bind(member);
    member.deliver = (line) => (seen.push(line), deliver(line));
  }
  room.speak("MSG", members[1]!, "hello");
  for (const member of members) {
    assert.deepEqual(member.take(), ["MSG b hello"]);
  }
  assert.ok(seen.every((line) => line === seen[0]), "encoded once, shared");
  assert.equal(room.stats.messages, 1);
});

Deno.test("Room.join() welcomes, announces, and refuses taken aliases case-insensitively", async () => {
  const { room, members: [a] } = roomWith(["Ann"]);
  const b = new FakeMember();
  await assert.rejects(
    room.join(b, "ANN"),
    (e) => e instanceof ProtocolError && e.code === "alias-taken",
  );
  await assert.rejects(
    room.join(b, "root"),
    (e) => e instanceof ProtocolError && e.code === "alias-reserved",
  );
  room.join(b, "Bo");
  assert.deepEqual(b.take(), ["WELCOME Bo 2 Type /help for commands"]);
  assert.deepEqual(a!.take(), ["JOIN Bo 2"]);
  assert.equal(room.stats.peakMembers, 2);
});

Deno.test("Room.leave() announces the reason and count once, and is idempotent", () => {
  const { room, members: [a, b], left } = roomWith(["a", "b"]);
  room.leave(b!, "quit", "bye");
  room.leave(b!, "disconnect");
  assert.deepEqual(a!.take(), ["LEAVE b 1 quit bye"]);
  assert.deepEqual(left, [["b", "quit"]]);
  assert.equal(room.has(b!), false);
  assert.equal(room.size, 1);
});

Deno.test("Room.leave() does not announce a shutdown", () => {
  const { room, members: [a, b] } = roomWith(["a", "b"]);
  room.leave(b!, "shutdown");
  assert.deepEqual(a!.take(), []);
});

Deno.test("Replies.whisper() reaches the target only and confirms to the sender", async () => {
  const { room, members: [a, b, c] } = roomWith(["a", "Bee", "c"]);
  await room.replies.whisper(a!, "bee", { text: "psst" });
  assert.deepEqual(b!.take(), ["PRIV a psst"]);
  assert.deepEqual(a!.take(), ["SENT Bee psst"]);
  assert.deepEqual(c!.take(), []);
  await assert.rejects(
    room.replies.whisper(a!, "zed", { text: "x" }),
    /nobody is called "zed"/,
  );
});

Deno.test("Room.join() refuses an alias that looks like a present member's", async () => {
  const { room, members: [alice] } = roomWith(["Alice"]);
  for (const alias of ["AIice", "A1ice"]) {
    await assert.rejects(
      room.join(new FakeMember(), alias),
      (e) =>
        e instanceof ProtocolError && e.code === "alias-taken" &&
        /looks like "Alice"/.test(e.message),
      alias,
    );
  }
  room.leave(alice!, "quit");
  await room.join(new FakeMember(), "AIice"); // free once Alice has gone
});

Deno.test("Room.join() drops a joiner whose queue cannot take its welcome, after its JOIN", () => {
  const { room, members: [a], left } = roomWith(["a"]);
  const ghost = new FakeMember();
  ghost.full = true;
  room.join(ghost, "ghost");
  assert.equal(room.has(ghost), false);
  assert.equal(room.size, 1);
  assert.deepEqual(ghost.closed.map(([reason]) => reason), ["slow"]);
  // Its JOIN was stored before it could be welcomed: it leaves in order.
  assert.deepEqual(a!.take(), ["JOIN ghost 2", "LEAVE ghost 1 slow"]);
  assert.deepEqual(left, [["ghost", "slow"]]);
  // The alias is free for someone else.
  const real = new FakeMember();
  room.join(real, "ghost");
  assert.equal(room.has(real), true);
});

Deno.test("Room.rename() removes only the renamer's own entry", async () => {
  const { room, members: [a, b] } = roomWith(["a", "b"]);
  // A member object under b's alias that is not in the room (a ghost).
  const ghost = new FakeMember();
  ghost.alias = "b";
  await assert.rejects(room.rename(ghost, "c"), /not in the room/);
  assert.equal(room.has(b!), true, "b is still there");
  assert.equal(room.size, 2);
  room.rename(a!, "c");
  assert.equal(room.has(b!), true);
  assert.equal(room.has(a!), true);
  assert.equal(a!.alias, "c");
});

Deno.test("Room.rename() changes the alias, frees the old one and announces it", async () => {
  const { room, members: [a, b] } = roomWith(["a", "b"]);
  await room.rename(a!, "A"); // a case change of one's own alias is allowed
  await room.rename(a!, "alpha");
  assert.deepEqual(b!.take(), ["NICK a A 2", "NICK A alpha 2"]);
  await assert.rejects(room.rename(b!, "ALPHA"), /taken/);
  const c = new FakeMember();
  room.join(c, "a");
  assert.equal(c.alias, "a");
});

Deno.test("/who lists the first 100 members alphabetically, in bounded time", () => {
  const { room, members } = roomWith(["zed", "Amy", "bob"]);
  whoOf(room, members[0]!);
  assert.deepEqual(members[0]!.take(), ["WHO 3 Amy bob zed"]);
  // Later joiners beyond the first 100 are counted, not listed.
  const big = roomWith(
    Array.from(
      { length: 150 },
      (_, i) => `u${String(149 - i).padStart(3, "0")}`,
    ),
  );
  whoOf(big.room, big.members[0]!);
  const [line] = big.members[0]!.take();
  const [, online, ...aliases] = line!.split(" ");
  assert.equal(online, "150");
  assert.equal(aliases.length, 100);
  assert.equal(aliases[0], "u050");
  assert.equal(aliases[99], "u149");
});

Deno.test("/who lists aliases alphabetically, at most 100", () => {
  const { room, members } = roomWith(["zed", "Amy", "bob"]);
  whoOf(room, members[0]!);
  assert.deepEqual(members[0]!.take(), ["WHO 3 Amy bob zed"]);
  const big = roomWith(
    Array.from({ length: 150 }, (_, i) => `u${String(i).padStart(3, "0")}`),
  );
  whoOf(big.room, big.members[0]!);
  const [line] = big.members[0]!.take();
  const [, online, ...aliases] = line!.split(" ");
  assert.equal(online, "150");
  assert.equal(aliases.length, 100);
  assert.equal(aliases[99], "u099");
});

Deno.test("Room removes a member whose queue overflows, after everyone got the line", () => {
  const { room, members: [a, slow, c], left } = roomWith(["a", "slow", "c"]);
  slow!.full = true;
  room.speak("MSG", a!, "one");
  assert.deepEqual(a!.take(), ["MSG a one", "LEAVE slow 2 slow"]);
  assert.deepEqual(c!.take(), ["MSG a one", "LEAVE slow 2 slow"]);
  assert.deepEqual(left, [["slow", "slow"]]);
  // The room alone decided, and told the member to close, once.
  assert.deepEqual(slow!.closed.map(([reason]) => reason), ["slow"]);
  room.speak("MSG", c!, "two");
  assert.deepEqual(a!.take(), ["MSG c two"]);
});

Deno.test("Room keeps one order when removals cascade during a broadcast", () => {
  const { room, members } = roomWith(["a", "b", "c", "d"]);
  const [a, b, c, d] = members as [
    FakeMember,
    FakeMember,
    FakeMember,
    FakeMember,
  ];
  // b overflows on the message, c on the announcement of b leaving.
  b.full = true;
  const deliver = c.deliver.bind(c);
  c.deliver = (line) =>
    !new TextDecoder().decode(line).startsWith("LEAVE") && deliver(line);
  room.speak("MSG", a, "x");
  assert.deepEqual(a.take(), ["MSG a x", "LEAVE b 3 slow", "LEAVE c 2 slow"]);
  assert.deepEqual(d.take(), ["MSG a x", "LEAVE b 3 slow", "LEAVE c 2 slow"]);
});

Deno.test("Room summarises joins and leaves above announceLimit before the next line", () => {
  const { room, members: [a, b] } = roomWith(["a", "b"], { announceLimit: 2 });
  const c = new FakeMember();
  const d = new FakeMember();
  room.join(c, "c");
  room.join(d, "d");
  room.leave(c, "quit");
  assert.deepEqual(a!.take(), []);
  room.speak("MSG", b!, "hi");
  for (const member of [a!, b!, d]) {
    assert.deepEqual(member.take().filter((l) => !l.startsWith("WELCOME")), [
      "PRESENCE 2 1 3",
      "MSG b hi",
    ]);
  }
  room.speak("MSG", b!, "again");
  assert.deepEqual(a!.take(), ["MSG b again"]);
});

Deno.test("Room summaries count who was online before the line that follows", () => {
  const { room, members: [a, b] } = roomWith(["a", "b"], { announceLimit: 2 });
  const c = new FakeMember();
  room.join(c, "c"); // 3 online, over the limit: counted
  room.leave(b!, "quit"); // from 3 to 2 online: counted too
  room.leave(c, "quit"); // from 2 to 1: announced, after the summary
  assert.deepEqual(a!.take(), ["PRESENCE 1 1 2", "LEAVE c 1 quit"]);
});

Deno.test("Replies.history() replays messages and actions only, oldest first, marked and dated", async () => {
  const clock = new FakeClock();
  const { room, members: [a, b] } = roomWith(["a", "b"], {
    log: new MemoryLog(clock, 500),
  });
  room.speak("MSG", a!, "one");
  await room.replies.whisper(a!, "b", { text: "private" });
  room.speak("ME", b!, "waves");
  room.rename(b!, "bee");
  room.speak("MSG", a!, "two");
  const c = new FakeMember();
  room.join(c, "c");
  c.take();
  room.replies.history(c, 2, false);
  const time = new Date(clock.now()).toISOString();
  assert.deepEqual(c.take(), [
    `HIST 4 ${time} ME b waves`,
    `HIST 6 ${time} MSG a two`,
    "HISTEND 2 End of history: 2 messages",
  ]);
  room.replies.history(c, 50, true);
  assert.deepEqual(c.take(), [
    `HIST 3 ${time} MSG a one`,
    `HIST 4 ${time} ME b waves`,
    `HIST 6 ${time} MSG a two`,
    "HISTEND 3 End of history: 3 messages",
  ]);
});

Deno.test("Replies.history() says nothing on joining an empty room, but answers /history", () => {
  const { room, members: [a] } = roomWith(["a"], {
    log: new MemoryLog(systemClock, 500),
  });
  room.replies.history(a!, 50, false);
  assert.deepEqual(a!.take(), []);
  room.replies.history(a!, 50, true);
  assert.deepEqual(a!.take(), ["HISTEND 0 End of history: 0 messages"]);
});

Deno.test("Replies.history() sends only the newest lines that fit in half a queue", () => {
  const { room, members: [a] } = roomWith(["a"], {
    log: new MemoryLog(systemClock, 500),
    historyBytes: 300,
  });
  for (let i = 0; i < 10; i++) room.speak("MSG", a!, `${i} ${"x".repeat(40)}`);
  a!.take();
  room.replies.history(a!, 10, true);
  const got = a!.take().map((line) => line.replace(/ \S+Z /, " TIME "));
  // Each HIST line is 81 or 82 bytes here: the newest three fit in 300.
  const x40 = "x".repeat(40);
  assert.deepEqual(got, [
    `HIST 9 TIME MSG a 7 ${x40}`,
    `HIST 10 TIME MSG a 8 ${x40}`,
    `HIST 11 TIME MSG a 9 ${x40}`,
    "HISTEND 3 End of history: 3 messages (the newest that fit at once)",
  ]);
});

Deno.test("Room tells a member when the log could not store its line, and no one else", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const log = new SqliteLog(store.db, {
    clock,
    keep: 10,
  });
  const { room, members: [a, b] } = roomWith(["a", "b"], { log });
  await room.settled();
  a!.take();
  b!.take();
  store.db.exec("PRAGMA query_only = 1");
  room.speak("MSG", a!, "into the void");
  await room.settled();
  assert.deepEqual(a!.take(), [
    "ERR unavailable Not sent (1 line): the room cannot store messages right now; try again later",
  ]);
  assert.deepEqual(b!.take(), []);
  store.db.exec("PRAGMA query_only = 0");
  room.speak("MSG", a!, "back");
  await room.settled();
  assert.deepEqual(b!.take(), ["MSG a back"]);
  await log.close();
});

/**
 * A log that stores only joins (so that members get in): it reports every
 * other line with `outcome`.
 */
class ReportingLog implements RoomLog {
  readonly epoch = "reporting";
  outcome: AppendOutcome = "refused";
  since(): Promise<LogRange> {
    return Promise.resolve({
      events: [],
      over: 0,
      overRoomsOnly: 0,
      gap: true,
      lost: { lines: 0, roomsOnly: 0 },
    });
  }
  #seq = 0;
  #sink: RoomEventSink = () => {};
  #failed: RoomLogFailure = () => {};
  subscribe(sink: RoomEventSink, failed?: RoomLogFailure): void {
    this.#sink = sink;
    this.#failed = failed!;
  }
  append(line: RoomLine, origin: string, options: AppendOptions = {}): void {
    if (line.type === "JOIN") {
      this.#sink({ seq: ++this.#seq, time: 0, line, origin });
      return;
    }
    const { id, room } = options;
    this.#failed(
      [{ line, origin, id, room }],
      this.outcome,
      new Error("no answer"),
    );
  }
  settled = () => undefined;
  recent = () => [];

  close = () => Promise.resolve();
}

Deno.test("Room tells a sender what became of lines the log did not store: not sent, unknown, or out of the room", () => {
  const log = new ReportingLog();
  const { room, members: [a, b] } = roomWith(["a", "b"], { log });
  room.speak("MSG", a!, "refused");
  log.outcome = "unknown";
  room.speak("ME", a!, "in doubt");
  assert.deepEqual(a!.take(), [
    "ERR unavailable Not sent (1 line): the room cannot store messages right now; try again later",
    "ERR unknown Perhaps not sent (1 line): the room's store stopped answering; if it was stored, you will see it as usual; a resend with the same id is safe, one without an id may show twice",
  ]);
  // A resend the log already holds: nothing to say to a member without
  // ids (none of its lines has an id it chose).
  log.outcome = "duplicate";
  room.speak("MSG", a!, "again");
  assert.deepEqual(a!.take(), []);
  // The log no longer counts b in the room (its server was counted lost).
  log.outcome = "gone";
  room.speak("MSG", b!, "too late");
  assert.deepEqual(b!.closed, [[
    "server-lost",
    "Disconnected: your server lost touch with the room, and your last line was not sent; join again",
  ]]);
  assert.equal(room.has(b!), false);
  assert.deepEqual([a!.take(), b!.take()], [[], []]);
});

Deno.test("Room tells a sender with ids what became of each line, naming it; others as before", () => {
  const log = new ReportingLog();
  const { room, members: [a, b] } = roomWith(["a", "b"], { log });
  a!.lineIds = true;
  const id = "AAAAAAAAAAAAAAAAAAAAAA";
  room.speak("MSG", a!, "refused", id);
  room.speak("MSG", b!, "refused too", id);
  log.outcome = "unknown";
  room.speak("ME", a!, "in doubt", "BBBBBBBBBBBBBBBBBBBBBB");
  room.speak("MSG", a!, "an id the server made");
  assert.deepEqual(a!.take().map((l) => l.replace(/^@id=s\S+/, "@id=s…")), [
    `@id=${id} ERR unavailable Not sent: the room cannot store messages right now; try again later`,
    "@id=BBBBBBBBBBBBBBBBBBBBBB ERR unknown Perhaps not sent: the room's store stopped answering; if it was stored, you will see it as usual; a resend with the same id is safe, one without an id may show twice",
    "@id=s… ERR unknown Perhaps not sent: the room's store stopped answering; if it was stored, you will see it as usual; a resend with the same id is safe, one without an id may show twice",
  ]);
  assert.deepEqual(b!.take(), [
    "ERR unavailable Not sent (1 line): the room cannot store messages right now; try again later",
  ]);
  // A resend the log holds already: its echo again, to its sender alone.
  log.outcome = "duplicate";
  room.speak("ME", a!, "waves", id);
  assert.deepEqual(a!.take(), [`@id=${id} ME a waves`]);
  assert.deepEqual(b!.take(), []);
});

Deno.test("Room tells the sender of a line the log had out of its room (outside: its kick came first) that it was not sent, one answer per line", () => {
  const log = new ReportingLog();
  const { room, members: [a, b] } = roomWith(["a", "b"], { log });
  a!.lineIds = true;
  log.outcome = "outside";
  const id = "AAAAAAAAAAAAAAAAAAAAAA";
  room.speak("MSG", a!, "spam", id, "#ops");
  room.speak("ME", b!, "spams", undefined, "#ops");
  room.speak("MSG", b!, "more spam", undefined, "#ops");
  assert.deepEqual(a!.take(), [
    `@id=${id} ERR unavailable Not sent: you were out of #ops before it was stored`,
  ]);
  assert.deepEqual(b!.take(), [
    "ERR unavailable Not sent (1 line): you were out of #ops before it was stored",
    "ERR unavailable Not sent (1 line): you were out of #ops before it was stored",
  ]);
  assert.equal(room.has(b!), true);
});

Deno.test("Room tells the sender of a line the log refused as muted (a room mute came first) that it was not sent, ERR muted, one answer per line", () => {
  const log = new ReportingLog();
  const { room, members: [a, b] } = roomWith(["a", "b"], { log });
  a!.lineIds = true;
  log.outcome = "muted";
  const id = "AAAAAAAAAAAAAAAAAAAAAA";
  room.speak("MSG", a!, "noise", id, "#ops");
  room.speak("ME", b!, "shouts", undefined, "#ops");
  assert.deepEqual(a!.take(), [
    `@id=${id} ERR muted Not sent: you were muted in #ops before it was stored`,
  ]);
  assert.deepEqual(b!.take(), [
    "ERR muted Not sent (1 line): you were muted in #ops before it was stored",
  ]);
  assert.equal(room.has(b!), true);
});

Deno.test("Room refuses another line under an id its log holds with ERR usage naming it, and echoes the same line again", () => {
  const { room, members: [a, b] } = roomWith(["a", "b"]);
  a!.lineIds = true;
  const id = "AAAAAAAAAAAAAAAAAAAAAA";
  room.speak("MSG", a!, "hello", id);
  room.speak("MSG", a!, "hello", id);
  room.speak("MSG", a!, "something else", id);
  assert.deepEqual(a!.take(), [
    `@id=${id} MSG a hello`,
    `@id=${id} MSG a hello`,
    `@id=${id} ERR usage Line dropped: id "${id}" was used for another line; give each line an id of its own`,
  ]);
  assert.deepEqual(b!.take(), ["MSG a hello"]);
});

Deno.test("Room.speak() from a sender with ids: its own copy tagged, everyone else one shared encoding", () => {
  const { room, members } = roomWith(["a", "b", "c"]);
  const [a, b, c] = members as [FakeMember, FakeMember, FakeMember];
  a.lineIds = true;
  c.lineIds = true; // not the sender: gets what everyone gets
  const seen = new Map<FakeMember, Uint8Array>();
  for (const member of members) {
    const deliver = member.deliver.bind(member);
    member.deliver = (line) => (seen.set(member, line), deliver(line));
  }
  const id = "Client-chosen_id-0123";
  room.speak("MSG", a, "hello", id);
  assert.deepEqual(a.take(), [`@id=${id} MSG a hello`]);
  assert.deepEqual([b.take(), c.take()], [["MSG a hello"], ["MSG a hello"]]);
  assert.equal(seen.get(b), seen.get(c), "shared by all but the sender");
  // Without an id of the client's, the server's id, so every line of a
  // client with ids can be told apart.
  room.speak("ME", a, "waves");
  const [echo] = a.take();
  assert.match(echo!, /^@id=s[\w-]{22} ME a waves$/);
  assert.deepEqual([b.take(), c.take()], [["ME a waves"], ["ME a waves"]]);
  // The server's id is the client's to use: sent again, not stored again.
  const made = echo!.slice("@id=".length, "@id=".length + 23);
  room.speak("ME", a, "waves", made);
  assert.deepEqual(a.take(), [`@id=${made} ME a waves`]);
  assert.deepEqual([b.take(), c.take()], [[], []]);
  // A sender without ids: one encoding for everyone, itself included.
  room.speak("MSG", b, "plain", "Client-chosen_id-4567");
  assert.deepEqual(members.map((m) => m.take()), [
    ["MSG b plain"],
    ["MSG b plain"],
    ["MSG b plain"],
  ]);
  assert.ok(members.every((m) => seen.get(m) === seen.get(a)));
});

Deno.test("Room.congested holds while a member's queue is above its watermark; uncongested() resolves once none is", async () => {
  const { room, members: [a, b] } = roomWith(["a", "b"]);
  assert.equal(room.congested, false);
  room.reportQueue(a!, true);
  room.reportQueue(b!, true);
  assert.equal(room.congested, true);
  let free = false;
  const waiting = room.uncongested().then(() => free = true);
  room.reportQueue(a!, false);
  await Promise.resolve();
  assert.equal(free, false, "b is still above");
  room.leave(b!, "quit");
  await waiting;
  assert.equal(room.congested, false);
  // Reports about members not in the room are ignored.
  room.reportQueue(b!, true);
  assert.equal(room.congested, false);
});

Deno.test("Room marks only its fan-out as room lines: a member's replies and history do not count toward its watermark", () => {
  const log = new MemoryLog(systemClock, 10);
  const room = new Room<FakeMember>({ log, announceLimit: 100 });
  const a = new FakeMember();
  a.lineIds = true;
  room.join(a, "a");
  room.speak("MSG", a, "before", "id-of-the-line-before");
  const b = new FakeMember();
  room.join(b, "b", { onEnter: () => room.replies.history(b, 10, false) });
  room.replies.tell(b, { type: "WHO", online: "2", aliases: "a b" });
  room.speak("MSG", a, "hi", "id-of-the-line-hi-xx");
  const got = b.take();
  assert.match(got[1]!, /^HIST 2 \S+ MSG a before$/);
  assert.deepEqual(got, [
    "WELCOME b 2 Type /help for commands",
    got[1],
    "HISTEND 1 End of history: 1 message",
    "WHO 2 a b",
    "MSG a hi",
  ]);
  assert.deepEqual(b.roomLines, ["MSG a hi"]);
  assert.deepEqual(a.roomLines, [
    "@id=id-of-the-line-before MSG a before",
    "JOIN b 2",
    "@id=id-of-the-line-hi-xx MSG a hi",
  ]);
});

Deno.test("Room drops a member above its watermark for stallMs without a break, however it trickles; draining below starts again", async () => {
  const clock = new FakeClock();
  const { room, members: [silent, slow, fast], left } = roomWith(
    ["silent", "slow", "fast"],
    { clock, stallMs: 2000 },
  );
  room.reportQueue(silent!, true);
  room.reportQueue(slow!, true);
  const free = room.uncongested();
  await clock.advance(1500);
  room.reportQueue(slow!, false); // it drained below the watermark
  room.reportQueue(slow!, true); // and went above again
  room.reportQueue(silent!, true); // a repeated report changes nothing
  await clock.advance(499);
  assert.deepEqual(left, []);
  await clock.advance(1);
  assert.deepEqual(left, [["silent", "slow"]]);
  assert.deepEqual(silent!.closed.map(([reason]) => reason), ["slow"]);
  assert.deepEqual(fast!.take(), ["LEAVE silent 2 slow"]);
  assert.equal(room.congested, true, "slow is still above");
  await clock.advance(1499);
  assert.deepEqual(left, [["silent", "slow"]]);
  await clock.advance(1);
  assert.deepEqual(left, [["silent", "slow"], ["slow", "slow"]]);
  await free;
  assert.equal(room.congested, false);
  assert.equal(clock.pending, 0, "no timer left behind");
});

Deno.test("Room counts lines the log has not handed on: congested past backlogBytes until it settles", async () => {
  using store = openStore(null);
  const log = new SqliteLog(store.db, {
    clock: systemClock,
    keep: 10,
  });
  const { room, members: [a, b] } = roomWith(["a", "b"], {
    log,
    backlogBytes: 1000,
  });
  await room.settled();
  a!.take();
  b!.take();
  // Queues are empty, but what is appended reaches them only at the
  // commit: past 1000 bytes of it, senders wait.
  const said: string[] = [];
  while (!room.congested) {
    said.push(`MSG a ${said.length} ${"x".repeat(200)}`);
    room.speak("MSG", a!, said.at(-1)!.slice("MSG a ".length));
  }
  assert.equal(said.length, 4);
  await room.uncongested();
  assert.deepEqual(b!.take(), said);
  // Only what is not handed on counts: three lines a turn never do.
  for (let turn = 0; turn < 3; turn++) {
    for (let i = 0; i < 3; i++) room.speak("MSG", a!, "x".repeat(200));
    assert.equal(room.congested, false);
    await room.settled();
  }
  await log.close();
});

Deno.test("Room refuses a join or rename the log cannot store, and announces a leave once it can", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const log = new SqliteLog(store.db, {
    clock,
    keep: 10,
  });
  const { room, members: [a, b, c], left } = roomWith(["a", "b", "c"], {
    log,
    clock,
  });
  await room.settled();
  for (const member of [a, b, c]) member!.take();
  store.db.exec("PRAGMA query_only = 1"); // every commit fails
  // A join: not in, its alias free again, and told so.
  const d = new FakeMember();
  const joining = room.join(d, "d");
  assert.equal(room.has(d), false);
  await assert.rejects(
    Promise.resolve(joining),
    (e) => e instanceof ProtocolError && e.code === "unavailable",
  );
  assert.deepEqual(d.take(), []);
  // A rename, then its member leaves in the same turn: the old alias
  // comes back, and the leave that is held names it.
  const renaming = Promise.resolve(room.rename(b!, "bee"));
  room.leave(b!, "quit", "bye");
  await assert.rejects(renaming, /you are still "b"/);
  assert.equal(b!.alias, "b");
  room.leave(c!, "disconnect");
  await room.settled();
  assert.deepEqual(a!.take(), [], "nobody heard of any of it");
  assert.deepEqual(left, [["bee", "quit"], ["c", "disconnect"]]);
  // Retried every second while storage fails, quietly.
  await clock.advance(1000);
  await room.settled();
  assert.deepEqual(a!.take(), []);
  // Storage is back: the leaves come first, in order, then the rest.
  store.db.exec("PRAGMA query_only = 0");
  room.join(d, "d");
  room.speak("MSG", a!, "hello");
  await room.settled();
  assert.deepEqual(a!.take(), [
    "LEAVE b 2 quit bye",
    "LEAVE c 1 disconnect",
    "JOIN d 2",
    "MSG a hello",
  ]);
  assert.deepEqual(d.take(), [
    "WELCOME d 2 Type /help for commands",
    "MSG a hello",
  ]);
  assert.equal(clock.pending, 0, "no retry left");
  await log.close();
});
