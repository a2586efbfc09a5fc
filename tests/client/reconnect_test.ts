/** Tests of the client's reconnecting and resuming logic, without sockets. */

import assert from "node:assert/strict";
import {
  Backoff,
  FINAL_BYE_REASONS,
  reconnectsAfter,
  ServerRotation,
} from "../../lib/client/reconnect.ts";
import {
  parseResumeLine,
  ReadMarks,
  ResumeState,
} from "../../lib/client/resume.ts";
import { splitTags } from "../../lib/resume.ts";

Deno.test("Backoff.next() doubles from 0.5 s to 30 s, each within ±50%, and reset() starts over", () => {
  const at = (random: number) => {
    const backoff = new Backoff({ random: () => random });
    return Array.from({ length: 9 }, () => backoff.next());
  };
  assert.deepEqual(at(0.5), [
    500,
    1000,
    2000,
    4000,
    8000,
    16000,
    30000,
    30000,
    30000,
  ]);
  assert.deepEqual(at(0).slice(0, 2), [250, 500]);
  assert.deepEqual(at(0.999).slice(-1), [44970]);
  const backoff = new Backoff({ random: () => 0.5 });
  backoff.next();
  backoff.next();
  backoff.reset();
  assert.equal(backoff.next(), 500);
});

Deno.test("reconnectsAfter() stops after quit, kicked, banned, replaced, auth-failed, flood, line-too-long only", () => {
  for (const reason of FINAL_BYE_REASONS) {
    assert.equal(reconnectsAfter(reason), false, reason);
  }
  for (
    const reason of [
      null,
      "shutdown",
      "server-lost",
      "timeout",
      "slow",
      "server-full",
      "ip-limit",
      "unavailable",
      // A login the limits held back: perhaps others' guesses from its address.
      "too-many-attempts",
      "some-new-reason",
    ]
  ) {
    assert.equal(reconnectsAfter(reason), true, String(reason));
  }
});

Deno.test("ServerRotation moves on in turn and comes back to the first", () => {
  const rotation = new ServerRotation([
    { hostname: "a", port: 1 },
    { hostname: "b", port: 2 },
    { hostname: "c", port: 3 },
  ]);
  const seen = [
    rotation.current,
    rotation.next(),
    rotation.next(),
    rotation.next(),
  ]
    .map((server) => server.hostname);
  assert.deepEqual(seen, ["a", "b", "c", "a"]);
  assert.throws(() => new ServerRotation([]), TypeError);
});

Deno.test("splitTags() takes id, seq and time off in any case the spec allows, and keeps malformed blocks whole", () => {
  const time = "2026-11-26T15:04:05.123Z";
  const id = "AAAAAAAAAAAAAAAAAAAAAA";
  assert.deepEqual(splitTags(`@id=${id};seq=42;time=${time} #ops MSG a hi`), {
    id,
    seq: 42,
    time,
    rest: "#ops MSG a hi",
  });
  assert.deepEqual(splitTags(`@id=${id} MSG a hi`), {
    id,
    seq: null,
    time: null,
    rest: "MSG a hi",
  });
  for (const bad of ["@id=short MSG a hi", "@seq=x MSG a", "@seq MSG a"]) {
    assert.equal(splitTags(bad).rest, bad);
  }
});

Deno.test("parseResumeLine() reads RESUME, RESUMED and READ, and nothing else", () => {
  assert.deepEqual(parseResumeLine("RESUME AAAAAAAAAAAAAAAAAAAAAA 30 Hold"), {
    type: "RESUME",
    token: "AAAAAAAAAAAAAAAAAAAAAA",
  });
  assert.deepEqual(parseResumeLine("RESUMED 5 0 ok"), {
    type: "RESUMED",
    last: 5,
    missing: 0,
  });
  assert.deepEqual(parseResumeLine("READ 9"), { type: "READ", seq: 9 });
  for (const other of ["RESUMED x 0", "RESUMED 5 many", "READ", "MSG a b"]) {
    assert.equal(parseResumeLine(other), null, other);
  }
});

Deno.test("ResumeState shows each number once per epoch, sends its positions and token once, and forgets numbers on an epoch change", () => {
  const state = new ResumeState();
  assert.equal(state.greeted("e1", true), null);
  assert.equal(state.see("#ops", 3), true);
  assert.equal(state.see("#ops", 2), false);
  assert.equal(state.see("#lobby", 10), true);
  state.tokenGiven("BBBBBBBBBBBBBBBBBBBBBB");
  // Same epoch: positions and token; the catch-up's lines are past ones.
  assert.equal(
    state.greeted("e1", true),
    "/resume e1 #ops=3,#lobby=10 BBBBBBBBBBBBBBBBBBBBBB",
  );
  assert.equal(state.catchingUp("#ops"), true);
  assert.equal(state.see("#ops", 3), false);
  state.resumed("#ops", 7);
  assert.equal(state.catchingUp("#ops"), false);
  assert.equal(state.last("#ops"), 7);
  // The token is used up; without resume offered nothing is sent.
  assert.equal(state.greeted("e1", true), "/resume e1 #ops=7,#lobby=10");
  assert.equal(state.greeted("e1", false), null);
  // Another epoch: the numbers are another log's.
  assert.equal(state.greeted("e2", true), "/resume e1 #ops=7,#lobby=10");
  assert.equal(state.positions(), "-");
  assert.equal(state.see("#ops", 1), true);
  // Without rooms, a bare number.
  const plain = new ResumeState();
  plain.greeted("e", true);
  plain.see(null, 4);
  assert.equal(plain.greeted("e", true), "/resume e 4");
});

Deno.test("ReadMarks keeps the highest number shown per room until taken, none for a room left", () => {
  const marks = new ReadMarks();
  assert.equal(marks.waiting, false);
  marks.shown("#ops", 9);
  marks.shown("#ops", 4);
  assert.equal(marks.waiting, true);
  assert.deepEqual(marks.take(), ["/read #ops 9"]);
  assert.equal(marks.waiting, false);
  marks.shown("#ops", 10); // then the room was left
  marks.shown(null, 3);
  marks.forget("#ops");
  assert.deepEqual(marks.take(), ["/read 3"]);
});

Deno.test("ResumeState shows a catch-up's lines that come after the member's own, higher-numbered JOIN, each once", () => {
  const state = new ResumeState();
  state.greeted("e1", true);
  state.see("#ops", 7);
  assert.ok(state.greeted("e1", true)?.startsWith("/resume e1 #ops=7"));
  // The server sends the member's own JOIN (10) first, then 8 and 9.
  assert.equal(state.see("#ops", 10), true);
  assert.equal(state.see("#ops", 8), true);
  assert.equal(state.see("#ops", 9), true);
  assert.equal(state.see("#ops", 8), false); // twice: shown already
  assert.equal(state.see("#ops", 7), false); // seen before the drop
  state.resumed("#ops", 9);
  assert.equal(state.see("#ops", 10), false);
  assert.equal(state.see("#ops", 11), true); // live
});

Deno.test("ResumeState takes the lines below its own JOIN on a first connection as a catch-up from the account's read mark, until RESUMED", () => {
  const state = new ResumeState();
  assert.equal(state.greeted("e1", true), null); // no position given
  assert.equal(state.see("#lobby", 61), true); // its own JOIN, first
  state.entered("#lobby", 61);
  for (const seq of [57, 58, 59, 60]) {
    assert.equal(state.catchingUp("#lobby", seq), true, String(seq));
    assert.equal(state.fromMark("#lobby", seq), true, String(seq));
    assert.equal(state.see("#lobby", seq), true, String(seq));
  }
  assert.equal(state.fromMark("#lobby", null), true); // its RESUMED
  assert.equal(state.see("#lobby", 61), false); // shown already
  state.resumed("#lobby", 60);
  assert.equal(state.fromMark("#lobby", 59), false);
  assert.equal(state.catchingUp("#lobby", 59), false);
  assert.equal(state.see("#lobby", 59), false);
  assert.equal(state.see("#lobby", 62), true); // live
  assert.equal(state.last("#lobby"), 62);
  // A room with a position of its own is caught up by it, not by a mark.
  assert.ok(state.greeted("e1", true)?.startsWith("/resume e1 #lobby=62"));
  state.entered("#lobby", 70);
  assert.equal(state.fromMark("#lobby", 65), false);
  assert.equal(state.see("#lobby", 62), false);
});
