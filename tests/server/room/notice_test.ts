/**
 * Notices in the room, without sockets: a notice is a `MSG` (or `PRIV`,
 * `SENT`) marked `notice: true`, sent as the message it is to a member
 * without the `notice` capability and as `NOTICE` (`PRIVNOTICE`,
 * `SENTNOTICE`, `HIST` kind `NOTICE`) to one with it; stored with its mark
 * (SQLite, across a reopening), while what the previous release stored
 * (no mark) is read as a message.
 */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/clock.ts";
import { parseCommand } from "../../../lib/commands.ts";
import type { Member } from "../../../lib/server/room/member.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import { Room } from "../../../lib/server/room/room.ts";
import { lineSign, type RoomLog } from "../../../lib/server/room/room_log.ts";
import { toRoomEvent } from "../../../lib/server/room/stored_event.ts";
import {
  formatServerLine,
  isNotice,
  markNotice,
  noticeForm,
} from "../../../lib/server_lines.ts";
import { SqliteLog } from "../../../lib/server/storage/sqlite_log.ts";
import { openStore } from "../../../lib/server/storage/store.ts";

let ids = 0;

/** A member that records what it receives; `noticeOn` as asked. */
class FakeMember implements Member {
  readonly id = `n${++ids}`;
  alias = "";
  operator = false;
  readonly account = null;
  readonly host = "127.0.0.1";
  lineIds = false;
  inbox: string[] = [];
  /** The bytes delivered, as they were (shared or not). */
  raw: Uint8Array[] = [];
  constructor(readonly noticeOn = false) {}
  deliver(line: Uint8Array): boolean {
    this.raw.push(line);
    this.inbox.push(new TextDecoder().decode(line).replace(/\n$/, ""));
    return true;
  }
  close(): void {}
  take(): string[] {
    return this.inbox.splice(0);
  }
}

/** A room of `plain` (no `notice`) and `noticing` (with it), in that order. */
function roomWith(log: RoomLog, plain: string[], noticing: string[]) {
  const room = new Room<FakeMember>({ log, announceLimit: 100 });
  const members = [
    ...plain.map((alias) => [alias, new FakeMember()] as const),
    ...noticing.map((alias) => [alias, new FakeMember(true)] as const),
  ].map(([alias, member]) => (room.join(member, alias), member));
  return { room, members };
}

Deno.test("markNotice(), isNotice() and noticeForm(): only a marked MSG, PRIV, SENT or HIST of a MSG is a notice, and only its form changes", () => {
  const said = { alias: "bot", text: "hi" };
  const msg = markNotice({ type: "MSG", ...said }, true);
  assert.equal(isNotice(msg), true);
  assert.equal(formatServerLine(msg), "MSG bot hi");
  assert.equal(formatServerLine(noticeForm(msg)), "NOTICE bot hi");
  for (const [type, form] of [["PRIV", "PRIVNOTICE"], ["SENT", "SENTNOTICE"]]) {
    const line = markNotice({ type: type as "PRIV", ...said }, true);
    assert.equal(formatServerLine(noticeForm(line)), `${form} bot hi`);
  }
  const hist = { type: "HIST", seq: "4", time: "T", kind: "MSG", ...said };
  assert.equal(
    formatServerLine(noticeForm(markNotice(hist as never, true))),
    "HIST 4 T NOTICE bot hi",
  );
  const me = markNotice({ type: "ME", ...said }, true);
  assert.equal(isNotice(me), false);
  assert.equal(noticeForm(me), me);
  const plain = { type: "MSG", ...said } as const;
  assert.equal(markNotice(plain, undefined), plain);
  assert.equal(noticeForm(plain), plain);
});

Deno.test("parseCommand() takes /notice TEXT as a notice to the room and /privnotice ALIAS TEXT as a private one; each needs its text", () => {
  assert.deepEqual(parseCommand("/notice build /passed"), {
    kind: "say",
    text: "build /passed",
    notice: true,
  });
  assert.deepEqual(parseCommand("/privnotice bob psst there"), {
    kind: "msg",
    to: "bob",
    text: "psst there",
    notice: true,
  });
  assert.deepEqual(parseCommand("/msg bob psst"), {
    kind: "msg",
    to: "bob",
    text: "psst",
  });
  for (
    const line of ["/notice", "/notice  ", "/privnotice bob", "/privnotice"]
  ) {
    assert.throws(() => parseCommand(line), /Usage: \/(priv)?notice /, line);
  }
});

Deno.test("Room.speak('NOTICE') sends a member without notice MSG and one with it NOTICE, each form encoded once", () => {
  const { room, members: [a, b, c, d] } = roomWith(
    new MemoryLog(systemClock),
    ["a", "b"],
    ["c", "d"],
  );
  for (const member of [a, b, c, d]) member!.take();
  room.speak("NOTICE", c!, "build passed");
  assert.equal(a!.raw.at(-1), b!.raw.at(-1));
  assert.equal(c!.raw.at(-1), d!.raw.at(-1));
  for (const member of [a, b]) {
    assert.deepEqual(member!.take(), ["MSG c build passed"]);
  }
  for (const member of [c, d]) {
    assert.deepEqual(member!.take(), ["NOTICE c build passed"]);
  }
  room.speak("MSG", a!, "a message");
  for (const member of [a, b, c, d]) {
    assert.deepEqual(member!.take(), ["MSG a a message"]);
  }
});

Deno.test("Replies.whisper() of a notice: PRIV and SENT without notice, PRIVNOTICE and SENTNOTICE with it", async () => {
  const { room, members: [a, b] } = roomWith(
    new MemoryLog(systemClock),
    ["a"],
    ["b"],
  );
  a!.take();
  b!.take();
  await room.replies.whisper(a!, "b", { text: "psst", notice: true });
  assert.deepEqual(b!.take(), ["PRIVNOTICE a psst"]);
  assert.deepEqual(a!.take(), ["SENT b psst"]);
  await room.replies.whisper(b!, "a", { text: "back", notice: true });
  assert.deepEqual(a!.take(), ["PRIV b back"]);
  assert.deepEqual(b!.take(), ["SENTNOTICE a back"]);
});

Deno.test("SqliteLog keeps a notice's mark: replayed after a reopening as HIST kind NOTICE to a member with notice, kind MSG to others", async () => {
  using store = openStore(null);
  {
    const log = new SqliteLog(store.db, { clock: systemClock, keep: 10 });
    const { room, members: [a] } = roomWith(log, ["a"], []);
    await room.settled();
    room.speak("NOTICE", a!, "build passed");
    room.speak("MSG", a!, "a message");
    await room.settled();
    await log.close();
  }
  const log = new SqliteLog(store.db, { clock: systemClock, keep: 10 });
  const { room, members: [b, c] } = roomWith(log, ["b"], ["c"]);
  await room.settled();
  const said = (member: FakeMember) => {
    member.take();
    room.replies.history(member, 10, true);
    return member.take().map((line) => line.replace(/^HIST \d+ \S+ /, ""));
  };
  assert.deepEqual(said(b!), [
    "MSG a build passed",
    "MSG a a message",
    "HISTEND 2 End of history: 2 messages",
  ]);
  assert.deepEqual(said(c!), [
    "NOTICE a build passed",
    "MSG a a message",
    "HISTEND 2 End of history: 2 messages",
  ]);
  await log.close();
});

Deno.test("toRoomEvent() reads a stored MSG without a mark (the previous release's) as a message, keeps notice: true, and drops any other mark", () => {
  const read = (line: object) =>
    toRoomEvent({ seq: 1, time: 0, line: JSON.stringify(line) })?.line;
  const msg = { type: "MSG", alias: "a", text: "hi" };
  assert.deepEqual(read(msg), msg);
  assert.equal(isNotice(read(msg)!), false);
  assert.equal(isNotice(read({ ...msg, notice: true })!), true);
  for (const odd of [{ ...msg, notice: "yes" }, { ...msg, notice: 1 }]) {
    assert.deepEqual(read(odd), msg);
  }
  const join = { type: "JOIN", alias: "a", online: "1" };
  assert.deepEqual(read({ ...join, notice: true }), join);
});

Deno.test("lineSign() tells a notice from the message of the same text (an id names one of them), and a message's sign is as it was", () => {
  const msg = { type: "MSG", alias: "a", text: "hi" } as const;
  assert.notEqual(lineSign(markNotice(msg, true)), lineSign(msg));
  // What the previous release signed it (its stored ids still match).
  assert.equal(lineSign(msg), "MQCxjLBvJXa15ic6YFqjuA");
});
