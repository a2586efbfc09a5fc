/**
 * Wrong room keys are no oracle: `mayEnter()` checks a key through
 * `Gate.checkRoomKey()`, under the login limits (per address group, per
 * IPv6 /48, one budget with logins), and past them answers
 * `too-many-attempts` without looking at the key.
 * A fake clock, a database in memory, no sockets.
 */

import assert from "node:assert/strict";
import { Accounts } from "../../../lib/server/access/accounts.ts";
import { Gate } from "../../../lib/server/access/gate.ts";
import { LoginLimiter } from "../../../lib/server/access/login_limiter.ts";
import { Moderation } from "../../../lib/server/access/moderation.ts";
import { PasswordChecker } from "../../../lib/server/access/passwords.ts";
import type { ProtocolError } from "../../../lib/protocol.ts";
import {
  type Entrant,
  hashRoomKey,
  mayEnter,
  registeredRoom,
  type RoomRecord,
} from "../../../lib/server/room/room_record.ts";
import { openStore } from "../../../lib/server/storage/store.ts";
import { FakeClock } from "../../_fakes.ts";

const REFILL_MS = 60_000;

/** A gate letting 3 failures through per address, 6 per /48. */
function gateOn(clock: FakeClock): Gate & Disposable {
  const store = openStore(null);
  const accounts = new Accounts(store.db);
  const gate = new Gate({
    accounts,
    moderation: new Moderation(store.db, clock),
    limiter: new LoginLimiter(clock, {
      burst: 3,
      targetBurst: 6,
      refillMs: REFILL_MS,
      known: accounts,
    }),
    checker: new PasswordChecker(),
    roomPassword: null,
    accountsOnly: false,
  });
  return Object.assign(gate, { [Symbol.dispose]: () => store.close() });
}

const ROOM: RoomRecord = {
  ...registeredRoom("#ops", "opal"),
  keyHash: hashRoomKey("s3cret"),
};

const guest = (host: string): Entrant => ({
  account: null,
  alias: "bob",
  host,
  serverOperator: false,
});

/** `mayEnter()`'s answer, or the code of the error it threw. */
function enter(
  gate: Gate,
  clock: FakeClock,
  who: Entrant,
  key?: string,
  record = ROOM,
): string {
  try {
    return mayEnter(record, who, { nowMs: clock.now(), key, keys: gate });
  } catch (e) {
    return (e as ProtocolError).code;
  }
}

Deno.test("mayEnter() through Gate.checkRoomKey() counts wrong keys per address group; past the burst even the right key waits, then the wait doubles", async () => {
  const clock = new FakeClock();
  using gate = gateOn(clock);
  const bob = guest("10.0.0.2");
  for (let i = 0; i < 3; i++) {
    assert.equal(enter(gate, clock, bob, `guess${i}`), "room-key");
  }
  assert.equal(enter(gate, clock, bob, "s3cret"), "too-many-attempts");
  assert.throws(
    () =>
      mayEnter(ROOM, bob, { nowMs: clock.now(), key: "s3cret", keys: gate }),
    /^ProtocolError: Too many wrong room keys: try again in 60 s$/,
  );
  assert.equal(enter(gate, clock, guest("10.0.0.3"), "s3cret"), "ok");
  await clock.advance(REFILL_MS);
  assert.equal(enter(gate, clock, bob, "guess"), "room-key");
  assert.equal(enter(gate, clock, bob, "s3cret"), "too-many-attempts");
  await clock.advance(2 * REFILL_MS);
  assert.equal(enter(gate, clock, bob, "s3cret"), "ok");
});

Deno.test("mayEnter() through Gate.checkRoomKey(): a right key costs nothing, and no key, a ban, an operator or an invite count nothing", () => {
  const clock = new FakeClock();
  using gate = gateOn(clock);
  const bob = guest("10.0.0.2");
  for (let i = 0; i < 10; i++) {
    assert.equal(enter(gate, clock, bob, "s3cret"), "ok");
    assert.equal(enter(gate, clock, bob), "room-key");
    assert.equal(enter(gate, clock, { ...bob, account: "opal" }, "x"), "ok");
    const invited = { ...ROOM, invites: ["bob"] };
    const account = { ...bob, account: "bob" };
    assert.equal(enter(gate, clock, account, "x", invited), "ok");
    const banned = {
      ...ROOM,
      bans: [{
        id: 1,
        type: "ban" as const,
        kind: "address" as const,
        target: "10.0.0.2",
        label: "bob",
        until: null,
        by: "opal",
        reason: "",
      }],
    };
    assert.equal(enter(gate, clock, bob, "x", banned), "room-banned");
  }
  // None of that counted: three wrong keys still go through.
  for (let i = 0; i < 3; i++) {
    assert.equal(enter(gate, clock, bob, "guess"), "room-key");
  }
  assert.equal(enter(gate, clock, bob, "guess"), "too-many-attempts");
});

Deno.test("mayEnter() through Gate.checkRoomKey(): wrong keys and failed logins share an address's budget; rotating IPv6 /64s are held by their /48", async () => {
  const clock = new FakeClock();
  using gate = gateOn(clock);
  await gate.accounts.add("alice", "alice-pass-1");
  for (let i = 0; i < 3; i++) {
    assert.equal(enter(gate, clock, guest("10.0.0.2"), "guess"), "room-key");
  }
  await assert.rejects(
    gate.login("alice", "alice-pass-1", "10.0.0.2"),
    /^ProtocolError: Too many failed logins: try again in 60 s$/,
  );
  const from48 = (i: number) => guest(`2001:db8:1:${i.toString(16)}::1`);
  const answers = Array.from(
    { length: 8 },
    (_, i) => enter(gate, clock, from48(i), "guess"),
  );
  assert.deepEqual(answers, [
    ...Array(6).fill("room-key"),
    "too-many-attempts",
    "too-many-attempts",
  ]);
  assert.equal(enter(gate, clock, guest("2001:db8:2::1"), "s3cret"), "ok");
});
