/**
 * Tests of the session state machine with a fake connection and a fake
 * clock: no sockets, no waiting on real time, so deadlines, flood control
 * and endings are instant and deterministic.
 */

import assert from "node:assert/strict";
import { LINE_ENDLESS, LINE_TOO_LONG } from "../../lib/framing.ts";
import { createLogger } from "../../lib/log.ts";
import { parseServerArgs } from "../../lib/server/config.ts";
import { Room } from "../../lib/server/room.ts";
import { MemoryLog } from "../../lib/server/room_log.ts";
import { Session } from "../../lib/server/session.ts";
import { FakeClock, FakeConnection, settle } from "../_fakes.ts";

/** A room and a way to open sessions on it, all on one fake clock. */
function setup(flags: string[] = []) {
  const clock = new FakeClock();
  const config = parseServerArgs(flags);
  const logs: string[] = [];
  const log = createLogger("debug", (line) => logs.push(line), () => 0);
  const room = new Room<Session>({
    log: new MemoryLog(clock),
    announceLimit: config.announceLimit,
  });
  let ids = 0;
  const context = { config, room, log, clock, nextId: () => String(++ids) };
  const open = () => {
    const conn = new FakeConnection(`127.0.0.1:${5000 + ids}`);
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
  return { clock, config, room, logs, open, join };
}

Deno.test("Session greets with the server's flood limits and welcomes an alias", async () => {
  const { open } = setup(["--name", "room", "--flood-rate", "2.5"]);
  const { conn, session } = open();
  assert.equal(
    await conn.nextSent(),
    "HELLO tlschat/1 room rate=2.5,burst=10,line=4096 Send your alias (1 to 32 letters, digits, _ . -)",
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

Deno.test("Session delays a client over its rate, then kicks it after a burst of delays", async () => {
  const { clock, join } = setup(["--flood-rate", "5", "--flood-burst", "3"]);
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
  alice.conn.end();
  await alice.session.finished;
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

Deno.test("Session never joins when its queue cannot take the welcome (no ghost)", async () => {
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
  assert.deepEqual(alice.conn.sent.slice(2), [], "no JOIN, no LEAVE");
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
  conn.end();
  await session.finished;
  alice.conn.end();
  await alice.session.finished;
});
