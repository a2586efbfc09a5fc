/**
 * Tests of held members in sessions, on a fake connection and a fake
 * clock: a member with `resume` whose connection drops stays in the room
 * unseen for the grace, then leaves; a login to its account takes it over
 * with nobody else told; `/msg` to it is refused meanwhile.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../../lib/log.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import { Room } from "../../../lib/server/room/room.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import { Session } from "../../../lib/server/room/session.ts";
import { FakeClock, FakeConnection, testGate } from "../../_fakes.ts";

/** A room with accounts bob and carol, and sessions opened on it. */
async function setup(flags: string[] = []) {
  const clock = new FakeClock();
  const config = parseServerArgs(["--flood-rate", "0", ...flags]);
  const logs: string[] = [];
  const log = createLogger("debug", (line) => logs.push(line), () => 0);
  const room = new Room<Session>({
    log: new MemoryLog(clock),
    announceLimit: config.announceLimit,
    clock,
    resumeGraceMs: config.resumeGraceMs,
    rooms: { ...config, roomCreate: "any", history: 0 },
  });
  const gate = testGate(clock, config);
  await gate.accounts.add("bob", "pw-bob");
  await gate.accounts.add("op", "pw-op");
  gate.accounts.setOperator("op", true);
  let ids = 0;
  const context = { config, room, log, clock, gate, nextId: () => `${++ids}` };
  /** Opens a session (with `resume` unless `plain`) up to HELLO. */
  const open = async (plain = false) => {
    const conn = new FakeConnection(`127.0.0.1:${5000 + ids}`);
    const session = new Session(conn, context);
    assert.match(await conn.nextSent(), /^HELLO /);
    if (!plain) {
      conn.receive("/cap resume");
      assert.equal(await conn.nextSent(), "CAP seq resume");
    }
    return { conn, session };
  };
  /** Joins as a guest, reading up to WELCOME (and RESUME with resume). */
  const join = async (alias: string, plain = false) => {
    const member = await open(plain);
    member.conn.receive(alias);
    assert.match(
      await member.conn.nextSent(),
      new RegExp(`^WELCOME ${alias} `),
    );
    return member;
  };
  return { clock, config, room, logs, open, join };
}

Deno.test("A member with resume gets RESUME after joining; one without does not", async () => {
  const { join, room } = await setup(["--resume-grace", "5"]);
  const alice = await join("alice");
  assert.match(
    await alice.conn.nextSent(),
    /^RESUME [A-Za-z0-9_-]{22} 5 If your connection drops, come back within 5 s /,
  );
  const plain = await join("plain", true);
  plain.conn.receive("hi");
  assert.equal(await plain.conn.nextSent(), "MSG plain hi");
  room.close();
  for (const { conn, session } of [alice, plain]) {
    conn.end();
    await session.finished;
  }
});

Deno.test("A dropped member is held unseen for the grace, refuses /msg, then leaves", async () => {
  const { join, clock, room, logs } = await setup(["--resume-grace", "30"]);
  const alice = await join("alice");
  const token = (await alice.conn.nextSent()).split(" ")[1]!;
  const bob = await join("bob2", true);
  alice.conn.end();
  await alice.session.finished;
  assert.ok(alice.session.away);
  assert.equal(room.holds.held, 1);
  bob.conn.receive("said while alice was away", "/msg alice are you there?");
  assert.equal(await bob.conn.nextSent(), "MSG bob2 said while alice was away");
  assert.equal(
    await bob.conn.nextSent(),
    "ERR away alice is reconnecting; try again shortly",
  );
  // Nothing was queued for the held member, and nobody saw it go.
  assert.ok(!alice.conn.sent.some((line) => line.includes("said while")));
  await clock.advance(29_999);
  bob.conn.receive("/who");
  assert.equal(await bob.conn.nextSent(), "WHO 2 alice bob2");
  await clock.advance(1);
  assert.equal(await bob.conn.nextSent(), "LEAVE alice 1 disconnect");
  assert.equal(room.holds.held, 0);
  assert.ok(!room.has(alice.session));
  assert.ok(logs.some((line) => line.includes("held")));
  assert.ok(!logs.some((line) => line.includes(token)), "token never logged");
  bob.conn.end();
  await bob.session.finished;
});

Deno.test("/quit and a grace of 0 leave at once, as before", async () => {
  const { join, room } = await setup(["--resume-grace", "0"]);
  const alice = await join("alice");
  const bob = await join("bob2", true);
  alice.conn.end();
  await alice.session.finished;
  assert.equal(await bob.conn.nextSent(), "LEAVE alice 1 disconnect");
  room.close();

  const other = await setup();
  const carol = await other.join("carol");
  assert.match(await carol.conn.nextSent(), /^RESUME /);
  const dave = await other.join("dave", true);
  carol.conn.receive("/quit bye now");
  assert.equal(await carol.conn.closed(), "BYE quit Goodbye");
  assert.equal(await dave.conn.nextSent(), "LEAVE carol 1 quit bye now");
  assert.equal(other.room.holds.held, 0);
  for (const { conn, session } of [bob, dave]) {
    conn.end();
    await session.finished;
  }
});

Deno.test("A login to the account of a held member takes it over, unseen", async () => {
  const { open, join, room, clock } = await setup();
  const first = await open();
  first.conn.receive("bob", "/pass pw-bob");
  await first.conn.nextSent(); // PASSWORD
  assert.match(await first.conn.nextSent(), /^WELCOME bob 1 /);
  const oldToken = (await first.conn.nextSent()).split(" ")[1];
  const amy = await join("amy", true);
  first.conn.end();
  await first.session.finished;
  const second = await open();
  second.conn.receive("bob", "/pass pw-bob");
  await second.conn.nextSent(); // PASSWORD
  assert.equal(
    await second.conn.nextSent(),
    "WELCOME bob 2 Welcome back: nobody saw you leave. Type /help for commands",
  );
  const resume = await second.conn.nextSent();
  assert.match(resume, /^RESUME [A-Za-z0-9_-]{22} 30 /);
  assert.notEqual(resume.split(" ")[1], oldToken);
  assert.equal(room.holds.held, 0);
  second.conn.receive("back");
  assert.match(
    await second.conn.nextSent(),
    /^@seq=\d+;time=\S+ MSG bob back$/,
  );
  assert.equal(await amy.conn.nextSent(), "MSG bob back");
  await clock.advance(60_000); // the old grace is over: nothing happens
  // The same member as before: one entry in the room.
  assert.equal(room.size, 2);
  assert.ok(room.has(first.session));
  // It drops again: held again, and its grace runs anew.
  second.conn.end();
  await second.session.finished;
  assert.equal(room.holds.held, 1);
  await clock.advance(30_000);
  assert.equal(await amy.conn.nextSent(), "LEAVE bob 1 disconnect");
  amy.conn.end();
  await amy.session.finished;
});

Deno.test("A held member kicked leaves at once, and its token goes with it", async () => {
  const { open, join, room } = await setup();
  const alice = await join("alice");
  assert.match(await alice.conn.nextSent(), /^RESUME /);
  const op = await open(true);
  op.conn.receive("op", "/pass pw-op");
  await op.conn.nextSent(); // PASSWORD
  assert.match(await op.conn.nextSent(), /^WELCOME op 2 /);
  alice.conn.end();
  await alice.session.finished;
  assert.equal(room.holds.held, 1);
  op.conn.receive("/kick alice go away");
  let line: string;
  do line = await op.conn.nextSent(); while (!line.startsWith("LEAVE"));
  assert.equal(line, "LEAVE alice 1 kicked");
  assert.equal(room.holds.held, 0);
  assert.ok(!room.has(alice.session));
  op.conn.end();
  await op.session.finished;
});

Deno.test("A held member is let go unannounced at shutdown", async () => {
  const { join, room, clock } = await setup();
  const alice = await join("alice");
  alice.conn.end();
  await alice.session.finished;
  room.close();
  assert.equal(room.holds.held, 0);
  assert.ok(!room.has(alice.session));
  assert.equal(clock.pending, 0);
});

Deno.test("A plain connection that takes a held account over gets no RESUME, and leaves at once when dropped", async () => {
  const { open, join, room } = await setup();
  const first = await open();
  first.conn.receive("bob", "/pass pw-bob");
  await first.conn.nextSent(); // PASSWORD
  assert.match(await first.conn.nextSent(), /^WELCOME bob 1 /);
  assert.match(await first.conn.nextSent(), /^RESUME /);
  const amy = await join("amy", true);
  first.conn.end();
  await first.session.finished;
  const plain = await open(true);
  plain.conn.receive("bob", "/pass pw-bob");
  await plain.conn.nextSent(); // PASSWORD
  assert.match(await plain.conn.nextSent(), /^WELCOME bob 2 Welcome back/);
  plain.conn.receive("/who");
  assert.equal(await plain.conn.nextSent(), "WHO 2 amy bob");
  plain.conn.end();
  await plain.session.finished;
  assert.equal(await amy.conn.nextSent(), "LEAVE bob 1 disconnect");
  assert.equal(room.holds.held, 0);
  amy.conn.end();
  await amy.session.finished;
});

Deno.test("A rooms member taken over by token gets its rooms back to itself only; a rooms-less taker is refused", async () => {
  const { open, join, room } = await setup();
  const alice = await open(true);
  alice.conn.receive("/cap rooms resume", "alice");
  assert.equal(await alice.conn.nextSent(), "CAP rooms seq resume");
  const token = /^RESUME (\S+) /.exec(
    await next(alice.conn, /^RESUME /),
  )![1]!;
  alice.conn.receive("/join #ops");
  await next(alice.conn, /^CURRENT #ops$/);
  const amy = await join("amy", true);
  alice.conn.end();
  await alice.session.finished;
  // Without rooms it cannot be that member: refused, and still held.
  const plain = await open();
  plain.conn.receive(`/resume x - ${token}`);
  assert.match(await plain.conn.nextSent(), /^ERR resume-expired /);
  assert.equal(room.holds.held, 1);
  const back = await open(true);
  back.conn.receive("/cap rooms resume", `/resume x - ${token}`);
  assert.equal(await back.conn.nextSent(), "CAP rooms seq resume");
  assert.match(await back.conn.nextSent(), /^WELCOME alice 2 /);
  assert.equal(await back.conn.nextSent(), "#lobby JOIN alice 2");
  assert.equal(await back.conn.nextSent(), "CURRENT #ops");
  assert.equal(await back.conn.nextSent(), "#ops JOIN alice 1");
  assert.equal(await back.conn.nextSent(), "CURRENT #ops");
  assert.match(await back.conn.nextSent(), /^RESUME /);
  amy.conn.receive("/who");
  assert.equal(await amy.conn.nextSent(), "WHO 2 alice amy");
  for (const { conn, session } of [back, amy, plain]) {
    conn.end();
    await session.finished;
  }
  assert.ok(!amy.conn.sent.some((line) => /(JOIN|LEAVE) alice/.test(line)));
});

Deno.test("A token takes over a member whose connection still looks alive: the old one gets BYE replaced, nobody else sees anything", async () => {
  const { open, join, room, logs, clock } = await setup();
  const alice = await join("alice");
  const token = (await alice.conn.nextSent()).split(" ")[1]!;
  const amy = await join("amy", true);
  // Alice's TCP is half-open: the server has not seen it drop.
  assert.equal(room.holds.held, 0);
  const back = await open();
  back.conn.receive(`/resume x - ${token}`);
  assert.match(await back.conn.nextSent(), /^WELCOME alice 2 Welcome back/);
  assert.match(await back.conn.nextSent(), /^RESUME /);
  assert.equal(
    await alice.conn.closed(),
    "BYE replaced Disconnected: your session was resumed from another connection",
  );
  // A line that reaches the old connection now is not read.
  alice.conn.receive("from the old connection");
  await alice.session.finished;
  back.conn.receive("from the new one");
  assert.match(await back.conn.nextSent(), /MSG alice from the new one$/);
  assert.equal(await amy.conn.nextSent(), "MSG alice from the new one");
  assert.equal(room.size, 2);
  assert.ok(room.has(alice.session));
  // The token is used up; the new connection drops: held as usual.
  const again = await open();
  again.conn.receive(`/resume x - ${token}`);
  assert.match(await again.conn.nextSent(), /^ERR resume-expired /);
  back.conn.end();
  await back.session.finished;
  assert.equal(room.holds.held, 1);
  await clock.advance(30_000);
  assert.equal(await amy.conn.nextSent(), "LEAVE alice 1 disconnect");
  assert.ok(
    !amy.conn.sent.some((line) => line.includes("old connection")),
  );
  assert.ok(!logs.some((line) => line.includes(token)), "token never logged");
  for (const { conn, session } of [amy, again]) {
    conn.end();
    await session.finished;
  }
});

Deno.test("A member taken over catches up with every line up to the takeover, the last one too, then gets lines live", async () => {
  const { open, join, room } = await setup();
  const alice = await join("alice");
  const token = (await alice.conn.nextSent()).split(" ")[1]!;
  const amy = await join("amy", true);
  const last = Number(
    /^@seq=(\d+);/.exec(await next(alice.conn, /JOIN amy/))![1],
  );
  alice.conn.end();
  await alice.session.finished;
  amy.conn.receive("missed this");
  assert.equal(await amy.conn.nextSent(), "MSG amy missed this");
  const back = await open();
  back.conn.receive(`/resume ${room.replies.epoch} ${last} ${token}`);
  assert.match(await back.conn.nextSent(), /^WELCOME alice 2 /);
  assert.match(
    await back.conn.nextSent(),
    /^@seq=\d+;time=\S+ MSG amy missed this$/,
  );
  assert.match(await back.conn.nextSent(), /^RESUMED \d+ 0 /);
  assert.match(await back.conn.nextSent(), /^RESUME /);
  amy.conn.receive("live now");
  assert.match(await back.conn.nextSent(), /MSG amy live now$/);
  for (const { conn, session } of [amy, back]) {
    conn.end();
    await session.finished;
  }
});

Deno.test("A login to the account of a live member with resume takes it over too: the old connection gets BYE replaced, nobody sees a LEAVE or JOIN", async () => {
  const { open, join, room } = await setup();
  const first = await open();
  first.conn.receive("bob", "/pass pw-bob");
  await first.conn.nextSent(); // PASSWORD
  assert.match(await first.conn.nextSent(), /^WELCOME bob 1 /);
  assert.match(await first.conn.nextSent(), /^RESUME /);
  const amy = await join("amy", true);
  const second = await open();
  second.conn.receive("bob", "/pass pw-bob");
  await second.conn.nextSent(); // PASSWORD
  assert.match(await second.conn.nextSent(), /^WELCOME bob 2 Welcome back/);
  assert.equal(
    await first.conn.closed(),
    "BYE replaced Disconnected: your session was resumed from another connection",
  );
  await first.session.finished;
  second.conn.receive("still me");
  assert.equal(await amy.conn.nextSent(), "MSG bob still me");
  assert.ok(room.has(first.session));
  // A login without resume takes it over the same way (its token is the
  // member's); dropped, it then leaves at once.
  const plain = await open(true);
  plain.conn.receive("bob", "/pass pw-bob");
  await plain.conn.nextSent(); // PASSWORD
  assert.match(await plain.conn.nextSent(), /^WELCOME bob 2 Welcome back/);
  assert.match(await second.conn.closed() ?? "", /^BYE replaced /);
  plain.conn.end();
  await plain.session.finished;
  assert.equal(await amy.conn.nextSent(), "LEAVE bob 1 disconnect");
  for (const { conn, session } of [amy, second]) {
    conn.end();
    await session.finished;
  }
});

/** The next line sent that matches `pattern` (others skipped). */
async function next(conn: FakeConnection, pattern: RegExp): Promise<string> {
  while (true) {
    const line = await conn.nextSent();
    if (pattern.test(line)) return line;
  }
}
