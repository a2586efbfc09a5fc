/**
 * Tests of the session state machine with a fake connection and a fake
 * clock: no sockets, no waiting on real time, so deadlines, flood control
 * and endings are instant and deterministic.
 */

import assert from "node:assert/strict";
import { LINE_ENDLESS, LINE_TOO_LONG } from "../../../lib/framing.ts";
import { createLogger } from "../../../lib/log.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import { Room } from "../../../lib/server/room/room.ts";
import { parseAddressRange } from "../../../lib/address.ts";
import type { RoomLog } from "../../../lib/server/room/room_log.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import { Session } from "../../../lib/server/room/session.ts";
import { SqliteLog } from "../../../lib/server/storage/sqlite_log.ts";
import { openStore } from "../../../lib/server/storage/store.ts";
import { FakeClock, FakeConnection, settle, testGate } from "../../_fakes.ts";
import type { PeerCertificate } from "../../../lib/server/access/accounts.ts";
import { InputOverflowError } from "../../../lib/server/room/connection.ts";

/**
 * A room and a way to open sessions on it, all on one fake clock; its log
 * is in memory unless `roomLog` makes one (a durable one hands lines on
 * a turn later).
 */
function setup(
  flags: string[] = [],
  roomPassword: string | null = null,
  roomLog: (clock: FakeClock) => RoomLog = (clock) => new MemoryLog(clock),
) {
  const clock = new FakeClock();
  const config = parseServerArgs(flags);
  const logs: string[] = [];
  const log = createLogger("debug", (line) => logs.push(line), () => 0);
  const room = new Room<Session>({
    log: roomLog(clock),
    announceLimit: config.announceLimit,
    clock,
    stallMs: config.stallTimeoutMs,
    backlogBytes: config.queueBytes / 16,
    // The server's rooms, as it configures them (no store: in memory);
    // history on entering only when asked for (the logs here keep none).
    rooms: {
      ...config,
      roomCreate: config.roomCreate ?? "any",
      history: flags.includes("--history") ? config.history : 0,
    },
  });
  const gate = testGate(clock, config, roomPassword);
  let ids = 0;
  // The server's event loop stood still this long (the test says).
  const stalls = { ms: 0, latestMs: 0 };
  const context = {
    config,
    room,
    log,
    clock,
    gate,
    nextId: () => String(++ids),
    stalls,
  };
  const open = (
    address = `127.0.0.1:${5000 + ids}`,
    certificate: PeerCertificate | null = null,
  ) => {
    const conn = new FakeConnection(address, certificate);
    return { conn, session: new Session(conn, context) };
  };
  /** Opens a session and joins it as `alias`, reading up to WELCOME. */
  const join = async (alias: string) => {
    const { conn, session } = open();
    assert.match(await conn.nextSent(), /^HELLO /);
    conn.receive(alias);
    assert.match(await conn.nextSent(), new RegExp(`^WELCOME ${alias} `));
    return { conn, session };
  };
  return { clock, config, room, logs, open, join, gate, stalls };
}

Deno.test("Session greets with the server's flood limits and welcomes an alias", async () => {
  const { open, room } = setup(["--name", "room", "--flood-rate", "2.5"]);
  const { conn, session } = open();
  assert.equal(
    await conn.nextSent(),
    `HELLO tlschat/1 room rate=2.5,burst=10,line=4096,caps=ids+rooms+seq+resume+notice,epoch=${room.replies.epoch} Send your alias (1 to 32 letters, digits, _ . -)`,
  );
  conn.receive("alice");
  assert.equal(
    await conn.nextSent(),
    "WELCOME alice 1 Type /help for commands",
  );
  conn.receive("hi");
  assert.equal(await conn.nextSent(), "MSG alice hi");
  conn.end();
  await session.finished;
});

Deno.test("Session refuses the server's own name as an alias, in any case, joining or renaming: it would pass for the server", async () => {
  const { open } = setup(["--name", "Hub"]);
  const { conn, session } = open();
  await conn.nextSent();
  conn.receive("hub");
  assert.equal(
    await conn.nextSent(),
    'ERR alias-reserved Alias "hub" is reserved',
  );
  conn.receive("alice");
  assert.match(await conn.nextSent(), /^WELCOME alice /);
  conn.receive("/nick HUB");
  assert.equal(
    await conn.nextSent(),
    'ERR alias-reserved Alias "HUB" is reserved',
  );
  conn.end();
  await session.finished;
});

Deno.test("Session closes with BYE timeout when no alias comes in time", async () => {
  const { clock, open } = setup(["--alias-timeout", "30"]);
  const { conn, session } = open();
  await conn.nextSent();
  await clock.advance(29_999);
  assert.equal(conn.closedWith, undefined);
  await clock.advance(1);
  assert.equal(await conn.closed(), "BYE timeout No alias chosen within 30 s");
  await session.finished;
});

Deno.test("Session accepts /QUIT at the alias prompt and refuses other commands", async () => {
  const { open } = setup();
  const { conn, session } = open();
  await conn.nextSent();
  conn.receive("/who");
  assert.equal(
    await conn.nextSent(),
    "ERR usage Choose an alias first: send it as a line of its own",
  );
  conn.receive("/QUIT bye");
  assert.equal(await conn.closed(), "BYE quit Goodbye");
  await session.finished;
});

Deno.test("Session pings a silent member at half the idle timeout, then drops it", async () => {
  const { clock, join } = setup(["--idle-timeout", "300"]);
  const alice = await join("alice");
  const quiet = await join("quiet");
  assert.equal(await alice.conn.nextSent(), "JOIN quiet 2");
  assert.equal(clock.pending, 1, "one timer for every member's deadline");
  await clock.advance(150_000);
  assert.match(await quiet.conn.nextSent(), /^PING \d+$/);
  assert.match(await alice.conn.nextSent(), /^PING \d+$/);
  await clock.advance(1000);
  alice.conn.receive("/pong");
  await clock.advance(149_000);
  assert.equal(
    await quiet.conn.closed(),
    "BYE timeout Disconnected: silent for 300 s",
  );
  assert.equal(await alice.conn.nextSent(), "LEAVE quiet 1 timeout");
  await quiet.session.finished;
  alice.conn.end();
  await alice.session.finished;
});

Deno.test("Session holds no stall of the server against a member: what it sent at its rate meanwhile, read at once after, is no flood", async () => {
  const { clock, join, stalls } = setup([
    "--flood-rate",
    "5",
    "--flood-burst",
    "3",
  ]);
  const alice = await join("alice");
  const bob = await join("bob");
  await alice.conn.nextSent(); // JOIN bob
  // The server stood still for 2 s while bob sent 9 lines at 4.5 a second
  // (as the terminal client paces itself): read at once after.
  await clock.advance(2_000);
  stalls.ms += 2_000;
  stalls.latestMs = 2_000;
  const lines = Array.from({ length: 9 }, (_, i) => `line ${i + 1}`);
  bob.conn.receive(...lines);
  for (const line of lines) {
    assert.equal(await bob.conn.nextSent(), `MSG bob ${line}`);
  }
  assert.equal(bob.conn.sent.some((l) => l.startsWith("ERR flood")), false);
  // A stall does not make a flood free: without one, the same 9 lines at
  // once are over the rate (a burst of 3), and bob is kicked for them.
  await clock.advance(2_000);
  bob.conn.receive(...lines);
  assert.match(
    await nextLine(bob.conn, /^ERR /),
    /^ERR flood Slow down: more than 5 lines per second/,
  );
  await clock.advance(2_000);
  assert.match(String(await bob.conn.closed()), /^BYE flood /);
  await bob.session.finished;
  await end(alice);
});

Deno.test("Session excuses a member only the server's last stall, not every stall since its last line: a silent member's stalls do not add up to a free flood", async () => {
  const { clock, join, stalls } = setup([
    "--flood-rate",
    "5",
    "--flood-burst",
    "3",
  ]);
  const alice = await join("alice");
  const bob = await join("bob");
  await alice.conn.nextSent(); // JOIN bob
  // The server stood still five times for 2 s while bob said nothing (an
  // attacker can make it: catch-ups of 2,000 lines, 19 at once).
  for (let i = 0; i < 5; i++) {
    await clock.advance(10_000);
    stalls.ms += 2_000;
    stalls.latestMs = 2_000;
  }
  // Then 40 lines at once: a burst of 3 and the last stall's 10 lines pass,
  // not the 50 the five stalls would excuse together.
  const lines = Array.from({ length: 40 }, (_, i) => `line ${i + 1}`);
  bob.conn.receive(...lines);
  for (const line of lines.slice(0, 13)) {
    assert.equal(await bob.conn.nextSent(), `MSG bob ${line}`);
  }
  assert.match(
    await bob.conn.nextSent(),
    /^ERR flood Slow down: more than 5 lines per second/,
  );
  await clock.advance(10_000);
  assert.match(String(await bob.conn.closed()), /^BYE flood /);
  await bob.session.finished;
  await end(alice);
});

Deno.test("Session delays a client over its rate, then kicks it after a burst of delays", async () => {
  const { clock, join, room } = setup([
    "--flood-rate",
    "5",
    "--flood-burst",
    "3",
  ]);
  const alice = await join("alice");
  const flooder = await join("flooder");
  await alice.conn.nextSent(); // JOIN flooder
  // The alias took a token: 2 of the burst of 3 are left.
  flooder.conn.receive("1", "2", "3", "4", "5", "6", "7");
  assert.equal(await flooder.conn.nextSent(), "MSG flooder 1");
  assert.equal(await flooder.conn.nextSent(), "MSG flooder 2");
  assert.match(
    await flooder.conn.nextSent(),
    /^ERR flood Slow down: more than 5 lines per second/,
  );
  await clock.advance(199);
  await settle();
  assert.equal(flooder.conn.sent.length, 5, "line 3 waits for its token");
  await clock.advance(1);
  assert.equal(await flooder.conn.nextSent(), "MSG flooder 3");
  await clock.advance(200);
  assert.equal(await flooder.conn.nextSent(), "MSG flooder 4");
  await clock.advance(200);
  assert.equal(await flooder.conn.nextSent(), "MSG flooder 5");
  // A fourth delayed line in a row is one more than the burst.
  await clock.advance(200);
  assert.equal(
    await flooder.conn.closed(),
    "BYE flood Disconnected for flooding: kept sending more than 5 lines per second",
  );
  const seen = alice.conn.sent.slice(-1);
  assert.deepEqual(seen, ["LEAVE flooder 1 flood kicked for flooding"]);
  await flooder.session.finished;
  // Lines 3, 4, 5 and 6 waited for their token; one member was kicked.
  assert.equal(room.metrics.floodDelayed, 4);
  assert.equal(room.metrics.floodDisconnects, 1);
  assert.equal(room.metrics.doors.tls.messages, 5);
  assert.equal(room.metrics.doors.tls.connections, 1);
  alice.conn.end();
  await alice.session.finished;
  assert.equal(room.metrics.doors.tls.connections, 0);
});

Deno.test("Session answers an over-long line with ERR and an endless one with BYE", async () => {
  const { join, config } = setup();
  const { conn, session } = await join("alice");
  conn.receive(LINE_TOO_LONG);
  assert.equal(
    await conn.nextSent(),
    `ERR line-too-long Line dropped: longer than ${config.maxLineBytes} bytes`,
  );
  conn.receive(LINE_ENDLESS);
  assert.equal(
    await conn.closed(),
    `BYE line-too-long Disconnected: a line went on past ${config.maxSkipBytes} bytes`,
  );
  await session.finished;
});

Deno.test("Session flushes what is queued when the peer ends its side", async () => {
  const { join } = setup();
  const alice = await join("alice");
  const bob = await join("bob");
  await alice.conn.nextSent(); // JOIN bob
  bob.conn.receive("/who", "bye now");
  bob.conn.end();
  await bob.session.finished;
  // Everything was handled and queued; the goodbye has no BYE line (the
  // peer left) but still flushes the queue (see TlsConnection).
  assert.deepEqual(bob.conn.sent.slice(-2), [
    "WHO 2 alice bob",
    "MSG bob bye now",
  ]);
  assert.equal(bob.conn.closedWith, null);
  assert.equal(await alice.conn.nextSent(), "MSG bob bye now");
  assert.equal(await alice.conn.nextSent(), "LEAVE bob 1 disconnect");
  alice.conn.end();
  await alice.session.finished;
});

Deno.test("Session leaves at once when its queue cannot take the welcome (no ghost)", async () => {
  const { room, open, join } = setup();
  const alice = await join("alice");
  const { conn, session } = open();
  await conn.nextSent();
  conn.full = true;
  conn.receive("ghost");
  assert.equal(
    await conn.closed(),
    "BYE slow Disconnected: too many lines were waiting for you to read them",
  );
  await session.finished;
  assert.equal(room.size, 1);
  assert.equal(room.metrics.slowDrops, 1);
  assert.deepEqual(alice.conn.sent.slice(2), [
    "JOIN ghost 2",
    "LEAVE ghost 1 slow",
  ]);
  // The alias is free, and the ghost's session cannot act any more.
  const real = await join("ghost");
  assert.equal(room.has(real.session), true);
  conn.receive("/nick alice");
  await settle();
  assert.equal(room.size, 2);
  for (const member of [alice, real]) {
    member.conn.end();
    await member.session.finished;
  }
});

Deno.test("Session refuses an alias that looks like a present member's", async () => {
  const { join, open } = setup();
  const alice = await join("Alice");
  const { conn, session } = open();
  await conn.nextSent();
  conn.receive("AIice");
  assert.equal(
    await conn.nextSent(),
    'ERR alias-taken Cannot join room: alias "AIice" looks like "Alice", who is here',
  );
  conn.receive("_alice.");
  assert.equal(
    await conn.nextSent(),
    'ERR alias-taken Cannot join room: alias "_alice." looks like "Alice", who is here',
  );
  conn.end();
  await session.finished;
  alice.conn.end();
  await alice.session.finished;
});

/** A setup with accounts: alice (operator), bob; passwords "pw-" + alias. */
async function withAccounts(
  flags: string[] = [],
  roomPassword: string | null = null,
) {
  const setupResult = setup(flags, roomPassword);
  const { accounts } = setupResult.gate;
  await accounts.add("alice", "pw-alice");
  accounts.setOperator("alice", true);
  await accounts.add("bob", "pw-bob");
  /** Joins `alias` giving `password` when asked. */
  const login = async (alias: string, password: string) => {
    const { conn, session } = setupResult.open();
    await conn.nextSent();
    conn.receive(alias);
    assert.match(await conn.nextSent(), /^PASSWORD account /);
    conn.receive(`/pass ${password}`);
    assert.match(await conn.nextSent(), new RegExp(`^WELCOME ${alias} `));
    return { conn, session };
  };
  return { ...setupResult, login };
}

/** Ends sessions by closing their input, and waits for them. */
async function end(...members: { conn: FakeConnection; session: Session }[]) {
  for (const { conn, session } of members) {
    conn.end();
    await session.finished;
  }
}

Deno.test("Session asks guests for the room password: one more try, then BYE", async () => {
  const { open } = setup([], "open sesame");
  const ok = open();
  assert.match(
    await ok.conn.nextSent(),
    /^HELLO tlschat\/1 \S+ rate=5,burst=10,line=4096,auth=room,caps=ids\+rooms\+seq\+resume\+notice,epoch=[\w-]+ /,
  );
  ok.conn.receive("amy");
  assert.equal(
    await ok.conn.nextSent(),
    "PASSWORD room This room has a password: send /pass PASSWORD",
  );
  ok.conn.receive("/pass open sesame");
  assert.match(await ok.conn.nextSent(), /^WELCOME amy 1 /);
  const retry = open();
  await retry.conn.nextSent();
  retry.conn.receive("ben", "/pass wrong");
  await retry.conn.nextSent(); // PASSWORD
  assert.equal(
    await retry.conn.nextSent(),
    "ERR password-wrong Wrong room password: one more try",
  );
  assert.match(await retry.conn.nextSent(), /^PASSWORD room /);
  retry.conn.receive("/pass open sesame");
  assert.match(await retry.conn.nextSent(), /^WELCOME ben 2 /);
  const out = open();
  await out.conn.nextSent();
  out.conn.receive("cat", "/pass wrong", "/pass still wrong");
  assert.equal(await out.conn.closed(), "BYE auth-failed Wrong room password");
  await out.session.finished;
  await end(ok, retry);
});

Deno.test("Session logs an account in with its password, and refuses a wrong one alike", async () => {
  const { open, login, room } = await withAccounts();
  const alice = await login("alice", "pw-alice");
  assert.equal(alice.session.account, "alice");
  assert.equal(alice.session.operator, true);
  const guess = open();
  await guess.conn.nextSent();
  for (const password of ["nope", "nope2"]) {
    guess.conn.receive("bob");
    assert.match(
      await guess.conn.nextSent(),
      /^PASSWORD account "bob" is a registered alias/,
    );
    guess.conn.receive(`/pass ${password}`);
    assert.equal(
      await guess.conn.nextSent(),
      "ERR login-failed Wrong alias or password",
    );
  }
  guess.conn.receive("bob", "/pass nope3");
  await guess.conn.nextSent();
  assert.equal(
    await guess.conn.closed(),
    "BYE auth-failed Too many failed logins",
  );
  await guess.session.finished;
  assert.equal(room.size, 1);
  await end(alice);
});

Deno.test("Session under --accounts-only asks guests for a password they cannot have", async () => {
  const { open } = await withAccounts(["--accounts-only"]);
  const guest = open();
  assert.match(
    await guest.conn.nextSent(),
    /,auth=accounts,caps=ids\+rooms\+seq\+resume\+notice,epoch=[\w-]+ /,
  );
  guest.conn.receive("zed");
  assert.match(await guest.conn.nextSent(), /^PASSWORD account "zed"/);
  guest.conn.receive("/pass anything");
  assert.equal(
    await guest.conn.nextSent(),
    "ERR login-failed Wrong alias or password",
  );
  await end(guest);
});

Deno.test("Session limits failed logins per address, whatever the connection, and ends a held-back login", async () => {
  const { open, join } = await withAccounts(["--login-attempts", "2"]);
  const { conn, session } = open();
  await conn.nextSent();
  for (const line of ["bob", "/pass x1", "bob", "/pass x2"]) {
    conn.receive(line);
  }
  for (let i = 0; i < 2; i++) {
    await conn.nextSent();
    assert.match(await conn.nextSent(), /^ERR login-failed/);
  }
  const other = open(); // another connection from the same address
  await other.conn.nextSent();
  other.conn.receive("bob", "/pass pw-bob");
  assert.match(await other.conn.nextSent(), /^PASSWORD account "bob"/);
  // It could not try again before its alias deadline: told why, and closed.
  assert.equal(
    await other.conn.closed(),
    "BYE too-many-attempts Too many failed logins: try again in 60 s",
  );
  await other.session.finished;
  // A member renaming keeps its alias: only the rename is refused.
  const guest = await join("someone");
  guest.conn.receive("/nick bob");
  assert.match(await guest.conn.nextSent(), /^PASSWORD account "bob"/);
  guest.conn.receive("/pass pw-bob");
  assert.match(
    await guest.conn.nextSent(),
    /^ERR too-many-attempts Too many failed logins: try again in \d+ s$/,
  );
  assert.equal(guest.session.alias, "someone");
  assert.equal(guest.conn.closedWith, undefined);
  await end({ conn, session }, guest);
});

Deno.test("Session lets /nick take a registered alias only with its password", async () => {
  const { join, room } = await withAccounts();
  const guest = await join("someone");
  guest.conn.receive("/nick bob");
  assert.match(await guest.conn.nextSent(), /^PASSWORD account "bob"/);
  // Lines before the password are chat lines, and the password never is.
  guest.conn.receive("a chat line, not a password", "/pass wrong");
  assert.equal(
    await guest.conn.nextSent(),
    "MSG someone a chat line, not a password",
  );
  assert.equal(
    await guest.conn.nextSent(),
    "ERR login-failed Wrong alias or password",
  );
  assert.equal(guest.session.alias, "someone");
  guest.conn.receive("/pass pw-bob");
  assert.equal(
    await guest.conn.nextSent(),
    "ERR usage No password was asked for",
  );
  guest.conn.receive("/nick bob");
  await guest.conn.nextSent();
  guest.conn.receive("/pass pw-bob");
  assert.equal(await guest.conn.nextSent(), "NICK someone bob 1");
  assert.equal(guest.session.account, "bob");
  assert.deepEqual(await room.find("BOB"), { here: guest.session });
  await end(guest);
});

Deno.test("Session of a member that fails /nick logins until BYE auth-failed leaves the room (no ghost)", async () => {
  const { join, room } = await withAccounts();
  const guest = await join("someone");
  const other = await join("other");
  /** The next line `conn` is sent that starts with `start`. */
  const next = async (conn: FakeConnection, start: string) => {
    let line;
    do line = await conn.nextSent(); while (!line.startsWith(start));
    return line;
  };
  for (let i = 0; i < 3; i++) {
    guest.conn.receive("/nick bob");
    assert.match(await next(guest.conn, "PASSWORD"), /^PASSWORD account "bob"/);
    guest.conn.receive("/pass wrong");
  }
  assert.equal(
    await guest.conn.closed(),
    "BYE auth-failed Too many failed logins",
  );
  assert.equal(room.has(guest.session), false);
  assert.equal(await room.find("someone"), null);
  assert.equal(await next(other.conn, "LEAVE"), "LEAVE someone 1 disconnect");
  await end(guest, other);
});

Deno.test("Session replaces an account holder's older connection", async () => {
  const { login } = await withAccounts();
  const first = await login("bob", "pw-bob");
  const second = await login("bob", "pw-bob");
  assert.equal(
    await first.conn.closed(),
    'BYE replaced Disconnected: "bob" logged in from another connection',
  );
  await first.session.finished;
  await end(second);
});

Deno.test("Session logs in with a verified client certificate, without a password", async () => {
  const { gate, config, room } = await withAccounts();
  const clock = new FakeClock();
  const context = {
    config,
    room,
    gate,
    clock,
    log: createLogger("error", () => {}),
    nextId: () => "c1",
  };
  const certified = new FakeConnection("127.0.0.1:6000", {
    subject: "bob",
    fingerprint: "AA",
    verified: true,
    error: null,
  });
  const session = new Session(certified, context);
  await certified.nextSent();
  certified.receive("bob");
  assert.match(await certified.nextSent(), /^WELCOME bob 1 /);
  assert.equal(session.account, "bob");
  await end({ conn: certified, session });
});

Deno.test("Session carries out operator commands, and refuses them to others", async () => {
  const { login, join, gate } = await withAccounts(["--flood-rate", "0"]);
  const op = await login("alice", "pw-alice");
  const bob = await login("bob", "pw-bob");
  const guest = await join("guest1");
  bob.conn.receive("/kick guest1");
  assert.equal(await bob.conn.nextSent(), "JOIN guest1 3");
  assert.equal(
    await bob.conn.nextSent(),
    "ERR not-operator /kick is for operators only",
  );
  bob.conn.receive("/kick alice");
  assert.equal(
    await bob.conn.nextSent(),
    "ERR not-operator /kick is for operators only",
  );
  // Topic.
  op.conn.receive("/topic Release day");
  for (const m of [op, bob, guest]) {
    assert.equal(await nextRoomLine(m.conn), "TOPIC alice Release day");
  }
  // Mute: the member may read, not speak.
  op.conn.receive("/mute guest1 10m");
  assert.match(
    await nextRoomLine(bob.conn),
    /^MOD mute guest1 alice by alice until \S+$/,
  );
  guest.conn.receive("hello?");
  assert.match(
    await nextLine(guest.conn, /^ERR/),
    /^ERR muted You are muted by alice until /,
  );
  op.conn.receive("/unmute guest1");
  assert.equal(await nextRoomLine(bob.conn), "MOD unmute guest1 alice");
  guest.conn.receive("hello again");
  assert.equal(await nextRoomLine(bob.conn), "MSG guest1 hello again");
  // Operators cannot act on operators.
  op.conn.receive("/ban alice");
  assert.match(
    await nextLine(op.conn, /^ERR/),
    /^ERR not-permitted "alice" is an operator/,
  );
  // Kick.
  op.conn.receive("/kick guest1 calm down");
  assert.equal(await nextRoomLine(bob.conn), "MOD kick guest1 alice calm down");
  assert.equal(await nextRoomLine(bob.conn), "LEAVE guest1 2 kicked");
  assert.equal(
    await guest.conn.closed(),
    "BYE kicked Kicked by alice: calm down",
  );
  // Ban by account: out now, and refused when back.
  op.conn.receive("/ban bob 1h spam");
  assert.match(
    await nextLine(op.conn, /^MOD ban/),
    /^MOD ban bob alice by alice until \S+: spam$/,
  );
  assert.match(
    await bob.conn.closed() ?? "",
    /^BYE banned Banned by alice until \S+: spam$/,
  );
  assert.equal(
    gate.sanctionFor("ban", { account: "bob", host: "1.1.1.1" })?.reason,
    "spam",
  );
  op.conn.receive("/bans");
  assert.match(
    await nextLine(op.conn, /^BAN/),
    /^BAN account bob \S+ alice spam$/,
  );
  // Its address too, so that bob cannot come back as a guest; the room
  // only ever sees the alias.
  assert.match(
    await nextLine(op.conn, /^BAN/),
    /^BAN address 127\.0\.0\.1\(bob\) \S+ alice spam$/,
  );
  assert.equal(await nextLine(op.conn, /^INFO/), "INFO 2 bans");
  op.conn.receive("/unban bob");
  assert.equal(await nextRoomLine(op.conn), "MOD unban bob alice");
  op.conn.receive("/unban bob");
  assert.match(await nextLine(op.conn, /^ERR/), /^ERR no-such-sanction /);
  await end(op, bob, guest);
});

Deno.test("Session refuses a banned address before HELLO; only an operator's certificate passes", async () => {
  const { open, gate, logs } = await withAccounts();
  gate.moderation.add("ban", { range: parseAddressRange("127.0.0.0/8")! }, {
    durationMs: null,
    by: "alice",
    reason: "spam",
  });
  // Nothing it could say counts: not even an operator's alias and password.
  const { conn, session } = open();
  conn.receive("alice", "/pass pw-alice");
  assert.equal(
    await conn.closed(),
    "BYE banned Banned by alice until lifted: spam",
  );
  assert.deepEqual(conn.sent, []);
  await session.finished;
  assert.ok(
    logs.some((l) =>
      /INFO refused addr=127\.0\.0\.1:\d+ reason=banned/.test(l)
    ),
  );
  // A verified certificate proves an operator before anything is said.
  const certificate = (subject: string) => ({
    subject,
    fingerprint: `FP:${subject}`,
    verified: true,
    error: null,
  });
  const alice = open(undefined, certificate("alice"));
  assert.match(await alice.conn.nextSent(), /^HELLO /);
  alice.conn.receive("alice");
  assert.match(await alice.conn.nextSent(), /^WELCOME alice /);
  // Another account's certificate does not.
  const bob = open(undefined, certificate("bob"));
  assert.match(await bob.conn.closed() ?? "", /^BYE banned /);
  await bob.session.finished;
  await end(alice);
});

/** The next line matching `pattern` (others are skipped). */
async function nextLine(
  conn: FakeConnection,
  pattern: RegExp,
): Promise<string> {
  while (true) {
    const line = await conn.nextSent();
    if (pattern.test(line)) return line;
  }
}

/** The next line everyone gets (skipping JOINs of setup and PINGs). */
function nextRoomLine(conn: FakeConnection): Promise<string> {
  return nextLine(conn, /^(MSG|ME|LEAVE|NICK|TOPIC|MOD)/);
}

Deno.test("Session takes the room password before the alias too, and limits guesses per address", async () => {
  const { open } = setup(["--login-attempts", "4"], "open sesame");
  const early = open();
  await early.conn.nextSent();
  early.conn.receive("/pass open sesame", "amy");
  assert.equal(
    await early.conn.nextSent(),
    "INFO Room password accepted: send your alias",
  );
  assert.match(await early.conn.nextSent(), /^WELCOME amy 1 /);
  // Reconnecting does not give a guesser more tries: the address does.
  const guesses: string[] = [];
  for (let i = 0; i < 2; i++) {
    const { conn, session } = open();
    await conn.nextSent();
    conn.receive("/pass guess a", "/pass guess b");
    guesses.push(await conn.nextSent(), await conn.closed() ?? "");
    await session.finished;
  }
  assert.deepEqual(guesses, [
    "ERR password-wrong Wrong room password: one more try",
    "BYE auth-failed Wrong room password",
    "ERR password-wrong Wrong room password: one more try",
    "BYE auth-failed Wrong room password",
  ]);
  const late = open();
  await late.conn.nextSent();
  late.conn.receive("/pass open sesame");
  assert.match(
    await late.conn.closed() ?? "",
    /^BYE too-many-attempts Too many failed logins: try again in \d+ s$/,
  );
  await late.session.finished;
  await end(early);
});

Deno.test("Session lets an account holder in from a known address while strangers are locked out", async () => {
  const { open, login } = await withAccounts([
    "--login-attempts",
    "2",
    "--account-attempts",
    "2",
  ]);
  await end(await login("bob", "pw-bob")); // from 127.0.0.1
  const attempt = async (address: string, password: string) => {
    const { conn, session } = open(address);
    await conn.nextSent();
    conn.receive("bob", `/pass ${password}`);
    await conn.nextSent(); // PASSWORD
    // The answer, or (nothing more sent) the goodbye of a login held back.
    const answer = await conn.nextSent().catch(() => conn.closed());
    await end({ conn, session });
    return answer ?? "";
  };
  // A stranger fails twice for bob: the account is locked for strangers...
  assert.match(await attempt("10.9.9.9:4000", "x"), /^ERR login-failed/);
  assert.match(await attempt("10.9.9.9:4001", "y"), /^ERR login-failed/);
  assert.match(
    await attempt("10.8.8.8:4000", "pw-bob"),
    /^BYE too-many-attempts Too many failed logins: try again in \d+ s$/,
  );
  // ...but not for bob, from the address he logged in from before.
  assert.match(await attempt("127.0.0.1:4100", "pw-bob"), /^WELCOME bob /);
});

Deno.test("Session keeps a muted member silent in every way, whatever the mutes' order", async () => {
  const { login, join, clock } = await withAccounts(["--flood-rate", "0"]);
  const op = await login("alice", "pw-alice");
  const muted = await join("quiet");
  op.conn.receive("/mute quiet");
  op.conn.receive("/mute quiet 1m");
  await nextLine(op.conn, /^MOD mute quiet alice by alice until \S+Z$/);
  muted.conn.receive("/nick loud", "/me shouts", "/msg alice psst");
  for (let i = 0; i < 3; i++) {
    assert.match(await nextLine(muted.conn, /^ERR/), /^ERR muted /);
  }
  // The short mute ends; the one until lifted still holds.
  await clock.advance(61_000);
  muted.conn.receive("still there?");
  assert.match(await nextLine(muted.conn, /^ERR/), /^ERR muted .*until lifted/);
  muted.conn.receive("/quit free advertising here");
  assert.equal(await nextRoomLine(op.conn), "LEAVE quiet 1 quit");
  await end(op, muted);
});

/** Amy and cat, with `rooms`, both in `#ops`, where amy (its maker) muted cat. */
async function mutedInOps() {
  const { open } = setup(["--flood-rate", "0"]);
  const withRooms = async (alias: string) => {
    const { conn, session } = open();
    assert.match(await conn.nextSent(), /^HELLO /);
    conn.receive("/cap rooms", alias);
    await nextLine(conn, /^CURRENT /);
    return { conn, session };
  };
  const amy = await withRooms("amy");
  const cat = await withRooms("cat");
  amy.conn.receive("/join #ops");
  await nextLine(amy.conn, /^CURRENT #ops/);
  cat.conn.receive("/join #ops");
  await nextLine(cat.conn, /^CURRENT #ops/);
  amy.conn.receive("#ops /mute cat 10m");
  await nextLine(amy.conn, /^#ops MOD mute cat amy/);
  return { amy, cat };
}

Deno.test("Session passes on no /quit reason of a member muted in one of its rooms: it would reach that room", async () => {
  const { amy, cat } = await mutedInOps();
  cat.conn.receive("/quit buy cheap pills at example.com");
  assert.equal(
    await nextLine(amy.conn, /^#ops LEAVE/),
    "#ops LEAVE cat 1 quit",
  );
  await end(amy, cat);
});

Deno.test("Session refuses /nick to a member muted in one of its rooms: the rename would be announced there", async () => {
  const { amy, cat } = await mutedInOps();
  cat.conn.receive("/nick buy-cheap-pills");
  assert.equal(
    await nextLine(cat.conn, /^ERR /),
    "ERR muted You are muted in #ops: a new alias would be announced there",
  );
  // Once out of that room, the member may rename itself again.
  cat.conn.receive("/part #ops");
  await nextLine(cat.conn, /^#ops LEAVE cat/);
  cat.conn.receive("/nick kit");
  assert.match(
    await nextLine(cat.conn, /^#lobby NICK /),
    /^#lobby NICK cat kit/,
  );
  await end(amy, cat);
});

Deno.test("Session bans a present member whose alias looks like an address as a member", async () => {
  const { login, join } = await withAccounts(["--flood-rate", "0"]);
  const op = await login("alice", "pw-alice");
  const odd = await join("10.9.8.7");
  op.conn.receive("/ban 10.9.8.7 1h");
  assert.match(await odd.conn.closed() ?? "", /^BYE banned /);
  assert.match(
    await nextLine(op.conn, /^MOD ban/),
    /^MOD ban 10\.9\.8\.7 alice /,
  );
  await end(op, odd);
});

Deno.test("Session follows users deop at once: no more immunity, no more @", async () => {
  const { login, gate } = await withAccounts(["--flood-rate", "0"]);
  await gate.accounts.add("carol", "pw-carol");
  gate.accounts.setOperator("carol", true);
  const alice = await login("alice", "pw-alice");
  const carol = await login("carol", "pw-carol");
  alice.conn.receive("/who");
  assert.equal(await nextLine(alice.conn, /^WHO/), "WHO 2 @alice @carol");
  gate.accounts.setOperator("carol", false);
  alice.conn.receive("/who");
  assert.equal(await nextLine(alice.conn, /^WHO/), "WHO 2 @alice carol");
  alice.conn.receive("/kick carol bye");
  assert.match(
    await carol.conn.closed() ?? "",
    /^BYE kicked Kicked by alice: bye$/,
  );
  await end(alice, carol);
});

Deno.test("Session logs no alias for a failed login to no account (it may be a password)", async () => {
  const { open, logs } = await withAccounts(["--accounts-only"]);
  const { conn, session } = open();
  await conn.nextSent();
  conn.receive("Tr0ub4dor-and-3", "/pass x");
  await conn.nextSent();
  assert.match(await conn.nextSent(), /^ERR login-failed/);
  await end({ conn, session });
  assert.ok(logs.some((l) => / login-failed addr=/.test(l)), logs.join("\n"));
  assert.ok(!logs.some((l) => l.includes("Tr0ub4dor")), logs.join("\n"));
});

Deno.test("Session lets operators speak under a mute of their address, and no one else", async () => {
  const { login, join, gate } = await withAccounts(["--flood-rate", "0"]);
  await gate.accounts.add("carol", "pw-carol");
  gate.accounts.setOperator("carol", true);
  // Everyone here comes from 127.0.0.1 (a NAT, a load balancer).
  const alice = await login("alice", "pw-alice");
  const guest = await join("guest");
  alice.conn.receive("/mute guest");
  await nextLine(alice.conn, /^MOD mute guest alice /);
  guest.conn.receive("hi");
  assert.match(await nextLine(guest.conn, /^ERR/), /^ERR muted /);
  alice.conn.receive("still heard");
  assert.equal(await nextRoomLine(alice.conn), "MSG alice still heard");
  const carol = await login("carol", "pw-carol"); // joins after the mute
  carol.conn.receive("me too");
  assert.equal(await nextRoomLine(alice.conn), "MSG carol me too");
  const bob = await login("bob", "pw-bob"); // an account, not an operator
  bob.conn.receive("and me?");
  assert.match(await nextLine(bob.conn, /^ERR/), /^ERR muted /);
  await end(alice, guest, carol, bob);
});

Deno.test("Session refuses a password to an account with a pinned certificate as a wrong one", async () => {
  const { open, gate, logs } = await withAccounts();
  gate.accounts.setFingerprint("bob", "CA:FE");
  const { conn, session } = open();
  await conn.nextSent();
  conn.receive("bob");
  assert.match(await conn.nextSent(), /^PASSWORD account "bob" /);
  conn.receive("/pass pw-bob");
  assert.equal(
    await conn.nextSent(),
    "ERR login-failed Wrong alias or password",
  );
  await end({ conn, session });
  assert.ok(
    logs.some((l) =>
      / login-failed alias=bob .*pinned=certificate-only/.test(l)
    ),
    logs.join("\n"),
  );
});

Deno.test("Session logs a write cancelled as its peer went (ECANCELED) as a disconnect, not an error", async () => {
  const { join, logs } = setup();
  const alice = await join("alice");
  const cancelled = Object.assign(new Error("operation canceled"), {
    code: "ECANCELED",
  });
  alice.conn.fail(cancelled);
  await alice.session.finished;
  assert.ok(
    logs.some((l) =>
      / DEBUG disconnect addr=\S+ error="Error: operation canceled"/.test(l)
    ),
    logs.join("\n"),
  );
  assert.ok(!logs.some((l) => / ERROR /.test(l)), logs.join("\n"));
});

Deno.test("Session ends with BYE slow when its own reply finds the queue full", async () => {
  const { join } = setup();
  const alice = await join("alice");
  const bob = await join("bob");
  await alice.conn.nextSent(); // JOIN bob
  bob.conn.full = true;
  bob.conn.receive("/frobnicate");
  assert.equal(
    await bob.conn.closed(),
    "BYE slow Disconnected: too many lines were waiting for you to read them",
  );
  assert.equal(await alice.conn.nextSent(), "LEAVE bob 1 slow");
  alice.conn.end();
  await Promise.all([alice.session.finished, bob.session.finished]);
});

Deno.test("Session does not count time spent waiting for a busy room against the sender's flood bucket", async () => {
  const { clock, join } = setup(["--stall-timeout", "60"]);
  const alice = await join("alice");
  const bob = await join("bob");
  await alice.conn.nextSent(); // JOIN bob
  bob.conn.queueWatcher!(true);
  // 10 s at 5 lines a second piled up while the room was busy.
  const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`);
  alice.conn.receive(...lines);
  await clock.advance(10_000);
  bob.conn.queueWatcher!(false);
  for (const line of lines) {
    assert.equal(await alice.conn.nextSent(), `MSG alice ${line}`);
  }
  alice.conn.end();
  bob.conn.end();
  await Promise.all([alice.session.finished, bob.session.finished]);
});

Deno.test("Session excuses a wait for a busy room whole when the room is busy again as it wakes", async () => {
  const { clock, join } = setup(["--stall-timeout", "60"]);
  const alice = await join("alice");
  const bob = await join("bob");
  const carol = await join("carol");
  await alice.conn.nextSent(); // JOIN bob
  await alice.conn.nextSent(); // JOIN carol
  bob.conn.queueWatcher!(true);
  // 10 s at 5 lines a second piled up while the room was busy: 5 s held
  // up by bob, then 5 s by carol, whose queue went above its watermark
  // before alice could hand on a line.
  const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`);
  alice.conn.receive(...lines);
  await clock.advance(5_000);
  bob.conn.queueWatcher!(false);
  carol.conn.queueWatcher!(true);
  await clock.advance(5_000);
  carol.conn.queueWatcher!(false);
  for (const line of lines) {
    assert.equal(await alice.conn.nextSent(), `MSG alice ${line}`);
  }
  alice.conn.end();
  bob.conn.end();
  carol.conn.end();
  await Promise.all(
    [alice, bob, carol].map(({ session }) => session.finished),
  );
});

Deno.test("Session has the room watch its queue only from entering the room, after its history", async () => {
  const { open, join } = setup(
    ["--history", "5"],
    null,
    (clock) => new MemoryLog(clock, 5),
  );
  const alice = await join("alice");
  alice.conn.receive("said before");
  assert.equal(await alice.conn.nextSent(), "MSG alice said before");
  const { conn, session } = open();
  assert.match(await conn.nextSent(), /^HELLO /);
  assert.equal(conn.queueWatcher, null, "not a member yet");
  conn.receive("bob");
  await conn.nextSent(); // WELCOME
  assert.match(await conn.nextSent(), /^HIST \d+ \S+ MSG alice said before$/);
  assert.match(await conn.nextSent(), /^HISTEND 1 /);
  assert.notEqual(conn.queueWatcher, null);
  alice.conn.end();
  conn.end();
  await Promise.all([alice.session.finished, session.finished]);
});

Deno.test("Session handles no line while the room is congested, and a member that holds it up too long is dropped", async () => {
  const { clock, join } = setup(["--stall-timeout", "2"]);
  const alice = await join("alice");
  const bob = await join("bob");
  await alice.conn.nextSent(); // JOIN bob
  // Bob's queue goes above its watermark: nobody's lines are handled.
  bob.conn.queueWatcher!(true);
  const before = alice.conn.sent.length;
  alice.conn.receive("one", "two");
  await clock.advance(1000);
  assert.equal(alice.conn.sent.length, before, "nothing handled");
  bob.conn.queueWatcher!(false);
  assert.equal(await alice.conn.nextSent(), "MSG alice one");
  assert.equal(await alice.conn.nextSent(), "MSG alice two");
  assert.equal(await bob.conn.nextSent(), "MSG alice one");
  assert.equal(await bob.conn.nextSent(), "MSG alice two");
  // Above again: dropped once it has stayed there 2 s, whatever it read.
  bob.conn.queueWatcher!(true);
  alice.conn.receive("three");
  await clock.advance(1999);
  assert.equal(bob.conn.closedWith, undefined);
  await clock.advance(1);
  assert.equal(
    await bob.conn.closed(),
    "BYE slow Disconnected: too many lines were waiting for you to read them",
  );
  assert.equal(await alice.conn.nextSent(), "LEAVE bob 1 slow");
  assert.equal(await alice.conn.nextSent(), "MSG alice three");
  alice.conn.end();
  await Promise.all([alice.session.finished, bob.session.finished]);
});

Deno.test("Session echoes what it sent to a client whose input overflowed, then says goodbye", async () => {
  using store = openStore(null);
  let log: SqliteLog | undefined;
  const { join } = setup([], null, (clock) =>
    log = new SqliteLog(store.db, {
      clock,
      keep: 10,
    }));
  const watcher = await join("watcher");
  const paster = await join("paster");
  await watcher.conn.nextSent(); // JOIN paster
  // Lines go to the log (echoed a turn later), then the transport says
  // more came than it holds.
  paster.conn.receive("one", "two");
  paster.conn.fail(new InputOverflowError(65_536));
  assert.equal(
    await paster.conn.closed(),
    "BYE flood Disconnected for flooding: sending much faster than the server reads",
  );
  assert.deepEqual(paster.conn.sent.slice(-2), [
    "MSG paster one",
    "MSG paster two",
  ]);
  assert.equal(await watcher.conn.nextSent(), "MSG paster one");
  assert.equal(await watcher.conn.nextSent(), "MSG paster two");
  assert.equal(await watcher.conn.nextSent(), "LEAVE paster 1 flood");
  watcher.conn.end();
  await Promise.all([watcher.session.finished, paster.session.finished]);
  await log!.close();
});

/** Ids as a client makes them (128 bits in base64url). */
const ID_A = "AAAAAAAAAAAAAAAAAAAAAA";
const ID_B = "BBBBBBBBBBBBBBBBBBBBBB";
const ID_C = "CCCCCCCCCCCCCCCCCCCCCC";

/** Opens a session that turns `ids` on, and joins it as `alias`. */
async function joinWithIds(
  open: ReturnType<typeof setup>["open"],
  alias: string,
) {
  const { conn, session } = open();
  assert.match(await conn.nextSent(), /^HELLO /);
  conn.receive("/cap ids", alias);
  assert.equal(await conn.nextSent(), "CAP ids");
  assert.match(await conn.nextSent(), new RegExp(`^WELCOME ${alias} `));
  return { conn, session };
}

/**
 * A SqliteLog on a database in memory (it hands lines on a turn later),
 * keeping no history at hand (none replayed on joining).
 */
function sqliteLog(clock: FakeClock) {
  const store = openStore(null);
  return new SqliteLog(store.db, { clock, keep: 0 });
}

Deno.test("Session turns capabilities on with /cap before the alias, answers CAP, and refuses /cap after", async () => {
  const { open } = setup(["--flood-rate", "0"]);
  const { conn, session } = open();
  assert.match(
    await conn.nextSent(),
    /^HELLO \S+ \S+ \S+,caps=ids\+rooms\+seq\+resume\+notice,epoch=[\w-]{1,32} /,
  );
  conn.receive("/cap later");
  // Unknown names are not errors: they are just not on.
  assert.equal(await conn.nextSent(), "CAP");
  conn.receive("/cap later ids IDS", "/CAP ids");
  assert.equal(await conn.nextSent(), "CAP ids");
  assert.equal(await conn.nextSent(), "CAP ids");
  conn.receive("/cap");
  assert.equal(await conn.nextSent(), "ERR usage Usage: /cap NAME [NAME ...]");
  conn.receive("amy", "/cap ids");
  assert.match(await conn.nextSent(), /^WELCOME amy /);
  assert.equal(
    await conn.nextSent(),
    "ERR usage Capabilities are chosen before the alias: send /cap first",
  );
  await end({ conn, session });
});

Deno.test("Session without /cap sees every line as before: a line starting with @id= is text", async () => {
  const { join } = setup(["--flood-rate", "0"]);
  const amy = await join("amy");
  const bob = await join("bob");
  await amy.conn.nextSent(); // JOIN bob
  const lines = [`@id=${ID_A} hello`, "@id=x /me", `@id=${ID_B} /me waves`];
  bob.conn.receive(...lines);
  for (const { conn } of [bob, amy]) {
    for (const line of lines) {
      assert.equal(await conn.nextSent(), `MSG bob ${line}`);
    }
  }
  await end(amy, bob);
});

Deno.test("Session with ids: its echoes and refusals carry the line's id; the others get the line as ever", async () => {
  const { open, join } = setup(["--flood-rate", "0"]);
  const amy = await join("amy");
  const bob = await joinWithIds(open, "bob");
  await amy.conn.nextSent(); // JOIN bob
  bob.conn.receive(
    `@id=${ID_A} hello`,
    `@id=${ID_B} /me waves`,
    "no id of mine",
    "@bob is not an id",
  );
  assert.equal(await bob.conn.nextSent(), `@id=${ID_A} MSG bob hello`);
  assert.equal(await bob.conn.nextSent(), `@id=${ID_B} ME bob waves`);
  // A line without an id gets the server's, so it can be told apart too.
  assert.match(
    await bob.conn.nextSent(),
    /^@id=s[\w-]{22} MSG bob no id of mine$/,
  );
  assert.match(
    await bob.conn.nextSent(),
    /^@id=s[\w-]{22} MSG bob @bob is not an id$/,
  );
  for (
    const line of [
      "MSG bob hello",
      "ME bob waves",
      "MSG bob no id of mine",
      "MSG bob @bob is not an id",
    ]
  ) {
    assert.equal(await amy.conn.nextSent(), line);
  }
  // Every line with an id gets one answer: an empty message too.
  bob.conn.receive(
    "@id=short hi",
    `@id=${ID_C}`,
    `@id=${ID_C} \u200b `,
    `@id=${ID_C} /who`,
    `@id=${ID_C} /me  `,
    `@id=${ID_C} //not a command`,
  );
  assert.deepEqual(
    [
      await bob.conn.nextSent(),
      await bob.conn.nextSent(),
      await bob.conn.nextSent(),
      await bob.conn.nextSent(),
      await bob.conn.nextSent(),
      await bob.conn.nextSent(),
    ],
    [
      "ERR usage Usage: @id=ID TEXT, where ID is 16 to 64 letters, digits, _ and -",
      `@id=${ID_C} ERR usage Message dropped: it is empty, or nothing of it would show`,
      `@id=${ID_C} ERR usage Message dropped: it is empty, or nothing of it would show`,
      `@id=${ID_C} ERR usage Only a message or a /me line may start with @id=`,
      `@id=${ID_C} ERR usage Usage: /me ACTION`,
      `@id=${ID_C} MSG bob /not a command`,
    ],
  );
  assert.equal(await amy.conn.nextSent(), "MSG bob /not a command");
  await end(amy, bob);
});

Deno.test("Session with ids: a muted member's line is refused under its id", async () => {
  const { login, open } = await withAccounts(["--flood-rate", "0"]);
  const op = await login("alice", "pw-alice");
  const dan = await joinWithIds(open, "dan");
  op.conn.receive("/mute dan");
  await nextLine(op.conn, /^MOD mute dan alice/);
  dan.conn.receive(`@id=${ID_A} hi`, `@id=${ID_B} /me shouts`);
  assert.match(
    await nextLine(dan.conn, /ERR/),
    new RegExp(`^@id=${ID_A} ERR muted You are muted by alice`),
  );
  assert.match(
    await nextLine(dan.conn, /ERR/),
    new RegExp(`^@id=${ID_B} ERR muted `),
  );
  await end(op, dan);
});

for (
  const [kind, roomLog] of [["MemoryLog", undefined], [
    "SqliteLog",
    sqliteLog,
  ]] as const
) {
  Deno.test(`Session with ids: a resent id is answered with its echo again, to its sender alone, and stored once (${kind})`, async () => {
    const { open, join, room } = setup(["--flood-rate", "0"], null, roomLog);
    const amy = await join("amy");
    const bob = await joinWithIds(open, "bob");
    await nextLine(amy.conn, /^JOIN bob/);
    bob.conn.receive(`@id=${ID_A} hello`);
    assert.equal(await bob.conn.nextSent(), `@id=${ID_A} MSG bob hello`);
    assert.equal(await amy.conn.nextSent(), "MSG bob hello");
    // Its echo was lost on the way, say: sent again, in a later turn and
    // in the same batch as a new line.
    bob.conn.receive(`@id=${ID_A} hello`, `@id=${ID_B} more`);
    assert.equal(await bob.conn.nextSent(), `@id=${ID_A} MSG bob hello`);
    assert.equal(await bob.conn.nextSent(), `@id=${ID_B} MSG bob more`);
    assert.equal(await amy.conn.nextSent(), "MSG bob more");
    // From a new connection of the same client (the old one lost).
    bob.conn.receive("/quit");
    await bob.session.finished;
    const again = await joinWithIds(open, "bob");
    again.conn.receive(`@id=${ID_A} hello`);
    assert.equal(await again.conn.nextSent(), `@id=${ID_A} MSG bob hello`);
    again.conn.receive(`@id=${ID_C} marker`);
    assert.equal(await again.conn.nextSent(), `@id=${ID_C} MSG bob marker`);
    assert.deepEqual(
      amy.conn.sent.slice(-4),
      ["MSG bob more", "LEAVE bob 1 quit", "JOIN bob 2", "MSG bob marker"],
    );
    assert.deepEqual(
      room.stats.messages,
      5,
      "counted as said, stored three times",
    );
    await end(amy, again);
  });
}

Deno.test("Session with ids: answers keep the order of the lines, an empty one's ERR after the echoes before it", async () => {
  const { open } = setup(["--flood-rate", "0"], null, sqliteLog);
  const bob = await joinWithIds(open, "bob");
  // Handed on a turn later: the ERR must wait for the echo before it.
  bob.conn.receive(
    `@id=${ID_A} one`,
    `@id=${ID_B}  `,
    `@id=${ID_C} two`,
  );
  assert.equal(await bob.conn.nextSent(), `@id=${ID_A} MSG bob one`);
  assert.equal(
    await bob.conn.nextSent(),
    `@id=${ID_B} ERR usage Message dropped: it is empty, or nothing of it would show`,
  );
  assert.equal(await bob.conn.nextSent(), `@id=${ID_C} MSG bob two`);
  await end(bob);
});

Deno.test("Session with ids: each line the log could not store is refused under its id; others get one ERR for all", async () => {
  using store = openStore(null);
  let log: SqliteLog | undefined;
  const { open, join } = setup(
    ["--flood-rate", "0"],
    null,
    (clock) =>
      log = new SqliteLog(store.db, {
        clock,
        keep: 0,
      }),
  );
  try {
    const amy = await join("amy");
    const bob = await joinWithIds(open, "bob");
    await nextLine(amy.conn, /^JOIN bob/);
    store.db.exec("PRAGMA query_only = 1"); // the disk refuses writes
    bob.conn.receive(`@id=${ID_A} one`, `@id=${ID_B} /me two`);
    amy.conn.receive("three", "four");
    const notSent = "the room cannot store messages right now; try again later";
    assert.equal(
      await bob.conn.nextSent(),
      `@id=${ID_A} ERR unavailable Not sent: ${notSent}`,
    );
    assert.equal(
      await bob.conn.nextSent(),
      `@id=${ID_B} ERR unavailable Not sent: ${notSent}`,
    );
    assert.equal(
      await amy.conn.nextSent(),
      `ERR unavailable Not sent (2 lines): ${notSent}`,
    );
    // Not stored: the same ids go through once the disk takes them.
    store.db.exec("PRAGMA query_only = 0");
    bob.conn.receive(`@id=${ID_A} one`);
    assert.equal(await bob.conn.nextSent(), `@id=${ID_A} MSG bob one`);
    assert.equal(await amy.conn.nextSent(), "MSG bob one");
    await end(amy, bob);
  } finally {
    await log!.close();
  }
});

Deno.test("Session re-checks an address ban before it answers /pass (room and account passwords)", async () => {
  const { open, gate } = await withAccounts([], "room secret");
  const ban = () =>
    gate.moderation.add("ban", { range: parseAddressRange("127.0.0.0/8")! }, {
      durationMs: null,
      by: "alice",
      reason: "",
    });
  const room = open();
  const account = open();
  assert.match(await room.conn.nextSent(), /^HELLO /);
  assert.match(await account.conn.nextSent(), /^HELLO /);
  account.conn.receive("bob");
  assert.match(await account.conn.nextSent(), /^PASSWORD account /);
  // Banned after the greeting, before the password: the right password
  // and a wrong one get the same answer.
  ban();
  room.conn.receive("/pass room secret");
  assert.equal(
    await room.conn.closed(),
    "BYE banned Banned by alice until lifted",
  );
  account.conn.receive("/pass wrong");
  assert.equal(
    await account.conn.closed(),
    "BYE banned Banned by alice until lifted",
  );
  await room.session.finished;
  await account.session.finished;
});

Deno.test("Session answers BYE banned to any password for a banned account, and counts nothing", async () => {
  const { open, gate, logs, clock } = await withAccounts([
    "--login-attempts",
    "1",
  ]);
  gate.moderation.add("ban", { account: "bob" }, {
    durationMs: null,
    by: "alice",
    reason: "",
  });
  for (const password of ["wrong", "pw-bob", "wrong again", "pw-bob"]) {
    const { conn, session } = open("10.1.1.1:5000");
    assert.match(await conn.nextSent(), /^HELLO /);
    conn.receive("bob");
    assert.match(await conn.nextSent(), /^PASSWORD account /);
    conn.receive(`/pass ${password}`);
    assert.equal(
      await conn.closed(),
      "BYE banned Banned by alice until lifted",
    );
    await session.finished;
  }
  assert.ok(!logs.some((l) => /login-failed|INFO login /.test(l)));
  assert.equal(gate.accounts.knows("bob", "10.1.1.1", clock.now()), false);
  // Nothing was counted: lifted, the ban leaves no failure behind.
  assert.equal(gate.moderation.remove("ban", "bob"), 1);
  const bob = open("10.1.1.1:5001");
  assert.match(await bob.conn.nextSent(), /^HELLO /);
  bob.conn.receive("bob");
  assert.match(await bob.conn.nextSent(), /^PASSWORD account /);
  bob.conn.receive("/pass pw-bob");
  assert.match(await bob.conn.nextSent(), /^WELCOME bob /);
  await end(bob);
});

Deno.test("Session of a cluster (--redis) offers rooms as one server does: HELLO lists them and /cap rooms turns them on", async () => {
  const { open } = setup([
    "--flood-rate",
    "0",
    "--redis",
    "redis://127.0.0.1:1",
  ]);
  const { conn, session } = open();
  assert.match(
    await conn.nextSent(),
    /^HELLO \S+ \S+ \S+,caps=ids\+rooms\+seq\+resume\+notice,epoch=[\w-]{1,32} /,
  );
  conn.receive("/cap ids rooms");
  assert.equal(await conn.nextSent(), "CAP ids rooms");
  await end({ conn, session });
});

Deno.test("Session with seq (or resume, which turns it on) gets room lines tagged @seq=N;time=T, id first on its own; others see no tags", async () => {
  const { open, join, clock, room } = setup(["--flood-rate", "0"]);
  const amy = await join("amy");
  const { conn, session } = open();
  const hello = await conn.nextSent();
  assert.ok(hello.includes(`,epoch=${room.replies.epoch} `), hello);
  conn.receive("/cap ids resume");
  assert.equal(await conn.nextSent(), "CAP ids seq resume");
  conn.receive("bob");
  assert.match(await conn.nextSent(), /^WELCOME bob /);
  const bob = { conn, session };
  assert.equal(await amy.conn.nextSent(), "JOIN bob 2");
  const time = new Date(clock.now()).toISOString();
  amy.conn.receive("hi");
  assert.equal(await amy.conn.nextSent(), "MSG amy hi");
  assert.equal(await bob.conn.nextSent(), `@seq=3;time=${time} MSG amy hi`);
  bob.conn.receive(`@id=${ID_A} hello`);
  assert.equal(
    await bob.conn.nextSent(),
    `@id=${ID_A};seq=4;time=${time} MSG bob hello`,
  );
  assert.equal(await amy.conn.nextSent(), "MSG bob hello");
  bob.conn.receive("/who");
  assert.match(await bob.conn.nextSent(), /^WHO 2 /); // not a log line: no tags
  await end(amy, bob);
});

Deno.test("Session takes /resume EPOCH POSITIONS [TOKEN] before the alias with resume on: malformed is ERR usage, a token without a held member ERR resume-expired", async () => {
  const { open } = setup(["--flood-rate", "0"]);
  const { conn, session } = open();
  await conn.nextSent(); // HELLO
  conn.receive("/resume abc 12");
  assert.match(await conn.nextSent(), /^ERR usage Choose an alias first/);
  conn.receive("/cap resume", "/resume abc #ops=x", "/resume abc");
  assert.equal(await conn.nextSent(), "CAP seq resume");
  assert.match(await conn.nextSent(), /^ERR usage Usage: \/resume EPOCH/);
  assert.match(await conn.nextSent(), /^ERR usage Usage: \/resume EPOCH/);
  conn.receive("/resume abc #lobby=3,#ops=4", "/resume abc 5 TOKEN_x");
  assert.equal(
    await conn.nextSent(),
    "ERR resume-expired Your session ended; choose your alias again",
  );
  assert.deepEqual(session.resumeRequest?.epoch, "abc");
  assert.deepEqual([...session.resumeRequest!.positions], [[null, 5]]);
  assert.deepEqual(session.takePosition("#lobby", true), {
    epoch: "abc",
    seq: 5,
  });
  assert.equal(session.takePosition("#lobby", true), undefined, "once");
  conn.receive("amy", "/resume abc 5");
  assert.match(await conn.nextSent(), /^WELCOME amy /);
  assert.equal(
    await conn.nextSent(),
    "ERR usage /resume comes before the alias: send it first",
  );
  await end({ conn, session });
});

/** A log in memory whose `since` answers only when told (as Redis may). */
class SlowSinceLog extends MemoryLog {
  answers: (() => void)[] = [];
  override since(
    ...args: Parameters<MemoryLog["since"]>
  ): ReturnType<MemoryLog["since"]> {
    const read = super.since(...args);
    return new Promise((resolve) => this.answers.push(() => resolve(read)));
  }
}

Deno.test("Session resuming catches up with what it missed before its JOIN, holds live lines until then, and counts what --resume-lines left out", async () => {
  let log: SlowSinceLog | undefined;
  const { open, join } = setup(
    ["--flood-rate", "0", "--resume-lines", "2"],
    null,
    (clock) => (log = new SlowSinceLog(clock)),
  );
  const bob = await join("bob");
  for (const text of ["one", "two", "three"]) {
    bob.conn.receive(text);
    assert.equal(await bob.conn.nextSent(), `MSG bob ${text}`);
  }
  const { conn, session } = open();
  await conn.nextSent(); // HELLO
  conn.receive("/cap resume", `/resume ${log!.epoch} 1`, "amy");
  assert.equal(await conn.nextSent(), "CAP seq resume");
  assert.match(await conn.nextSent(), /^WELCOME amy /);
  assert.equal(await bob.conn.nextSent(), "JOIN amy 2");
  bob.conn.receive("live");
  assert.equal(await bob.conn.nextSent(), "MSG bob live");
  await settle();
  assert.equal(conn.sent.length, 3, "held while the log is read");
  for (const answer of log!.answers) answer();
  const strip = (line: string) => line.replace(/^@seq=(\d+);time=\S+ /, "$1 ");
  assert.equal(strip(await conn.nextSent()), "3 MSG bob two");
  assert.equal(strip(await conn.nextSent()), "4 MSG bob three");
  assert.equal(
    await conn.nextSent(),
    "RESUMED 4 1 Resumed: 2 lines you missed; 1 more are not sent (no longer kept or too many)",
  );
  assert.equal(strip(await conn.nextSent()), "6 MSG bob live");
  await end(bob, { conn, session });
});

Deno.test("Session resuming with another epoch gets the history, then RESUMED - ?", async () => {
  const { open, join } = setup(
    ["--flood-rate", "0", "--history", "5"],
    null,
    (clock) => new MemoryLog(clock, 5),
  );
  const bob = await join("bob");
  bob.conn.receive("hello");
  assert.equal(await bob.conn.nextSent(), "MSG bob hello");
  const { conn, session } = open();
  await conn.nextSent(); // HELLO
  conn.receive("/cap resume", "/resume otherEpoch 1", "amy");
  assert.equal(await conn.nextSent(), "CAP seq resume");
  assert.match(await conn.nextSent(), /^WELCOME amy /);
  assert.match(await conn.nextSent(), /^HIST 2 \S+ MSG bob hello$/);
  assert.match(await conn.nextSent(), /^HISTEND 1 /);
  assert.match(await conn.nextSent(), /^RESUMED - \? The server's log numbers/);
  await end(bob, { conn, session });
});
