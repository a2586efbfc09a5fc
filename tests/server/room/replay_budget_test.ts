/**
 * One budget for what a member is sent in one go, with fake members and a
 * fake clock: the history (or catch-up) of its rooms at login, which each
 * fit in half its queue alone but not together, never get it dropped as
 * slow; the room whose replay no longer fits gets the newest lines that
 * still do and its end line says so (`HISTEND ... (the newest that fit at
 * once)`, `RESUMED` with MISSING above 0); a takeover's catch-ups of every
 * room share one budget too.
 */

import assert from "node:assert/strict";
import type { Moderation } from "../../../lib/server/access/moderation.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import { Room } from "../../../lib/server/room/room.ts";
import {
  rejoin,
  type RoomCommandContext,
} from "../../../lib/server/room/room_commands.ts";
import { welcomeBack } from "../../../lib/server/room/takeover.ts";
import { type ByeReason, encodeServerLine } from "../../../lib/server_lines.ts";
import { FakeClock } from "../../_fakes.ts";
import { FakeMember, LIMITS, lineIn } from "./_rooms_fakes.ts";

/** The member's queue holds at most this many bytes. */
const QUEUE_BYTES = 1900;

/** A member whose queue holds `QUEUE_BYTES` (it reads what it takes). */
class QueueMember extends FakeMember {
  /** Bytes in its queue (apart from `Member.queued`, which a test sets). */
  #held = 0;
  closed: ByeReason | null = null;
  override deliver(line: Uint8Array): boolean {
    this.#held += line.length;
    if (this.#held > QUEUE_BYTES) return false;
    return super.deliver(line);
  }
  override close(reason: ByeReason): void {
    this.closed ??= reason;
  }
  override take(): string[] {
    this.#held = 0;
    return super.take();
  }
}

/** A server whose replays may take half a queue, as `chat_server.ts` says. */
function server() {
  const clock = new FakeClock();
  const room = new Room<FakeMember>({
    log: new MemoryLog(clock, 1000),
    announceLimit: 100,
    clock,
    historyBytes: QUEUE_BYTES / 2,
    rooms: { ...LIMITS, history: 50 },
  });
  const router = room.router!;
  const ctx = (): RoomCommandContext<FakeMember> => ({
    room,
    router,
    history: 50,
    now: clock.now(),
    moderation: { setTopic() {} } as unknown as Moderation,
    moderate: () => Promise.resolve(),
    // Every name is an account's (room bans of absent accounts).
    accounts: {
      get: (alias) => ({ alias, operator: false, fingerprint: null }),
    },
  });
  /** Logs in as the session does: the default room, then its rooms again. */
  const login = async <T extends FakeMember>(member: T, alias: string) => {
    await room.join(member, alias, {
      onEnter: () => {
        router.login(member);
        rejoin(ctx(), member, (e) => member.inbox.push(`ERR ${e.code}`));
      },
    });
    await Promise.resolve();
    return member;
  };
  return { room, router, login, line: lineIn(ctx) };
}

/**
 * Fills `#a` with `linesA` lines and `#b` with 5, each line about 175
 * bytes replayed or caught up (5 of them with amy's `LEAVE`: 940, less
 * than half the queue; both rooms, more), and logs amy out; returns the
 * last number before each room's lines.
 */
async function twoFullRooms(linesA = LINES) {
  const chat = server();
  const amy = await chat.login(
    Object.assign(new FakeMember(), { account: "amy" }),
    "amy",
  );
  const bob = await chat.login(new FakeMember(), "bob");
  const before = new Map<string, number>();
  for (const [name, lines] of [["#a", linesA], ["#b", LINES]] as const) {
    await chat.line(amy, `/join ${name}`);
    await chat.line(bob, `/join ${name}`);
    await chat.room.settled();
    before.set(name, chat.router.handedOn());
    for (let i = 0; i < lines; i++) await chat.line(bob, `${name} ${i} ${X}`);
  }
  chat.room.leave(amy, "quit");
  await chat.room.settled();
  return { chat, before };
}

const LINES = 5;
const X = "x".repeat(125);

/** What `member` got in `room`, tags and times taken off. */
function linesOf(member: FakeMember, room: string): string[] {
  return member.inbox
    .map((line) => line.replace(/^@\S+ /, ""))
    .filter((line) => line.startsWith(`${room} `))
    .map((line) => line.slice(room.length + 1).replace(/ \S+Z /, " TIME "));
}

/** The `HIST` lines among `lines`. */
const hist = (lines: string[]) => lines.filter((l) => l.startsWith("HIST "));

Deno.test("an account's rooms replayed at login share half its queue: the member stays, the room that no longer fits says so", async () => {
  const { chat } = await twoFullRooms();
  const again = await chat.login(
    Object.assign(new QueueMember(), { account: "amy" }),
    "amy",
  );
  assert.equal(again.closed, null, "not dropped as slow");
  const a = linesOf(again, "#a");
  assert.equal(hist(a).length, LINES);
  assert.equal(a.at(-1), `HISTEND ${LINES} End of history: ${LINES} messages`);
  assert.deepEqual(linesOf(again, "#b"), [
    "JOIN amy 2",
    "HISTEND 0 End of history: 0 messages (the newest that fit at once)",
  ]);
});

Deno.test("a replay at login gets the newest lines that fit in what the rooms before it left", async () => {
  const { chat } = await twoFullRooms(2);
  const again = await chat.login(
    Object.assign(new QueueMember(), { account: "amy" }),
    "amy",
  );
  assert.equal(hist(linesOf(again, "#a")).length, 2);
  const b = linesOf(again, "#b");
  assert.deepEqual(hist(b).map((line) => line.split(" ")[5]), ["2", "3", "4"]);
  assert.equal(
    b.at(-1),
    "HISTEND 3 End of history: 3 messages (the newest that fit at once)",
  );
  // A /history asked later has half the queue again.
  again.take();
  await chat.line(again, "#b /history");
  assert.equal(hist(linesOf(again, "#b")).length, LINES);
  assert.equal(again.closed, null);
});

Deno.test("an account's rooms caught up at login share half its queue: the room that no longer fits says how many lines it did not get", async () => {
  const { chat, before } = await twoFullRooms();
  const epoch = chat.room.replies.epoch;
  const again = Object.assign(new QueueMember(), {
    account: "amy",
    seqOn: true,
    resumeOn: true,
    // It saw none of bob's lines: all of them are caught up with.
    takePosition: (room: string) => {
      const seq = before.get(room);
      return seq === undefined ? undefined : { epoch, seq };
    },
  });
  await chat.login(again, "amy");
  await chat.room.settled();
  assert.equal(again.closed, null, "not dropped as slow");
  const said = (lines: string[]) =>
    lines.filter((l) => l.startsWith("MSG bob ")).length;
  const a = linesOf(again, "#a");
  assert.equal(said(a), LINES);
  assert.match(a.at(-1)!, /^RESUMED \d+ 0 Resumed: 6 lines you missed$/);
  const b = linesOf(again, "#b");
  assert.equal(said(b), 0);
  assert.equal(
    b.at(-1),
    `RESUMED ${
      before.get("#b")
    } 6 Resumed: 0 lines you missed; 6 more are not sent (no longer kept or too many)`,
  );
});

Deno.test("a takeover's catch-ups of every room share half the queue: the room that no longer fits says how many lines it did not get", async () => {
  const { chat, before } = await twoFullRooms();
  const epoch = chat.room.replies.epoch;
  const amy = await chat.login(
    Object.assign(new QueueMember(), { account: "amy", seqOn: true }),
    "amy",
  );
  amy.take();
  // A new connection takes amy over, from before bob's lines in each room.
  const taker = Object.assign(amy, {
    resumeOn: true,
    takePosition: (room: string) => {
      const seq = before.get(room);
      return seq === undefined ? undefined : { epoch, seq };
    },
  });
  welcomeBack(chat.room, taker, (line) => {
    if (!taker.deliver(encodeServerLine(line))) taker.close("slow");
  });
  await chat.room.settled();
  assert.equal(taker.closed, null, "not dropped as slow");
  const said = (room: string) =>
    linesOf(taker, room).filter((l) => l.startsWith("MSG bob ")).length;
  assert.ok(said("#a") > 0, "#a first");
  assert.equal(said("#b"), 0);
  const missing = /^RESUMED \d+ (\d+) /.exec(linesOf(taker, "#b").at(-1)!);
  assert.ok(Number(missing?.[1]) >= LINES, linesOf(taker, "#b").at(-1));
});

Deno.test("a replay takes half the queue less what the member's queue holds already: a join asked in the same go as another gets what is left", async () => {
  const { chat } = await twoFullRooms();
  const bea = await chat.login(new QueueMember(), "bea");
  bea.take();
  // Its queue still holds 900 bytes (another room's history, not written).
  Object.assign(bea, { queued: 900 });
  await chat.line(bea, "/join #a");
  await chat.room.settled();
  assert.deepEqual(hist(linesOf(bea, "#a")), []);
  assert.equal(
    linesOf(bea, "#a").at(-1),
    "HISTEND 0 End of history: 0 messages (the newest that fit at once)",
  );
  assert.equal(bea.closed, null);
});

Deno.test("/roombans sends only the bans that fit in half the queue, and says so: long reasons never get the operator dropped as slow", async () => {
  const chat = server();
  const amy = await chat.login(
    Object.assign(new QueueMember(), { account: "amy" }),
    "amy",
  );
  await chat.line(amy, "/join #a");
  for (let i = 0; i < 10; i++) {
    await chat.line(amy, `/roomban u${i} 1d ${"r".repeat(150)}`);
    amy.take(); // read as it goes
  }
  await chat.line(amy, "/roombans");
  assert.equal(amy.closed, null, "not dropped as slow");
  const got = amy.take();
  const bans = got.filter((line) => line.startsWith("BAN "));
  assert.ok(bans.length > 0 && bans.length < 10, `${bans.length} bans`);
  assert.equal(
    got.at(-1),
    `INFO 10 bans in #a (the first ${bans.length}: those that fit at once)`,
  );
});
