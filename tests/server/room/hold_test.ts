/**
 * Tests of the resume tokens and the grace of a held member, on a fake
 * clock: hold, expiry, takeover by token or account, single use.
 */

import assert from "node:assert/strict";
import {
  hashResumeToken,
  Holds,
  newResumeToken,
} from "../../../lib/server/room/hold.ts";
import { FakeClock } from "../../_fakes.ts";

const guest = (alias: string) => ({ alias, account: null });

Deno.test("newResumeToken is 22 base64url characters, new each time", () => {
  const tokens = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const token = newResumeToken();
    assert.match(token, /^[A-Za-z0-9_-]{22}$/);
    tokens.add(token);
  }
  assert.equal(tokens.size, 100);
  assert.equal(hashResumeToken("x").length, 32);
});

Deno.test("Holds: a held member expires when its grace ends, not before", async () => {
  const clock = new FakeClock();
  const holds = new Holds<ReturnType<typeof guest>>(clock, 30_000);
  const alice = guest("alice");
  const token = holds.issue(alice)!;
  let expired = 0;
  assert.ok(holds.hold(alice, () => expired++));
  assert.ok(holds.isHeld(alice));
  assert.equal(holds.held, 1);
  await clock.advance(29_999);
  assert.equal(expired, 0);
  await clock.advance(1);
  assert.equal(expired, 1);
  assert.equal(holds.held, 0);
  // Its token went with it.
  assert.equal(holds.take(token), null);
  assert.equal(clock.pending, 0);
});

Deno.test("Holds: a token takes its held member over once; its grace stops", async () => {
  const clock = new FakeClock();
  const holds = new Holds<ReturnType<typeof guest>>(clock, 30_000);
  const alice = guest("alice");
  const bob = guest("bob");
  const token = holds.issue(alice)!;
  holds.issue(bob);
  holds.hold(alice, () => assert.fail("taken over, not expired"));
  assert.equal(holds.take("A".repeat(22)), null);
  assert.equal(holds.take(token), alice);
  assert.equal(holds.take(token), null);
  assert.ok(!holds.isHeld(alice));
  await clock.advance(60_000);
  // A new token for the member that took over; the old one stays used.
  const again = holds.issue(alice)!;
  assert.notEqual(again, token);
  holds.hold(alice, () => {});
  assert.equal(holds.take(token), null);
  assert.equal(holds.take(again), alice);
  holds.close();
  assert.equal(clock.pending, 0);
});

Deno.test("Holds: the token of a live member takes it over too (half-open), once; one that does not fit takes nothing; the other servers are told", () => {
  const clock = new FakeClock();
  const told: unknown[] = [];
  const holds = new Holds<ReturnType<typeof guest>>(
    clock,
    30_000,
    (member, news) => told.push([member.alias, news]),
  );
  const alice = guest("alice");
  const token = holds.issue(alice)!;
  assert.deepEqual(told.splice(0), [
    ["alice", {
      tokenHash: hashResumeToken(token).toString("hex"),
      away: false,
    }],
  ]);
  assert.equal(holds.take(token, () => false), null);
  // Not used up by a taker that does not fit.
  assert.equal(holds.take(token), alice);
  assert.equal(holds.take(token), null);
  assert.equal(holds.isHeld(alice), false);
  assert.equal(clock.pending, 0);
  assert.deepEqual(told, [["alice", { tokenHash: null, away: false }]]);
});

Deno.test("Holds: a new token replaces the member's old one", () => {
  const holds = new Holds<ReturnType<typeof guest>>(new FakeClock(), 1_000);
  const alice = guest("alice");
  const old = holds.issue(alice)!;
  const token = holds.issue(alice)!;
  holds.hold(alice, () => {});
  assert.equal(holds.take(old), null);
  assert.equal(holds.take(token), alice);
});

Deno.test("Holds: a login to the account takes over the held member of that alias", () => {
  const holds = new Holds<{ alias: string; account: string | null }>(
    new FakeClock(),
    30_000,
  );
  const carol = { alias: "Carol", account: "carol" };
  const guestCarol = { alias: "carol2", account: "carol" }; // renamed
  const dave = guest("dave");
  for (const member of [carol, guestCarol, dave]) {
    const token = holds.issue(member)!;
    assert.ok(token);
    holds.hold(member, () => {});
  }
  assert.equal(holds.takeAccount("dave"), null);
  assert.equal(holds.takeAccount("CAROL"), carol);
  assert.equal(holds.takeAccount("carol"), null);
  assert.equal(holds.held, 2);
  assert.deepEqual(holds.close(), [guestCarol, dave]);
  assert.equal(holds.held, 0);
});

Deno.test("Holds: grace 0 issues no token and holds nobody", () => {
  const holds = new Holds<ReturnType<typeof guest>>(new FakeClock(), 0);
  const alice = guest("alice");
  assert.equal(holds.issue(alice), null);
  assert.equal(holds.hold(alice, () => {}), false);
});

Deno.test("Holds: a member released while held no longer expires", async () => {
  const clock = new FakeClock();
  const holds = new Holds<ReturnType<typeof guest>>(clock, 5_000);
  const alice = guest("alice");
  const token = holds.issue(alice)!;
  holds.hold(alice, () => assert.fail("released"));
  holds.release(alice);
  await clock.advance(10_000);
  assert.equal(holds.take(token), null);
});

Deno.test("Holds: holds at most `perGroup` members of one address group (an IPv6 /64 is one) and `total` in all; the others leave at once", async () => {
  const clock = new FakeClock();
  const at = (alias: string, host: string) => ({ alias, account: null, host });
  const holds = new Holds<ReturnType<typeof at>>(clock, 30_000, undefined, {
    total: 3,
    perGroup: 2,
  });
  const [a1, a2, a3] = ["a1", "a2", "a3"].map((a) => at(a, "10.0.0.1"));
  const [v1, v2] = ["v1", "v2"].map((a, i) => at(a, `2001:db8::${i + 1}`));
  const c1 = at("c1", "10.0.0.3");
  for (const member of [a1!, a2!, a3!, v1!, v2!, c1]) holds.issue(member);
  const expired: string[] = [];
  const hold = (member: ReturnType<typeof at>) =>
    holds.hold(member, () => expired.push(member.alias));
  assert.ok(hold(a1!));
  assert.ok(hold(a2!));
  assert.ok(!hold(a3!), "a third from 10.0.0.1");
  assert.ok(!holds.isHeld(a3!));
  assert.ok(hold(v1!));
  assert.ok(!hold(c1), "a fourth in all");
  assert.equal(holds.held, 3);
  // One back (taken over by its account or token, or its grace over):
  // its place is free again, in its group and in all.
  holds.release(a1!);
  assert.ok(hold(a3!));
  assert.ok(!hold(v2!), "three in all again");
  await clock.advance(30_000);
  assert.deepEqual(expired.sort(), ["a2", "a3", "v1"]);
  assert.equal(holds.held, 0);
  assert.ok(hold(v2!));
  assert.ok(hold(c1));
});

Deno.test("Holds: account holders are counted by account, apart from guests: guests that fill their address group's places, or all of theirs, stop no account holder being held", async () => {
  const clock = new FakeClock();
  type At = { alias: string; account: string | null; host: string };
  const at = (alias: string, host: string, account: string | null = null) => ({
    alias,
    account,
    host,
  });
  const holds = new Holds<At>(clock, 30_000, undefined, {
    total: 3,
    perGroup: 2,
  });
  const nat = "10.0.0.1";
  const [g1, g2, g3] = ["g1", "g2", "g3"].map((a) => at(a, nat));
  const carol = at("carol", nat, "carol");
  const [c2, c3] = ["c2", "c3"].map((a) => at(a, "10.0.0.7", "Carol"));
  const [dave, erin] = ["dave", "erin"].map((a) => at(a, nat, a));
  const far = at("far", "10.0.0.9");
  const all = [g1!, g2!, g3!, carol, c2!, c3!, dave!, erin!, far];
  for (const member of all) holds.issue(member);
  const hold = (member: At) => holds.hold(member, () => {});
  // Two guests fill the NAT's places: a third guest from it is not held.
  assert.ok(hold(g1!));
  assert.ok(hold(g2!));
  assert.ok(!hold(g3!), "a third guest from the NAT");
  // Its account holder is: it counts in its account, not in the NAT.
  assert.ok(hold(carol), "an account holder behind the NAT");
  // One account, two devices elsewhere: at most `perGroup` of it held.
  assert.ok(hold(c2!));
  assert.ok(!hold(c3!), "a third member of account carol");
  // A guest from elsewhere fills the guests' `total`...
  assert.ok(hold(far));
  assert.ok(!hold(g3!), "a fourth guest in all");
  // ...which takes no account holder's place; they have `total` of theirs.
  assert.ok(hold(dave!), "a third account holder in all");
  assert.ok(!hold(erin!), "a fourth account holder in all");
  assert.equal(holds.held, 6);
  // Places come back as their members go, each in its own count.
  holds.release(carol);
  assert.ok(!hold(g3!), "an account holder's place is not a guest's");
  assert.ok(hold(c3!), "carol's place again");
  holds.release(g1!);
  assert.ok(hold(g3!));
  await clock.advance(30_000);
  assert.equal(holds.held, 0);
  assert.ok(hold(erin!));
});
