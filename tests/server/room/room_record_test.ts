/**
 * The pure rules of a registered room: who may enter (bans, invite-only,
 * key, in that order; operators and the invited past key and invite),
 * who operates it, which sanctions are in force on a fake clock, and the
 * room key's hash.
 */

import assert from "node:assert/strict";
import type { Sanction } from "../../../lib/server/access/moderation.ts";
import {
  type Entrant,
  hashRoomKey,
  isRoomOperator,
  mayEnter,
  operatorKey,
  readRoomRecord,
  recordProblem,
  registeredRoom,
  roomKeyMatches,
  type RoomRecord,
  sanctionFor,
  storedRecord,
} from "../../../lib/server/room/room_record.ts";
import { FakeClock } from "../../_fakes.ts";

const guest = (alias: string, host = "10.0.0.2"): Entrant => ({
  account: null,
  alias,
  host,
  serverOperator: false,
});

const member = (account: string, host = "10.0.0.3"): Entrant => ({
  account,
  alias: account,
  host,
  serverOperator: false,
});

function sanction(
  fields: Partial<Sanction> & Pick<Sanction, "kind" | "target">,
): Sanction {
  return {
    id: 1,
    type: "ban",
    label: fields.target,
    until: null,
    by: "opal",
    reason: "",
    ...fields,
  };
}

function room(fields: Partial<RoomRecord> = {}): RoomRecord {
  return { ...registeredRoom("#ops", "Opal"), ...fields };
}

Deno.test("mayEnter() keeps out whom a ban in force names: an account in any case, a guest's address group, IPv6 by its /64", () => {
  const clock = new FakeClock();
  const record = room({
    bans: [
      sanction({ kind: "account", target: "Bob" }),
      sanction({ kind: "address", target: "10.0.0.9", label: "mallory" }),
      sanction({ kind: "address", target: "2001:db8:0:1::/64" }),
    ],
  });
  const at = { nowMs: clock.now() };
  assert.equal(mayEnter(record, member("BOB"), at), "room-banned");
  assert.equal(
    mayEnter(record, guest("anyone", "10.0.0.9"), at),
    "room-banned",
  );
  assert.equal(
    mayEnter(record, guest("v6", "2001:db8:0:1:aaaa::5"), at),
    "room-banned",
  );
  assert.equal(mayEnter(record, guest("v6", "2001:db8:0:2::5"), at), "ok");
  assert.equal(
    mayEnter(record, guest("bob"), at),
    "ok",
    "a guest is no account",
  );
});

Deno.test("mayEnter() lets in whom a ban no longer holds (expired on the clock)", async () => {
  const clock = new FakeClock();
  const record = room({
    bans: [sanction({
      kind: "account",
      target: "bob",
      until: clock.now() + 60_000,
    })],
  });
  assert.equal(
    mayEnter(record, member("bob"), { nowMs: clock.now() }),
    "room-banned",
  );
  await clock.advance(59_999);
  assert.equal(
    mayEnter(record, member("bob"), { nowMs: clock.now() }),
    "room-banned",
  );
  await clock.advance(1);
  assert.equal(mayEnter(record, member("bob"), { nowMs: clock.now() }), "ok");
});

Deno.test("mayEnter(): server operators are never banned; the room's operators are held by an account ban, not an address one", () => {
  const record = room({
    operators: ["opal", "carol"],
    bans: [
      sanction({ kind: "address", target: "10.0.0.0/24" }),
      sanction({ kind: "account", target: "carol" }),
    ],
  });
  const at = { nowMs: 0 };
  const root = { ...member("root", "10.0.0.1"), serverOperator: true };
  assert.equal(mayEnter(record, root, at), "ok");
  assert.equal(mayEnter(record, member("opal", "10.0.0.1"), at), "ok");
  assert.equal(
    mayEnter(record, member("carol", "10.9.9.9"), at),
    "room-banned",
  );
  assert.equal(mayEnter(record, member("dave", "10.0.0.1"), at), "room-banned");
});

Deno.test("mayEnter() asks for the key: none or a wrong one is room-key, the right one enters", () => {
  const record = room({ keyHash: hashRoomKey("s3cret") });
  assert.equal(mayEnter(record, guest("bob"), { nowMs: 0 }), "room-key");
  for (const key of ["", "S3CRET", "s3cret ", "s3cre"]) {
    assert.equal(mayEnter(record, guest("bob"), { nowMs: 0, key }), "room-key");
  }
  assert.equal(
    mayEnter(record, guest("bob"), { nowMs: 0, key: "s3cret" }),
    "ok",
  );
  assert.equal(mayEnter(room(), guest("bob"), { nowMs: 0, key: "x" }), "ok");
});

Deno.test("mayEnter(): invite-only keeps out the uninvited even with the key; the invited, by account or here by id, pass key and invite", () => {
  const record = room({
    inviteOnly: true,
    keyHash: hashRoomKey("s3cret"),
    invites: ["dave", "erin"],
  });
  const at = { nowMs: 0, key: "s3cret" };
  assert.equal(mayEnter(record, guest("bob"), at), "room-invite-only");
  assert.equal(
    mayEnter(record, guest("Dave"), { nowMs: 0 }),
    "room-invite-only",
    "the record's invitations are accounts', never a guest's alias",
  );
  assert.equal(
    mayEnter(record, guest("bob"), { nowMs: 0, invited: true }),
    "ok",
  );
  const erin = { ...member("Erin"), alias: "erin-phone" };
  assert.equal(mayEnter(record, erin, { nowMs: 0 }), "ok");
  assert.equal(
    mayEnter({ ...record, inviteOnly: false }, guest("bob"), at),
    "ok",
    "without invite-only, the key is enough",
  );
});

Deno.test("mayEnter(): the room's operators and server operators pass key and invite-only; a ban still comes first", () => {
  const record = room({
    operators: ["opal"],
    inviteOnly: true,
    keyHash: hashRoomKey("s3cret"),
    invites: ["mallory"],
    bans: [sanction({ kind: "address", target: "10.0.0.66" })],
  });
  const at = { nowMs: 0 };
  assert.equal(mayEnter(record, member("Opal"), at), "ok");
  assert.equal(
    mayEnter(record, { ...guest("x"), serverOperator: true }, at),
    "ok",
  );
  assert.equal(
    mayEnter(record, guest("mallory", "10.0.0.66"), at),
    "room-banned",
    "an invite does not lift a ban",
  );
});

Deno.test("mayEnter() lets a member rejoining its room past key and invite-only, not past a ban", () => {
  const record = room({
    inviteOnly: true,
    keyHash: hashRoomKey("s3cret"),
    bans: [sanction({ kind: "account", target: "mallory" })],
  });
  const again = { nowMs: 0, member: true };
  assert.equal(mayEnter(record, member("bob"), again), "ok");
  assert.equal(mayEnter(record, member("mallory"), again), "room-banned");
});

Deno.test("operatorKey() marks a guest's alias apart from accounts; storedRecord() keeps no guest's rights", () => {
  assert.equal(operatorKey(member("Carol")), "carol");
  assert.equal(operatorKey(guest("Carol")), "~carol");
  const record = room({ operators: ["opal", "~gus", "carol"] });
  assert.equal(isRoomOperator(record, guest("gus")), true);
  assert.equal(isRoomOperator(record, member("gus")), false);
  assert.equal(isRoomOperator(record, guest("carol")), false);
  const stored = storedRecord(record);
  assert.deepEqual(stored.operators, ["opal", "carol"]);
  stored.invites.push("x");
  assert.deepEqual(record.invites, [], "a copy");
});

Deno.test("isRoomOperator(): listed accounts in any case and server operators; never a guest using an operator's name", () => {
  const record = room({ operators: ["opal", "carol"] });
  assert.equal(isRoomOperator(record, member("CAROL")), true);
  assert.equal(isRoomOperator(record, member("dave")), false);
  assert.equal(isRoomOperator(record, guest("opal")), false);
  assert.equal(
    isRoomOperator(record, { ...guest("root"), serverOperator: true }),
    true,
  );
});

Deno.test("sanctionFor() finds a mute in force, not one expired, not a ban", async () => {
  const clock = new FakeClock();
  const mute = sanction({
    type: "mute",
    kind: "account",
    target: "bob",
    until: clock.now() + 1000,
  });
  const record = room({ mutes: [mute] });
  const bob = member("bob");
  assert.equal(
    sanctionFor(record, bob, { type: "mute", nowMs: clock.now() }),
    mute,
  );
  assert.equal(
    sanctionFor(record, bob, { type: "ban", nowMs: clock.now() }),
    null,
  );
  await clock.advance(1000);
  assert.equal(
    sanctionFor(record, bob, { type: "mute", nowMs: clock.now() }),
    null,
  );
});

Deno.test("hashRoomKey() salts each hash; roomKeyMatches() is false for a hash that is not one", () => {
  const one = hashRoomKey("s3cret");
  const two = hashRoomKey("s3cret");
  assert.match(one, /^sha256\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
  assert.notEqual(one, two);
  assert.equal(roomKeyMatches("s3cret", one), true);
  assert.equal(roomKeyMatches("s3cret", two), true);
  assert.equal(roomKeyMatches("s3cret2", one), false);
  const [, salt, digest] = one.split("$");
  for (
    const bad of [
      "",
      "s3cret",
      `scrypt$${salt}$${digest}`,
      `sha256$${salt}`,
      `sha256$${salt}$${digest}$x`,
      `sha256$${salt}$!!`,
      `sha256$${salt}$${digest!.slice(4)}`,
    ]
  ) {
    assert.equal(roomKeyMatches("s3cret", bad), false, bad);
  }
});

Deno.test("recordProblem() names a bad name and a list over the limit, else null", () => {
  const limits = { maxRooms: 10, maxRoomEntries: 2, maxRoomsPerMember: 5 };
  assert.equal(recordProblem(room(), limits), null);
  assert.equal(
    recordProblem(room({ name: "#Ops" }), limits),
    '"#Ops" is not a room name',
  );
  assert.equal(
    recordProblem(room({ invites: ["a", "b", "c"] }), limits),
    "it has 3 invites, more than 2",
  );
});

Deno.test("readRoomRecord() keeps when its topic and each ban was set, reads an earlier release's record without them as not known, and refuses a ban whose time is no time", () => {
  const ban = sanction({
    kind: "account",
    target: "bob",
    at: 1_700_000_000_000,
  });
  const record = room({
    topic: { text: "Ops only", by: "opal", at: 1_700_000_000_500 },
    bans: [ban],
  });
  assert.deepEqual(readRoomRecord(JSON.parse(JSON.stringify(record))), record);
  const earlier = room({
    topic: { text: "Ops only", by: "opal" },
    bans: [sanction({ kind: "account", target: "bob" })],
  });
  assert.deepEqual(
    readRoomRecord(JSON.parse(JSON.stringify(earlier))),
    earlier,
  );
  // A topic's time that is no time is not known; a record's shape holds.
  const odd = {
    ...record,
    topic: { text: "Ops only", by: "opal", at: "noon" },
  };
  assert.deepEqual(readRoomRecord(odd)?.topic, {
    text: "Ops only",
    by: "opal",
  });
  assert.equal(
    readRoomRecord({ ...record, bans: [{ ...ban, at: "noon" }] }),
    null,
  );
});
