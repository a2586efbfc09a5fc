/**
 * The echo of a line sent again under an id the room log holds (a
 * `duplicate`): its sender gets exactly the line its echo was when the
 * line was stored (the room's prefix, its number and time, its id, as its
 * capabilities ask), in a room other than the default one, from a new
 * connection, from the log in memory and the durable one, and after the
 * durable log started again (its window of ids read from the database).
 * Sessions on fake connections, no sockets.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../../lib/log.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import { Room } from "../../../lib/server/room/room.ts";
import type { RoomLog } from "../../../lib/server/room/room_log.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import { Session } from "../../../lib/server/room/session.ts";
import { SqliteLog } from "../../../lib/server/storage/sqlite_log.ts";
import { openStore } from "../../../lib/server/storage/store.ts";
import { FakeClock, FakeConnection, testGate } from "../../_fakes.ts";

const ID_A = "AAAAAAAAAAAAAAAAAAAAAA";
const ID_B = "BBBBBBBBBBBBBBBBBBBBBB";
const ID_C = "CCCCCCCCCCCCCCCCCCCCCC";

/** A room on `log` and a way to open sessions on it, on one fake clock. */
function setup(log: (clock: FakeClock) => RoomLog, clock = new FakeClock()) {
  const config = parseServerArgs(["--flood-rate", "0"]);
  const room = new Room<Session>({
    log: log(clock),
    announceLimit: config.announceLimit,
    clock,
    rooms: { ...config, roomCreate: "any", history: 0 },
  });
  let ids = 0;
  const context = {
    config,
    room,
    log: createLogger("error", () => {}, () => 0),
    clock,
    gate: testGate(clock, config),
    nextId: () => String(++ids),
  };
  /**
   * Opens a session with capabilities `caps` as `alias`, in room `den`
   * too when given (its current room then), reading up to its `CURRENT`.
   */
  const join = async (alias: string, caps: string, den?: string) => {
    const conn = new FakeConnection(`127.0.0.1:${5000 + ids}`, null);
    const session = new Session(conn, context);
    assert.match(await conn.nextSent(), /^HELLO /);
    conn.receive(`/cap ${caps}`, alias);
    assert.equal(await conn.nextSent(), `CAP ${caps}`);
    const rooms = caps.includes("rooms");
    if (rooms) await nextLine(conn, /^CURRENT /);
    else assert.match(await conn.nextSent(), /^WELCOME /);
    if (den !== undefined) {
      conn.receive(`/join ${den}`);
      await nextLine(conn, new RegExp(`^CURRENT ${den}$`));
    }
    return { conn, session };
  };
  return { clock, room, join };
}

/** The next line sent to `conn` that matches `pattern`. */
async function nextLine(
  conn: FakeConnection,
  pattern: RegExp,
): Promise<string> {
  while (true) {
    const line = await conn.nextSent();
    if (pattern.test(line)) return line;
  }
}

/** Says `/quit` and waits for the session to end. */
async function quit(member: { conn: FakeConnection; session: Session }) {
  member.conn.receive("/quit");
  await member.session.finished;
}

const LOGS = [
  ["MemoryLog", (clock: FakeClock) => new MemoryLog(clock)],
  [
    "SqliteLog",
    (clock: FakeClock) => new SqliteLog(openStore(null).db, { clock, keep: 0 }),
  ],
] as const;

for (const [kind, log] of LOGS) {
  Deno.test(`Room: a resend's echo is its first echo, prefix, seq and time included, in a room not the default (${kind})`, async () => {
    const { clock, join } = setup(log);
    const ann = await join("ann", "ids rooms seq", "#den");
    ann.conn.receive(`@id=${ID_A} #den cut 0`);
    const first = await nextLine(ann.conn, / MSG /);
    assert.match(
      first,
      new RegExp(`^@id=${ID_A};seq=\\d+;time=\\S+Z #den MSG ann cut 0$`),
    );
    // Later, in the same session, then from a new connection.
    await clock.advance(5000);
    ann.conn.receive(`@id=${ID_A} #den cut 0`, `@id=${ID_B} #den next`);
    assert.equal(await nextLine(ann.conn, / MSG /), first);
    assert.match(await nextLine(ann.conn, / MSG /), /^@id=B+;seq=.* next$/);
    await quit(ann);
    const back = await join("ann", "ids rooms seq", "#den");
    back.conn.receive(`@id=${ID_A} #den cut 0`);
    assert.equal(await nextLine(back.conn, / MSG /), first);
    await quit(back);
  });

  Deno.test(`Room: a resend's echo has the form of the first for each set of capabilities (${kind})`, async () => {
    const { clock, join } = setup(log);
    const forms = [
      ["ids", ID_A, "hi", /^@id=A+ MSG bo hi$/],
      ["ids rooms", ID_B, "#den hi", /^@id=B+ #den MSG bo hi$/],
      ["ids seq", ID_C, "hi", /^@id=C+;seq=\d+;time=\S+ MSG bo hi$/],
    ] as const;
    for (const [caps, id, text, form] of forms) {
      const den = caps.includes("rooms") ? "#den" : undefined;
      const bo = await join("bo", caps, den);
      bo.conn.receive(`@id=${id} ${text}`);
      const first = await nextLine(bo.conn, / MSG /);
      assert.match(first, form);
      await clock.advance(1000);
      bo.conn.receive(`@id=${id} ${text}`);
      assert.equal(await nextLine(bo.conn, / MSG /), first, caps);
      await quit(bo);
    }
  });
}

Deno.test("Room: a resend's echo after the durable log started again is its first echo (ids read from the database)", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  let log: SqliteLog | undefined;
  const durable = (clock: FakeClock) =>
    log = new SqliteLog(store.db, { clock, keep: 0 });
  const before = setup(durable, clock);
  const ann = await before.join("ann", "ids rooms seq", "#den");
  ann.conn.receive(`@id=${ID_A} #den cut 0`);
  const first = await nextLine(ann.conn, / MSG /);
  assert.match(first, /^@id=A+;seq=\d+;time=\S+ #den MSG ann cut 0$/);
  await quit(ann);
  before.room.close();
  await log!.close();
  await clock.advance(60_000);
  const after = setup(durable, clock);
  const back = await after.join("ann", "ids rooms seq", "#den");
  back.conn.receive(`@id=${ID_A} #den cut 0`);
  assert.equal(await nextLine(back.conn, / MSG /), first);
  await quit(back);
  after.room.close();
  await log!.close();
});
