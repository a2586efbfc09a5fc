/**
 * Tests of the one admission rule every door uses, without sockets: the
 * total cap, the cap per address group (an IPv6 /64 is one group), a
 * trusted proxy's connections counted under their client once it is known,
 * and refusals told why only up to `--max-refusals` at once.
 */

import assert from "node:assert/strict";
import { Admission } from "../../../lib/server/doors/admission.ts";
import { createLogger } from "../../../lib/log.ts";

/** An admission with the given limits, and its log lines. */
function setup(maxClients: number, maxPerIp: number, maxRefusals = 10) {
  const logs: string[] = [];
  const log = createLogger("debug", (line) => logs.push(line), () => 0);
  const admission = new Admission({ maxClients, maxPerIp, maxRefusals }, log);
  const enter = (host: string | null, port = 1) =>
    admission.enter(host, `${host ?? "proxy"}:${port}`);
  return { admission, logs, enter };
}

Deno.test("Admission counts an IPv6 /64 as one address and IPv4 per address", () => {
  const { admission, enter } = setup(100, 2);
  const first = enter("2001:db8:1:2::1");
  const second = enter("2001:db8:1:2:ffff::9");
  assert.equal(first.refusal, null);
  assert.equal(second.refusal, null);
  assert.deepEqual(enter("2001:db8:1:2::77").refusal, {
    reason: "ip-limit",
    text: "Too many connections from 2001:db8:1:2::/64: at most 2",
  });
  // Another /64, and IPv4 addresses, are others.
  assert.equal(enter("2001:db8:1:3::1").refusal, null);
  assert.equal(enter("192.0.2.1").refusal, null);
  assert.equal(enter("192.0.2.1").refusal, null);
  assert.equal(enter("192.0.2.2").refusal, null);
  // An IPv4-mapped address is the IPv4 address it carries.
  assert.equal(enter("::ffff:192.0.2.1").refusal?.reason, "ip-limit");
  assert.equal(admission.connections, 6);
  // Leaving frees the place, once however often it is called.
  first.leave();
  first.leave();
  assert.equal(admission.connections, 5);
  assert.equal(enter("2001:db8:1:2::77").refusal, null);
  assert.equal(enter("2001:db8:1:2::78").refusal?.reason, "ip-limit");
  assert.deepEqual(admission.refusals, {
    "server-full": 0,
    "ip-limit": 3,
    banned: 0,
  });
});

Deno.test("Admission refuses over --max-clients whatever the address, and 0 means no per-address cap", () => {
  const { admission, logs, enter } = setup(3, 0);
  const entries = [enter("192.0.2.1"), enter("192.0.2.1"), enter("192.0.2.1")];
  assert.ok(entries.every((entry) => entry.refusal === null));
  assert.deepEqual(enter("198.51.100.1", 4242).refusal, {
    reason: "server-full",
    text: "Server is full: 3 connections",
  });
  assert.match(
    logs.at(-1)!,
    /INFO refused addr=198\.51\.100\.1:4242 reason=server-full$/,
  );
  entries[0]!.leave();
  assert.equal(enter("198.51.100.1").refusal, null);
  assert.deepEqual(admission.stats, { accepted: 5, refused: 1 });
  assert.equal(admission.refusals["server-full"], 1);
});

Deno.test("Admission counts a trusted proxy's connection in the total at once, under its client once named", () => {
  const { admission, enter } = setup(3, 1);
  const viaProxy = enter(null);
  assert.equal(viaProxy.refusal, null);
  assert.equal(admission.connections, 1);
  viaProxy.locate("203.0.113.7", "203.0.113.7:5000");
  assert.equal(viaProxy.refusal, null);
  // The same client directly, or through the proxy again: over its cap.
  assert.equal(enter("203.0.113.7").refusal?.reason, "ip-limit");
  const again = enter(null);
  again.locate("203.0.113.7", "203.0.113.7:5001");
  assert.deepEqual(again.refusal, {
    reason: "ip-limit",
    text: "Too many connections from 203.0.113.7: at most 1",
  });
  assert.equal(admission.connections, 1);
  // Another client through the proxy is another address.
  const other = enter(null);
  other.locate("203.0.113.8", "203.0.113.8:5000");
  assert.equal(other.refusal, null);
  // A second locate changes nothing.
  other.locate("203.0.113.7", "203.0.113.7:5002");
  assert.equal(other.refusal, null);
  viaProxy.leave();
  again.leave();
  other.leave();
  assert.equal(admission.connections, 0);
  assert.equal(enter("203.0.113.7").refusal, null);
});

Deno.test("Admission tells at most --max-refusals refused connections at once; others are dropped", () => {
  const { enter } = setup(1, 0, 2);
  enter("192.0.2.1");
  const told = [enter("192.0.2.2"), enter("192.0.2.3")];
  assert.ok(told.every((entry) => entry.refusal && !entry.dropped));
  const dropped = enter("192.0.2.4");
  assert.equal(dropped.refusal?.reason, "server-full");
  assert.equal(dropped.dropped, true);
  // A refusal told and closed frees its place for the next one.
  told[0]!.leave();
  dropped.leave(); // holds nothing
  const next = enter("192.0.2.5");
  assert.equal(next.dropped, false);
  assert.equal(enter("192.0.2.6").dropped, true);
  // With --max-refusals 0, none is told.
  const silent = setup(1, 0, 0);
  silent.enter("192.0.2.1");
  assert.equal(silent.enter("192.0.2.2").dropped, true);
});
