/**
 * Rooms across servers: real `server.ts` processes on one real Redis,
 * terminal-style clients with the `rooms` capability. Rooms apart across
 * servers, a member of both sees both labelled; counts and `/who` of the
 * whole cluster; a registered room made on one server with its key and
 * operators on another and on a server started later; a room kick across
 * servers; a quiet room's history kept while a busy room trims the stream;
 * an empty temporary room expiring on every server; a room operator's
 * /roomban with Redis paused answered with an ERR, the operator kept; a
 * room change refused with Redis stopped undone, never carried later; a
 * member kicked or muted while it floods from another server silenced.
 */

import assert from "node:assert/strict";
import {
  type ServerProcess,
  testCertificates,
  TestClient,
} from "../../_helpers.ts";
import type { Redis } from "../../_redis.ts";
import {
  addAccount,
  FAST,
  FAST_BEATS,
  startServer,
  streamEntries,
  withCluster,
} from "./_cluster.ts";

/** Every server's flags here: small limits, so that they are reached. */
const ARGS = [
  "--room-create",
  "any",
  "--history",
  "3",
  "--redis-stream-entries",
  "100",
  "--room-grace",
  "1",
];

/** A client with `rooms` on `server`, joined as `alias`, in the default room. */
async function member(
  server: ServerProcess,
  alias: string,
  password?: string,
): Promise<TestClient> {
  const { ca } = await testCertificates();
  const client = await TestClient.connect(server.port, "127.0.0.1", ca.cert);
  await client.expect(/^HELLO .*caps=\S*rooms/);
  await client.send("/cap rooms");
  await client.expect(/^CAP rooms$/);
  await client.send(alias);
  if (password !== undefined) {
    await client.expect(/^PASSWORD /);
    await client.send(`/pass ${password}`);
  }
  // Its own JOIN first, as on one server, whoever answered first: the
  // claim's script or the stream.
  await client.expect(new RegExp(`^#lobby JOIN ${alias} \\d+$`));
  await client.expect(/^CURRENT #lobby$/);
  return client;
}

/** `/join ROOM [KEY]`, and its `CURRENT`. */
async function enter(client: TestClient, room: string, key = "") {
  await client.send(`/join ${room} ${key}`.trim());
  await client.expect(new RegExp(`^CURRENT ${room}$`));
}

/** The `ROOM` lines `/rooms` gives `client`, as `#name MEMBERS FLAGS`. */
async function rooms(client: TestClient): Promise<string[]> {
  await client.send("/rooms");
  const listed: string[] = [];
  while (true) {
    const line = await client.expect(/^(ROOM|INFO \d+ rooms?$)/);
    if (line.startsWith("INFO")) return listed;
    listed.push(line.split(" ").slice(1, 4).join(" "));
  }
}

/** The number of the oldest entry the cluster's stream still holds. */
async function oldestInStream(redis: Redis): Promise<number> {
  const entries = await streamEntries(redis, 1);
  return Number(entries[0]![0].split("-")[0]);
}

Deno.test("rooms across servers: apart, labelled, counted; a registered room on every server, a later one too; a kick across servers; a quiet room's history past the stream; expiry", async () => {
  await withCluster(2, async ([s0, s1], redis, dir) => {
    using alice = await member(s0!, "alice");
    using bob = await member(s1!, "bob");
    using carol = await member(s1!, "carol");
    await enter(alice, "#ops");
    await enter(bob, "#dev");
    await enter(carol, "#ops");
    // The count of the whole room, whichever server it is on.
    assert.equal(await alice.expect(/^#ops JOIN carol/), "#ops JOIN carol 2");
    await enter(carol, "#dev");
    await alice.send("#ops ops secret");
    await alice.expect(/^#ops MSG alice ops secret$/);
    await bob.send("#dev dev secret");
    await bob.expect(/^#dev MSG bob dev secret$/);
    assert.equal(await carol.expect(/ MSG /), "#ops MSG alice ops secret");
    assert.equal(await carol.expect(/ MSG /), "#dev MSG bob dev secret");
    await carol.send("#ops /who");
    assert.equal(await carol.expect(/^#ops WHO /), "#ops WHO 2 @alice carol");
    assert.deepEqual(await rooms(bob), ["#lobby 3 m", "#dev 2 m", "#ops 2 -"]);
    // A room kick decided on alice's server takes carol out on hers.
    await alice.send("#ops /kick carol enough");
    await carol.expect(/^#ops MOD kick carol alice enough$/);
    await carol.expect(/^#ops LEAVE carol 1 kicked enough$/);
    await alice.expect(/^#ops LEAVE carol 1 kicked enough$/);
    await carol.send("#ops still here?");
    await carol.expect(/^ERR not-in-room You are not in #ops$/);
    // A registered room with a key, made on s0, holds on s1.
    using opal = await member(s0!, "opal", "opal's password");
    await enter(opal, "#reg");
    await opal.send("#reg /key s3cret");
    await opal.expect(/^#reg MOD key - opal on$/);
    await opal.send("#reg /register");
    await opal.expect(/^#reg MOD register - opal$/);
    await opal.send("#reg a quiet line");
    await opal.expect(/^#reg MSG opal a quiet line$/);
    using dave = await member(s1!, "dave");
    await dave.send("/join #reg");
    await dave.expect(/^ERR room-key /);
    await enter(dave, "#reg", "s3cret");
    await dave.send("#reg /who");
    assert.equal(await dave.expect(/^#reg WHO /), "#reg WHO 2 dave @opal");
    // A mute and an invite decided on s0 of members on s1 hold there.
    await opal.send("#reg /mute dave 10m");
    await dave.expect(/^#reg MOD mute dave opal /);
    await dave.send("#reg muted?");
    await dave.expect(/^ERR muted You are muted in #reg/);
    await opal.send("#reg /invite bob");
    await bob.expect(/^INVITE #reg opal$/);
    await bob.send("/join #reg");
    await bob.expect(/^CURRENT #reg$/);
    await bob.send("/part #reg");
    await bob.expect(/^#reg LEAVE bob /);
    // A busy room trims the stream (--redis-stream-entries 100).
    for (let i = 0; i < 300; i++) await bob.send(`#dev busy ${i}`);
    await bob.expect(/^#dev MSG bob busy 299$/, 30_000);
    // A server started now knows the rooms, their keys, operators and
    // last lines, though the stream no longer holds the quiet room's.
    await using s2 = await startServer(dir, "s2", redis, ARGS);
    using eve = await member(s2, "eve");
    assert.deepEqual(await rooms(eve), [
      "#lobby 6 m",
      "#dev 2 -",
      "#reg 2 rk",
      "#ops 1 -",
    ]);
    await eve.send("/join #reg");
    await eve.expect(/^ERR room-key /);
    await eve.send("/join #reg s3cret");
    const hist = await eve.expect(/^#reg HIST /);
    assert.match(hist, /^#reg HIST \d+ \S+ MSG opal a quiet line$/);
    await eve.expect(/^CURRENT #reg$/);
    const seq = Number(hist.split(" ")[2]);
    assert.ok(await oldestInStream(redis) > seq, "the stream was trimmed");
    await eve.send("#reg /who");
    assert.equal(await eve.expect(/^#reg WHO /), "#reg WHO 3 dave eve @opal");
    // Empty, a temporary room expires on every server (--room-grace 1).
    await alice.send("/part #ops");
    await alice.expect(/^#ops LEAVE alice 0 part/);
    for (const client of [bob, eve]) {
      while ((await rooms(client)).some((room) => room.startsWith("#ops "))) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    // Created again, it is a new room: its creator operates it.
    await enter(bob, "#ops");
    await bob.send("#ops /who");
    assert.equal(await bob.expect(/^#ops WHO /), "#ops WHO 1 @bob");
  }, {
    args: ARGS,
    before: (dir) => addAccount(dir, "s0", "opal"),
  });
});

/**
 * The stream's entries about room `room`, as `TYPE alias`, a `LEAVE` with
 * its reason and text.
 */
async function roomEntries(redis: Redis, room: string): Promise<string[]> {
  return (await streamEntries(redis)).flatMap(([, fields]) => {
    if (fields[fields.indexOf("r") + 1] !== room) return [];
    const line = JSON.parse(fields[fields.indexOf("l") + 1]!);
    const { type, alias, reason, text } = line;
    const why = type === "LEAVE" ? [reason, text] : [];
    return [[type, alias, ...why].filter(Boolean).join(" ")];
  });
}

Deno.test("a room ban of a guest connected to another server: by its address group, which the cluster's directory knows; it leaves there, by one LEAVE in the stream, and cannot come back", async () => {
  await withCluster(2, async ([s0, s1], redis) => {
    using amy = await member(s0!, "amy");
    using gus = await member(s1!, "gus");
    await enter(amy, "#r");
    await enter(gus, "#r");
    await amy.send("#r /roomban gus 10m spam");
    await gus.expect(/^#r MOD ban gus amy /);
    await gus.expect(/^#r LEAVE gus 1 banned spam$/);
    await amy.expect(/^#r LEAVE gus 1 banned spam$/);
    await gus.send("/join #r");
    await gus.expect(/^ERR room-banned You are banned from #r/);
    // Whatever gus's server appended as it read the ban went before this.
    await gus.send("#lobby after the ban");
    await amy.expect(/^#lobby MSG gus after the ban$/);
    assert.deepEqual(await roomEntries(redis, "#r"), [
      "JOIN amy",
      "JOIN gus",
      "MOD gus",
      "LEAVE gus banned spam",
    ]);
  }, { args: ARGS });
});

/** Fast heartbeats ({@linkcode FAST}), with {@linkcode ARGS}. */
const LOST_FAST = [...ARGS, ...FAST];

/**
 * {@linkcode FAST_BEATS} with {@linkcode ARGS}, for a test that stops and
 * starts Redis: with `--lost-after 1`, a server that got in a try after the
 * other was counted lost.
 */
const RESTARTED_FAST = [...ARGS, ...FAST_BEATS];

Deno.test("a server counted lost while the stream was trimmed past it starts its rooms again from Redis's snapshot when it is back", async () => {
  await withCluster(2, async ([s0, s1]) => {
    using amy = await member(s0!, "amy");
    using gus = await member(s1!, "gus");
    await amy.expect(/^#lobby JOIN gus 2$/);
    s1!.child.kill("SIGSTOP");
    try {
      await amy.expect(/^#lobby LEAVE gus 1 server-lost/, 10_000);
      // Changed while s1 was away, past what the stream keeps (100).
      await enter(amy, "#new");
      await amy.send("#new /key s3cret");
      await amy.expect(/^#new MOD key - amy on$/);
      for (let i = 0; i < 150; i++) await amy.send(`#lobby busy ${i}`);
      await amy.expect(/^#lobby MSG amy busy 149$/, 30_000);
    } finally {
      s1!.child.kill("SIGCONT");
    }
    assert.match(
      (await gus.readToEnd()).find((l) => l.startsWith("BYE")) ?? "",
      /^BYE server-lost /,
    );
    using eve = await member(s1!, "eve");
    assert.deepEqual(await rooms(eve), ["#lobby 2 m", "#new 1 k"]);
    await eve.send("#lobby /who");
    assert.equal(await eve.expect(/^#lobby WHO /), "#lobby WHO 2 amy eve");
    await eve.send("/join #new");
    await eve.expect(/^ERR room-key /);
    await enter(eve, "#new", "s3cret");
    await amy.expect(/^#new JOIN eve 2$/);
  }, { args: LOST_FAST });
});

Deno.test("two look-alike rooms created at the same instant on two servers: Redis lets the first in, the other joiner gets the ERR one server gives, and no server keeps the second", async () => {
  await withCluster(2, async ([s0, s1], redis) => {
    using amy = await member(s0!, "amy");
    using gus = await member(s1!, "gus");
    using ann = await member(s0!, "ann");
    using gil = await member(s1!, "gil");
    // Settled first: a command after a line not yet handed on waits for
    // the log (here, for Redis).
    for (const client of [amy, gus, ann, gil]) await rooms(client);
    // Each server creates its room while neither can hear of the other's.
    redis.pause();
    try {
      await amy.send("/join #look");
      await gus.send("/join #l0ok");
      // Made on each server (its /rooms lists it): both creations wait
      // for Redis, each past its own server's look-alike check.
      for (const [watcher, room] of [[ann, "#look"], [gil, "#l0ok"]] as const) {
        while (!(await rooms(watcher)).some((r) => r.startsWith(`${room} `))) {
          // Asked again: /rooms answers at once, from the server's rooms.
        }
      }
    } finally {
      redis.resume();
    }
    const answers = await Promise.all(
      [amy, gus].map((c) => c.expect(/^(CURRENT #\S+|ERR room-taken .*)$/)),
    );
    const won = answers.findIndex((a) => a.startsWith("CURRENT"));
    assert.notEqual(won, -1, answers.join(" | "));
    const winner = won === 0 ? "#look" : "#l0ok";
    assert.deepEqual(answers, [
      won === 0
        ? "CURRENT #look"
        : "ERR room-taken Cannot create #look: it looks like #l0ok",
      won === 1
        ? "CURRENT #l0ok"
        : "ERR room-taken Cannot create #l0ok: it looks like #look",
    ]);
    for (const watcher of [ann, gil]) {
      assert.deepEqual(await rooms(watcher), ["#lobby 4 m", `${winner} 1 -`]);
    }
  }, { args: ARGS });
});

Deno.test("a /join the shared log refuses (Redis away) or leaves in doubt (Redis hangs) is answered with an ERR; the joiner is in the room only once the log has its JOIN", async () => {
  await withCluster(2, async ([s0, s1], redis) => {
    using amy = await member(s0!, "amy");
    using gus = await member(s1!, "gus");
    await enter(gus, "#den");
    for (const client of [amy, gus]) await rooms(client);
    // Away: the append is refused at once, once the server's link knows
    // (a command written as the connection broke may have run: in doubt).
    await redis.stop();
    await s0!.output.waitFor(
      /DEBUG redis-heartbeat-failed error="Error: The client is offline"/,
    );
    await amy.send("/join #den");
    assert.equal(
      await amy.expect(/^(ERR|CURRENT) /),
      "ERR unavailable Cannot join #den: the room cannot store events right now; /join #den again later",
    );
    await amy.send("#den said while Redis is away");
    assert.equal(
      await amy.expect(/^ERR /),
      "ERR not-in-room You are not in #den",
    );
    assert.deepEqual(await rooms(amy), ["#lobby 2 m", "#den 1 -"]);
    await redis.start();
    await s0!.output.waitFor(/INFO redis-reconnected/, { timeoutMs: 10_000 });
    await enter(amy, "#den");
    await gus.expect(/^#den JOIN amy 2$/);
    await amy.send("/part #den");
    await gus.expect(/^#den LEAVE amy 1 part$/);
    await rooms(amy);
    // Hangs: the append is sent again for --redis-retry, then in doubt,
    // and she is not in the room meanwhile.
    redis.pause();
    try {
      await amy.send("/join #den");
      assert.equal(
        await amy.expect(/^(ERR|CURRENT) /, 10_000),
        "ERR unknown Perhaps not in #den: the room's store stopped answering; if your join was stored, you will enter #den as usual; if not, /join #den again",
      );
      await amy.send("#den said while Redis hangs");
      assert.equal(
        await amy.expect(/^ERR /),
        "ERR not-in-room You are not in #den",
      );
    } finally {
      redis.resume();
    }
    // Awake, Redis runs what it was sent: the JOIN is stored, and she
    // enters as any joiner does, once, seen by the room once.
    await amy.expect(/^#den JOIN amy 2$/);
    await amy.expect(/^CURRENT #den$/);
    await gus.expect(/^#den JOIN amy 2$/);
    await amy.send("#den in at last");
    await gus.expect(/^#den MSG amy in at last$/);
    assert.equal(
      gus.received.filter((l) => l === "#den JOIN amy 2").length,
      2,
      gus.received.join("\n"),
    );
  }, { args: [...RESTARTED_FAST, "--log-level", "debug"] });
});

Deno.test("a /join in doubt sent again while Redis still hangs is in doubt still: when Redis runs the first, its room counts as made (--room-creations)", async () => {
  const args = LOST_FAST.map((a, i) =>
    LOST_FAST[i - 1] === "--room-grace" ? "60" : a
  );
  await withCluster(2, async ([s0], redis) => {
    using amy = await member(s0!, "amy");
    redis.pause();
    try {
      await amy.send("/join #new");
      assert.match(
        await amy.expect(/^(ERR|CURRENT) /, 10_000),
        /^ERR unknown Perhaps not in #new/,
      );
      // Sent again under the same id: Redis is asked for a PING first,
      // does not answer, and the resend is refused; the first is not.
      await amy.send("/join #new");
      assert.match(
        await amy.expect(/^(ERR|CURRENT) /, 10_000),
        /^ERR unknown Perhaps not in #new/,
      );
    } finally {
      redis.resume();
    }
    await amy.expect(/^#new JOIN amy 1$/, 10_000);
    await amy.expect(/^CURRENT #new$/);
    await enter(amy, "#x"); // the second room of two this hour
    await amy.send("/join #y");
    assert.match(
      await amy.expect(/^(ERR|CURRENT) /),
      /^ERR room-creations Cannot create #y: you created 2 rooms this hour/,
    );
  }, { args: [...args, "--room-creations", "2"] });
});

Deno.test("Redis paused: a room operator's /roomban of a member on another server is answered ERR unavailable; the operator stays connected", async () => {
  await withCluster(2, async ([s0, s1], redis) => {
    using amy = await member(s0!, "amy");
    using gus = await member(s1!, "gus");
    await enter(amy, "#r");
    await enter(gus, "#r");
    await amy.expect(/^#r JOIN gus 2$/);
    redis.pause();
    try {
      await amy.send("#r /roomban gus 10m spam");
      assert.match(
        await amy.expect(/^ERR /),
        /^ERR unavailable Cannot find "gus" now: /,
      );
    } finally {
      redis.resume();
    }
    await amy.send("#r /who");
    assert.equal(await amy.expect(/^#r WHO /), "#r WHO 2 @amy gus");
  }, { args: [...ARGS, "--redis-timeout", "0.3"] });
});

Deno.test("a room operator's change refused while Redis is down is undone on its server: the next change, stored, carries none of it to the other servers", async () => {
  await withCluster(2, async ([s0, s1], redis) => {
    using amy = await member(s0!, "amy");
    using gus = await member(s1!, "gus");
    await enter(amy, "#r");
    await redis.stop();
    await s0!.output.waitFor(/ERROR redis-unavailable/);
    // Its commands connection, too, is known down (a command is refused
    // without being taken): the change surely reaches no Redis, and is
    // refused at once. (Seen down by one connection only, a change written
    // on another just before it saw its close too would be in doubt:
    // ERR unknown, after --redis-retry.)
    await s0!.output.waitFor(
      /DEBUG redis-heartbeat-failed error="Error: The client is offline"/,
    );
    await amy.send("#r /key s3cret");
    assert.equal(
      await amy.expect(/^ERR /),
      "ERR unavailable Not done: the other servers could not be told; do it again later",
    );
    await redis.start();
    // Both servers back: each reconnects on its own backoff, and a /join
    // on s1 while it is still offline is refused (ERR unavailable).
    for (const server of [s0!, s1!]) {
      await server.output.waitFor(/redis-reconnected/);
    }
    await amy.send("#r /topic back");
    await amy.expect(/^#r TOPIC amy back$/);
    // s1 has the record the topic carried: no key (was: ERR room-key).
    await gus.send("/join #r");
    assert.equal(await gus.expect(/^(CURRENT|ERR) /), "CURRENT #r");
    await amy.expect(/^#r JOIN gus 2$/);
  }, { args: [...ARGS, "--log-level", "debug"] });
});

Deno.test("a member kicked from a room while it floods it from another server: none of its lines reaches the room after its LEAVE", async () => {
  await withCluster(2, async ([s0, s1]) => {
    using amy = await member(s0!, "amy");
    using gus = await member(s1!, "gus");
    await enter(amy, "#r");
    // Five times: it floods as fast as its server takes lines; those its
    // server handles while the kick goes through Redis, before it reads
    // it, come after its LEAVE in the log.
    for (let round = 0; round < 5; round++) {
      await enter(gus, "#r");
      const flood = floodUntilOut(gus, round);
      await amy.expect(new RegExp(`^#r MSG gus spam ${round}/3\\.0$`), 30_000);
      await amy.send("#r /kick gus enough");
      await amy.expect(/^#r LEAVE gus 1 kicked enough$/, 30_000);
      await flood;
      await amy.send("#r /who");
      const after: string[] = [];
      while (true) {
        const line = await amy.expect(/^#r (MSG|WHO) /, 30_000);
        if (line.startsWith("#r WHO")) break;
        after.push(line);
      }
      assert.deepEqual(after, [], `round ${round}`);
      assert.equal(amy.received.at(-1), "#r WHO 1 @amy");
    }
  }, { args: ["--room-create", "any"] });
});

/** Sends `#r spam` lines, 200 at a time, until its `#r LEAVE` comes. */
async function floodUntilOut(client: TestClient, round: number) {
  for (let n = 0;; n++) {
    const lines = Array.from(
      { length: 200 },
      (_, i) => `#r spam ${round}/${n}.${i}\n`,
    );
    await client.send(new TextEncoder().encode(lines.join("")));
    // Its last line's echo, or its LEAVE: then it stops.
    const line = await client.expect(
      new RegExp(`spam ${round}/${n}\\.199$|^#r LEAVE gus `),
      30_000,
    );
    if (line.startsWith("#r LEAVE")) return;
  }
}

Deno.test("a member muted in a room while it floods it from another server: none of its lines reaches the room after the MOD mute", async () => {
  await withCluster(2, async ([s0, s1]) => {
    using amy = await member(s0!, "amy");
    using gus = await member(s1!, "gus");
    await enter(amy, "#r");
    await enter(gus, "#r");
    // Three times: the lines its server handles while the mute goes
    // through Redis, before it reads it, come after the mute in the log.
    for (let round = 0; round < 3; round++) {
      const flood = floodUntilMuted(gus, round);
      await amy.expect(new RegExp(`^#r MSG gus spam ${round}/3\\.0$`), 30_000);
      await amy.send("#r /mute gus 10m enough");
      await amy.expect(/^#r MOD mute gus amy /, 30_000);
      await flood;
      await amy.send("#r /who");
      const after: string[] = [];
      while (true) {
        const line = await amy.expect(/^#r (MSG|WHO) /, 30_000);
        if (line.startsWith("#r WHO")) break;
        after.push(line);
      }
      assert.deepEqual(after, [], `round ${round}`);
      await amy.send("#r /unmute gus");
      await gus.expect(/^#r MOD unmute gus amy$/, 30_000);
      // Past every answer to the flood.
      await gus.send("#r /who");
      await gus.expect(/^#r WHO /, 30_000);
    }
  }, { args: ["--room-create", "any"] });
});

/** Sends `#r spam` lines, 200 at a time, until one is answered `ERR muted`. */
async function floodUntilMuted(client: TestClient, round: number) {
  for (let n = 0;; n++) {
    const lines = Array.from(
      { length: 200 },
      (_, i) => `#r spam ${round}/${n}.${i}\n`,
    );
    await client.send(new TextEncoder().encode(lines.join("")));
    const line = await client.expect(
      new RegExp(`spam ${round}/${n}\\.199$|^ERR muted `),
      30_000,
    );
    if (line.startsWith("ERR muted")) return;
  }
}
