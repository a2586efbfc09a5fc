/**
 * How large a room's record grows (the cluster attack review): every
 * `MOD` and `TOPIC` event carries the whole record into the log (a Redis
 * stream entry, a SQLite row), so an operator of a room of its own who
 * added 100 bans and 100 mutes with 3,900-byte reasons made each event
 * carry 811 KB (2.4 MB with control characters, each U+FFFD). Reasons are
 * cut to `roomReasonBytes`, and no change grows a record past
 * `roomRecordBytes`; a larger one an earlier release kept still loads.
 * Fake members, a memory log, no sockets.
 */

import assert from "node:assert/strict";
import { ProtocolError } from "../../../lib/protocol.ts";
import type { Account } from "../../../lib/server/access/accounts.ts";
import { SERVER_SETTINGS } from "../../../lib/server/config.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import type {
  AppendOptions,
  RoomLine,
} from "../../../lib/server/room/room_log.ts";
import {
  newRoomRecord,
  readRoomRecord,
  type RoomRecord,
} from "../../../lib/server/room/room_record.ts";
import {
  recordBytes,
  recordGrowth,
} from "../../../lib/server/room/record_bound.ts";
import { storedEffect } from "../../../lib/server/room/stored_event.ts";
import { fitBytes } from "../../../lib/text.ts";
import { FakeClock } from "../../_fakes.ts";
import { type FakeMember, refusal, server } from "./_rooms_fakes.ts";

const { roomReasonBytes, roomRecordBytes } = SERVER_SETTINGS;
const utf8 = new TextEncoder();

/** Every name is an account's (none connected), none a server operator. */
const accounts = {
  get: (alias: string): Account => ({
    alias,
    operator: false,
    fingerprint: null,
  }),
};

/** A server whose log is at hand, amy operating `#big` in it. */
async function bigRoom() {
  const clock = new FakeClock();
  const log = new Watched(clock, 10_000);
  const chat = server({}, 50, { clock, log, accounts });
  const amy = await chat.join("amy");
  await chat.line(amy, "/join #big");
  return { ...chat, amy, log };
}

/** Handles `text` of `member`: null when taken, else the refusal. */
async function tried(
  line: (member: FakeMember, text: string) => Promise<void> | void,
  member: FakeMember,
  text: string,
): Promise<string | null> {
  try {
    await line(member, text);
    return null;
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return `${error.code} ${error.message}`;
  }
}

/** A memory log that notes the bytes of each record a `MOD` or `TOPIC` carries. */
class Watched extends MemoryLog {
  readonly carried: number[] = [];
  override append(line: RoomLine, origin: string, options: AppendOptions = {}) {
    const { effect } = options;
    if (effect?.kind === "room" && ["MOD", "TOPIC"].includes(line.type)) {
      this.carried.push(utf8.encode(storedEffect(effect).value).length);
    }
    super.append(line, origin, options);
  }
}

Deno.test("fitBytes() cuts text to at most so many UTF-8 bytes between graphemes, and leaves shorter text as it is", () => {
  assert.equal(fitBytes("x".repeat(600), 512), "x".repeat(512));
  assert.equal(fitBytes("\uFFFD".repeat(200), 512), "\uFFFD".repeat(170));
  assert.equal(fitBytes("e\u0301".repeat(200), 9), "e\u0301e\u0301e\u0301");
  assert.equal(fitBytes("ab👍🏽", 8), "ab");
  // One grapheme longer than the bound: cut between code points.
  const family = "👩\u200D".repeat(40) + "👩";
  assert.equal(utf8.encode(fitBytes(family, 512)).length <= 512, true);
  assert.notEqual(fitBytes(family, 512), "");
  assert.equal(fitBytes("short", 512), "short");
});

Deno.test("recordGrowth() refuses a record grown past the bound, and takes one that does not grow, however large", () => {
  const room = newRoomRecord("#big");
  const topic = (n: number) => ({ text: "t".repeat(n), by: "amy", at: 1 });
  assert.equal(recordGrowth(room, { ...room, topic: topic(100) }, 1000), null);
  const over = recordGrowth(room, { ...room, topic: topic(2000) }, 1000);
  assert.match(over ?? "", /^Cannot change #big: .* more than 1000; /);
  // Larger already (an earlier release's): a change that shrinks it is taken.
  const large = { ...room, topic: topic(5000) };
  assert.equal(
    recordGrowth(large, { ...large, topic: topic(4000) }, 1000),
    null,
  );
  assert.notEqual(
    recordGrowth(large, { ...large, topic: topic(5001) }, 1000),
    null,
  );
});

Deno.test("/roomban and /mute cut a 3,900-byte reason to roomReasonBytes, in the record and in the MOD line", async () => {
  const { line, amy, router } = await bigRoom();
  amy.take();
  await line(amy, `#big /roomban mallory ${"r".repeat(3900)}`);
  await line(amy, `#big /mute eve 1h ${"\x01".repeat(3900)}`);
  const { bans, mutes } = router.rooms.get("#big")!.record;
  assert.equal(bans[0]!.reason, "r".repeat(roomReasonBytes));
  assert.equal(mutes[0]!.reason, "\uFFFD".repeat(roomReasonBytes / 3 | 0));
  const [ban] = amy.take().filter((l) => l.startsWith("#big MOD ban "));
  assert.ok(ban?.endsWith(` ${"r".repeat(roomReasonBytes)}`), ban);
  assert.ok(!ban?.includes("r".repeat(roomReasonBytes + 1)), ban);
});

Deno.test("100 bans and 100 mutes with 3,900-byte reasons: no MOD or TOPIC event carries a record over roomRecordBytes; those past it are refused with too-many-entries", async () => {
  const { line, amy, log, router } = await bigRoom();
  const refused: string[] = [];
  for (let i = 0; i < 100; i++) {
    for (const command of ["/roomban user", "/mute other"]) {
      const text = `#big ${command}${i} 1d ${'"'.repeat(3900)}`;
      const refusal = await tried(line, amy, text);
      if (refusal !== null) refused.push(refusal);
    }
  }
  const topic = await tried(line, amy, `#big /topic ${"t".repeat(3900)}`);
  const sizes = log.carried;
  assert.ok(sizes.length > 50, `${sizes.length} events`);
  // Before: 1,594,764 bytes, each quote escaped.
  assert.ok(Math.max(...sizes) <= roomRecordBytes, `${Math.max(...sizes)}`);
  assert.match(topic ?? "", /^too-many-entries /, "the record is full");
  assert.ok(refused.length > 0);
  assert.match(refused[0]!, /^too-many-entries Cannot change #big: .* 65536;/);
  const record = router.rooms.get("#big")!.record;
  assert.ok(recordBytes(record) <= roomRecordBytes);
  // Lifting one is always taken, and makes room again.
  await line(amy, "#big /roomunban user0");
  await line(amy, "#big /roomban user0 1d spam");
});

Deno.test("100 bans and 100 mutes of the longest names with short reasons still fit: what a room held before, it holds", async () => {
  const { line, amy, log } = await bigRoom();
  for (let i = 0; i < 100; i++) {
    const name = (prefix: string) => `${prefix}${i}`.padEnd(32, "z");
    await line(amy, `#big /roomban ${name("u")} 1d spam from a bot`);
    await line(amy, `#big /mute ${name("m")} 1d spam from a bot`);
  }
  await line(amy, `#big /topic ${"t".repeat(3900)}`);
  const sizes = log.carried;
  assert.equal(sizes.length, 201);
  assert.ok(Math.max(...sizes) <= roomRecordBytes, `${Math.max(...sizes)}`);
});

Deno.test("a record an earlier release kept over roomRecordBytes still loads, takes a change that does not grow it, and refuses one that does", async () => {
  const { line, amy, router } = await bigRoom();
  const ban = (i: number) => ({
    id: i + 1,
    type: "ban",
    kind: "account",
    target: `user${i}`,
    label: `user${i}`,
    until: null,
    by: "amy",
    reason: "r".repeat(3900),
  });
  const stored = {
    ...newRoomRecord("#big"),
    operators: ["~amy"],
    bans: Array.from({ length: 100 }, (_, i) => ban(i)),
  };
  const loaded = readRoomRecord(JSON.parse(JSON.stringify(stored)));
  assert.notEqual(loaded, null);
  assert.ok(recordBytes(loaded as RoomRecord) > 390_000);
  const state = router.rooms.get("#big")!;
  state.record = loaded!;
  await line(amy, "#big /roomunban user1");
  assert.equal(state.record.bans.length, 99);
  assert.match(
    await refusal(() => line(amy, "#big /mute eve spam")),
    /^too-many-entries /,
  );
  assert.equal(state.record.mutes.length, 0);
});
