/**
 * The cluster's Lua scripts and epoch, against a real Redis
 * (`redis-server` on a free loopback port), driven through `Cluster`,
 * `RedisLink` and `RedisLog` in this process: claims asked again, renames
 * and leaves that cross, lines stored once by id and only from members who
 * are still in the room, appends while Redis hangs, and a Redis that lost
 * the cluster's state.
 */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/clock.ts";
import { createLogger } from "../../../lib/log.ts";
import { Cluster, NotBeating } from "../../../lib/server/cluster/cluster.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import { RedisLink } from "../../../lib/server/cluster/redis.ts";
import { SCRIPTS } from "../../../lib/server/cluster/scripts.ts";
import { RedisLog } from "../../../lib/server/cluster/redis_log.ts";
import {
  type AppendOutcome,
  lineSign,
  type RoomLine,
} from "../../../lib/server/room/room_log.ts";
import { LineLog, withTempDir } from "../../_helpers.ts";
import { Redis } from "../../_redis.ts";

/** The server's defaults, for the cluster's limits (under the config's names). */
const DEFAULTS = parseServerArgs([]);

/**
 * A link (commands answered within `timeoutMs`) and a cluster (beating
 * every `heartbeatMs`) on a fresh Redis; closed after `body`. What they
 * log, debug included, is in `logged`.
 */
async function withLink(
  body: (
    link: RedisLink,
    cluster: Cluster,
    logged: LineLog,
    redis: Redis,
  ) => Promise<void>,
  timeoutMs?: number,
  heartbeatMs = DEFAULTS.heartbeatMs,
) {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const logged = new LineLog();
    const log = createLogger("debug", (line) => logged.push(line));
    const link = await RedisLink.open({
      ...DEFAULTS,
      url: redis.url(),
      cluster: "t",
      streamEntries: 1000,
      redisTimeoutMs: timeoutMs ?? DEFAULTS.redisTimeoutMs,
      log,
    });
    const cluster = new Cluster(link, {
      ...DEFAULTS,
      clock: systemClock,
      log,
      heartbeatMs,
    });
    await cluster.start(() => {});
    try {
      await body(link, cluster, logged, redis);
    } finally {
      await cluster.stop();
      await link.close();
    }
  });
}

function member(id: string, alias: string) {
  return { id, alias, account: null, host: "127.0.0.1", operator: false };
}

/** The room lines in the stream, as `TYPE alias[ new]`, oldest first. */
async function events(link: RedisLink): Promise<string[]> {
  const entries = await link.commands.sendCommand([
    "XRANGE",
    link.keys.events,
    "-",
    "+",
  ]) as [string, string[]][];
  return entries.map(([, fields]) => {
    const line = JSON.parse(fields[fields.indexOf("l") + 1]!);
    return [line.type, line.alias, line.newAlias ?? line.reason]
      .filter((f) => f !== undefined).join(" ");
  });
}

Deno.test("a server counted lost and not yet told beats at once when a claim or takeover is refused for it, and is in the cluster again", async () => {
  // A heartbeat a minute apart: only the beat the refusal asks for can
  // bring it back within the test.
  await withLink(
    async (link, cluster, logged) => {
      // The others counted it lost (the evict script takes it off the list).
      assert.equal(
        await link.command(["ZREM", link.keys.servers, cluster.server]),
        1,
      );
      await assert.rejects(
        cluster.claim(member("s/1", "alice"), "alice", null, false),
        NotBeating,
      );
      await logged.waitFor(/WARN counted-lost /);
      assert.equal(
        (await cluster.claim(member("s/1", "alice"), "alice", null, false)).ok,
        true,
      );
      assert.equal(
        await link.command(["ZREM", link.keys.servers, cluster.server]),
        1,
      );
      await assert.rejects(
        cluster.takeOver({ tokenHash: "00", roomsOn: false }),
        NotBeating,
      );
      await logged.waitFor(/WARN counted-lost /, { count: 2 });
    },
    undefined,
    60_000,
  );
});

Deno.test("a claim asked again changes nothing; a leave follows a rename in flight; a rename of someone removed is refused", async () => {
  await withLink(async (link, cluster) => {
    const alice = member("s/1", "alice");
    assert.deepEqual(await cluster.claim(alice, "alice", null, false), {
      ok: true,
      online: "1",
      seq: 1,
    });
    // Its answer was lost, so it is asked again: no second JOIN.
    assert.deepEqual(await cluster.claim(alice, "alice", null, false), {
      ok: true,
      online: "1",
      seq: 1,
    });
    // A rename still on its way when the member leaves: the leave, by id,
    // takes the new alias with it.
    const renaming = cluster.claim(alice, "alicia", "alice", false);
    cluster.leave(alice, "quit", "");
    assert.equal((await renaming).ok, true);
    assert.equal(await link.command(["HLEN", link.keys.members]), 0);
    // Kicked on another server while renaming: the rename is refused, and
    // the new alias is not held by anyone.
    const bob = member("s/2", "bob");
    await cluster.claim(bob, "bob", null, false);
    assert.equal(await cluster.remove(bob.id, "kicked", "Kicked"), true);
    assert.deepEqual(await cluster.claim(bob, "robert", "bob", false), {
      ok: false,
      gone: true,
    });
    assert.equal(await cluster.find("robert"), null);
    // A server that is not beating (not yet, or counted lost) claims
    // nothing: no one would ever evict what it held.
    const silent = new Cluster(link, {
      ...DEFAULTS,
      clock: systemClock,
      log: createLogger("error", () => {}),
    });
    await assert.rejects(
      silent.claim(member("t/1", "carol"), "carol", null, false),
      /not beating/,
    );
    assert.deepEqual(await events(link), [
      "JOIN alice",
      "NICK alice alicia",
      "LEAVE alicia quit",
      "JOIN bob",
      "LEAVE bob kicked",
    ]);
  });
});

Deno.test("a join whose claim ran but whose answer was lost leaves no alias held", async () => {
  await withLink(async (link, cluster) => {
    // The script runs in Redis; its answer is lost on the way back.
    const run = link.run.bind(link);
    link.run = async (script, args) => {
      const answer = await run(script, args);
      if (script === "claim") throw new Error("Socket closed unexpectedly");
      return answer;
    };
    await assert.rejects(
      cluster.claim(member("s/1", "alice"), "alice", null, false),
      /Socket closed/,
    );
    // The leave for its id went out right after, on the same connection.
    assert.equal(await link.command(["HLEN", link.keys.members]), 0);
    assert.deepEqual(await events(link), [
      "JOIN alice",
      "LEAVE alice disconnect",
    ]);
  });
});

/**
 * {@linkcode withLink} whose cluster beats as it starts, then not for an
 * hour (but on a reset): a heartbeat between a test's FLUSHALL and its
 * next claim would learn of the loss first (resets the cluster), and the
 * claim would not be refused.
 */
const withLinkNoBeat = (body: Parameters<typeof withLink>[0]) =>
  withLink(body, undefined, 3_600_000);

Deno.test("a Redis that lost the cluster's state refuses old changes once, then the room starts afresh", async () => {
  await withLinkNoBeat(async (link, cluster, logged) => {
    let resets = 0;
    cluster.onReset(() => resets++);
    await cluster.claim(member("s/1", "alice"), "alice", null, false);
    await link.commands.sendCommand(["FLUSHALL"]);
    // Alice's claim is gone with the data: a new claim on the old epoch is
    // refused, and the server learns of the loss (once).
    await assert.rejects(
      cluster.claim(member("s/2", "bob"), "bob", null, false),
      /^Error: EPOCH/,
    );
    assert.equal(resets, 1);
    assert.match(`${logged}`, / ERROR redis-state-lost /);
    assert.deepEqual(
      await cluster.claim(member("s/2", "bob"), "bob", null, false),
      { ok: true, online: "1", seq: 1 },
    );
    assert.deepEqual(await events(link), ["JOIN bob"]);
    // Nothing was lost since: checking again changes nothing.
    await link.checkEpoch();
    assert.equal(resets, 1);
  });
});

Deno.test("servers are judged by Redis's clock: a beat that landed saves a server; after a silence nobody is judged at once", async () => {
  await withLink(async (link, cluster) => {
    const run = (script: "beat" | "evict", args: string[]) =>
      link.run(script, args);
    const servers = link.keys.servers;
    await cluster.claim(member("s/1", "alice"), "alice", null, false);
    // A beat (alive for 5 s, silence is 2 s, a grace of 5 s after one)
    // says whether the server was missing (new, or counted lost), and how
    // many servers are alive (this cluster's own too).
    assert.deepEqual(await run("beat", ["other", "5000", "2000", "5000"]), [
      1,
      2,
    ]);
    assert.deepEqual(await run("beat", ["other", "5000", "2000", "5000"]), [
      0,
      2,
    ]);
    // Another server's deadline is not past: evicting it does nothing.
    assert.equal(await run("evict", ["other", "server-lost", "0", "0"]), -1);
    // A server whose deadline passed is reported (not counted alive),
    // and can be evicted.
    await link.command(["ZADD", servers, "1", "gone"]);
    assert.deepEqual(await run("beat", ["other", "5000", "2000", "5000"]), [
      0,
      2,
      "gone",
    ]);
    // Nobody beat for longer than the gap (Redis paused, or down): for a
    // while after, no one is reported lost, so that all can beat again.
    await link.command(["SET", link.keys.lastbeat, "1"]);
    assert.deepEqual(await run("beat", ["other", "5000", "2000", "5000"]), [
      0,
      2,
    ]);
    assert.deepEqual(await run("beat", ["other", "5000", "2000", "5000"]), [
      0,
      2,
    ]);
    assert.equal(await run("evict", ["gone", "server-lost", "0", "0"]), 0);
    // Evicted while alive: its next beat finds it missing.
    await run("evict", ["other", "server-lost", "0", "1"]);
    assert.deepEqual(await run("beat", ["other", "5000", "2000", "5000"]), [
      1,
      2,
    ]);
  });
});

Deno.test("Redis that went back in time under the same epoch: the cluster starts afresh", async () => {
  await withLink(async (link, cluster) => {
    let resets = 0;
    cluster.onReset(() => resets++);
    await cluster.claim(member("s/1", "alice"), "alice", null, false);
    // This server had handed on up to number 9; Redis says 1.
    await link.checkEpoch(1);
    assert.equal(resets, 0, "as far as it was: nothing to do");
    await link.checkEpoch(9);
    assert.equal(resets, 1);
    assert.deepEqual(await events(link), [], "what was left is wiped");
    assert.equal(await link.command(["HLEN", link.keys.members]), 0);
  });
});

Deno.test("the scripts take their keys from TypeScript: Redis holds no key it did not name", async () => {
  // Key names are made once (clusterKeys) and passed to every script.
  for (const [name, body] of Object.entries(SCRIPTS)) {
    assert.doesNotMatch(body, /tlschat:|}:/, `script ${name} builds a key`);
  }
  await withLink(async (link, cluster) => {
    const alice = member(`${cluster.server}/1`, "alice");
    await cluster.claim(alice, "alice", null, false);
    await link.run("beat", ["other", "5000", "2000", "5000"]);
    await link.run("append", ["10", ...line("one-0123456789abcdef", alice)]);
    const { keys } = link;
    const named = new Set([
      keys.events,
      keys.seq,
      keys.members,
      keys.skeletons,
      keys.order,
      keys.ids,
      keys.epoch,
      keys.servers,
      keys.lastbeat,
      keys.format,
      keys.serverMembers(cluster.server),
      keys.roomMembers,
      keys.roomSizes,
      keys.recent(DEFAULTS.defaultRoom),
      keys.lineIds,
      keys.lineSigns,
    ]);
    const held = await link.command(["KEYS", "*"]) as string[];
    assert.deepEqual(held.filter((key) => !named.has(key)), []);
    assert.ok(held.includes(keys.lastbeat));
  });
});

/** The id kept with the stream's line number `seq`. */
async function idOf(link: RedisLink, seq: number) {
  const entries = await link.command([
    "XRANGE",
    link.keys.events,
    `${seq}-0`,
    `${seq}-0`,
  ]) as [string, string[]][];
  const fields = entries[0]?.[1] ?? [];
  return fields[fields.indexOf("i") + 1];
}

/**
 * An `append` script line: MSG `text` from `who`, speaking as `alias`,
 * appended by the append tagged `tag`.
 */
function line(
  id: string,
  who: { id: string; alias: string },
  alias = who.alias,
  text = "hi",
  tag = "first",
) {
  const msg = { type: "MSG" as const, alias, text };
  return [
    "0",
    who.id,
    alias,
    JSON.stringify(msg),
    "",
    "",
    id,
    lineSign(msg),
    tag,
    "",
    "MSG",
    "",
  ];
}

Deno.test("the append script stores each line id once, and only from a member who holds its alias on a live server", async () => {
  await withLink(async (link, cluster) => {
    const append = (keep: number, ...lines: string[][]) =>
      link.run("append", [String(keep), ...lines.flat()]);
    const alice = member(`${cluster.server}/1`, "alice");
    await cluster.claim(alice, "alice", null, false); // 1: JOIN
    const [one, two, three] = ["one", "two", "three"].map((n) =>
      `${n}-0123456789abcdef`
    );
    // The last number, then each line's: a repeated id is not stored
    // again (the same line from another append: a duplicate, with the
    // number and time of the line stored, its echo's tags; another line
    // under it: reused).
    assert.deepEqual(
      await append(
        10,
        line(one!, alice),
        line(one!, alice, "alice", "hi", "resent"),
        line(one!, alice, "alice", "not hi", "other"),
        line(two!, alice),
      ),
      [3, 2, "duplicate:2:0", "reused", 3],
    );
    // The same append asked again (its answer was lost): nothing is stored
    // twice, and it knows its own lines.
    assert.deepEqual(
      await append(10, line(one!, alice), line(two!, alice)),
      [3, 2, 3],
    );
    assert.deepEqual(
      await link.command(["HGET", link.keys.lineSigns, one!]),
      `${lineSign({ type: "MSG", alias: "alice", text: "hi" })}:first`,
    );
    // Speaking under an alias it gave up (a rename landed meanwhile).
    await cluster.claim(alice, "alicia", "alice", false); // 4: NICK
    assert.deepEqual(await append(10, line(three!, alice, "alice")), [
      4,
      "alias",
    ]);
    // Removed elsewhere (a kick on another server): gone.
    const bob = member(`${cluster.server}/2`, "bob");
    await cluster.claim(bob, "bob", null, false); // 5: JOIN
    await cluster.remove(bob.id, "kicked", "Kicked"); // 6: LEAVE
    assert.deepEqual(await append(10, line(three!, bob)), [6, "gone"]);
    // Holding a claim on a server that was counted lost: gone.
    const ghost = { ...member("ghost/1", "ghost"), server: "ghost" };
    await link.command([
      "HSET",
      link.keys.members,
      "ghost",
      JSON.stringify(ghost),
    ]);
    await link.command(["HSET", link.keys.ids, ghost.id, "ghost"]);
    assert.deepEqual(await append(10, line(three!, ghost)), [6, "gone"]);
    // Ids are kept in a bounded set: past it, the oldest are forgotten.
    assert.deepEqual(await append(2, line(three!, alice, "alicia")), [7, 7]);
    assert.equal(await link.command(["ZCARD", link.keys.lineIds]), 2);
    assert.equal(await link.command(["HLEN", link.keys.lineSigns]), 2);
    assert.deepEqual(await append(2, line(one!, alice, "alicia")), [8, 8]);
    assert.deepEqual(await events(link), [
      "JOIN alice",
      "MSG alice",
      "MSG alice",
      "NICK alice alicia",
      "JOIN bob",
      "LEAVE bob kicked",
      "MSG alicia",
      "MSG alicia",
    ]);
    // The stream keeps each line's id.
    assert.equal(await idOf(link, 2), one);
  });
});

Deno.test("RedisLog: an append Redis did not answer is sent again and stored once, lines behind it wait; past the retry time it is reported unknown, and lines after it are refused unwritten until Redis answers", async () => {
  await withLink(async (link, cluster, logged, redis) => {
    const roomLog = await RedisLog.open(link, {
      ...DEFAULTS,
      clock: systemClock,
      keep: 100,
      redisRetryMs: 1000,
      log: createLogger("debug", (line) => logged.push(line)),
    });
    const seen = new LineLog();
    const reports: string[] = [];
    let reported = Promise.withResolvers<void>();
    roomLog.subscribe(
      (event) => {
        if (event.line.type === "MSG") seen.push(event.line.text);
      },
      (lines, outcome: AppendOutcome) => {
        const texts = lines.map((l) => (l.line as { text: string }).text);
        reports.push(`${outcome}: ${texts.join(" ")}`);
        reported.resolve();
      },
    );
    const alice = member(`${cluster.server}/1`, "alice");
    await cluster.claim(alice, "alice", null, false);
    const say = (text: string, id?: string) => {
      const line: RoomLine = { type: "MSG", alias: "alice", text };
      roomLog.append(line, alice.id, { id });
    };
    try {
      say("one");
      await roomLog.settled();
      // Paused past the command deadline (200 ms), not the retry time: it
      // is sent again; a line appended meanwhile waits behind it.
      redis.pause();
      say("two");
      await logged.waitFor(/DEBUG history-in-doubt /);
      say("three");
      redis.resume();
      await roomLog.settled();
      assert.deepEqual(seen.lines, ["one", "two", "three"]);
      assert.deepEqual(reports, []);
      // Paused past the retry time: unknown. A line appended after that is
      // not written while Redis does not answer: surely not sent.
      redis.pause();
      say("four");
      await reported.promise;
      reported = Promise.withResolvers();
      say("five");
      await reported.promise;
      assert.deepEqual(reports, ["unknown: four", "refused: five"]);
      // Awake, Redis runs what it was sent before: "four" was stored, once.
      redis.resume();
      await seen.waitFor(/^four$/);
      say("six");
      await roomLog.settled();
      assert.deepEqual(seen.lines, ["one", "two", "three", "four", "six"]);
      // A resend with the same id is not stored again, and is reported.
      reported = Promise.withResolvers();
      say("four", await idOf(link, 5)); // 1 is alice's JOIN
      await reported.promise;
      assert.equal(reports.at(-1), "duplicate: four");
      // Redis gone, and the link knows it (a command failed since): surely
      // not sent, at once.
      await redis.stop();
      await assert.rejects(link.command(["PING"]));
      reported = Promise.withResolvers();
      say("seven");
      await reported.promise;
      assert.equal(reports.at(-1), "refused: seven");
      await redis.start();
      await logged.waitFor(/INFO redis-reconnected/, { timeoutMs: 10_000 });
    } finally {
      redis.resume();
      await roomLog.close();
    }
    assert.deepEqual(seen.lines, ["one", "two", "three", "four", "six"]);
  }, 200);
});

Deno.test("a token's hash moves a claim to another server once, telling the old one; the hash follows a rename; the old server's late leave is refused", async () => {
  await withLink(async (link, cluster) => {
    const old = new Cluster(link, {
      ...DEFAULTS,
      clock: systemClock,
      log: createLogger("error", () => {}),
    });
    const told = Promise.withResolvers<unknown>();
    await old.start((message) => told.resolve(message));
    try {
      const alice = member(`${old.server}/1`, "alice");
      await old.claim(alice, "alice", null, false);
      const hash = "ab".repeat(32);
      await old.mark(alice, { tokenHash: hash, away: true });
      assert.equal((await cluster.find("alice"))?.away, true);
      // Renamed: its token and its hold go with the claim.
      await old.claim(alice, "alicia", "alice", false);
      assert.equal(
        await link.command(["HGET", link.keys.tokens, hash]),
        "alicia",
      );
      assert.equal((await cluster.find("alicia"))?.away, true);
      // A taker with rooms cannot be a member without.
      assert.equal(
        await cluster.takeOver({ tokenHash: hash, roomsOn: true }),
        null,
      );
      const [first, second] = await Promise.all([
        cluster.takeOver({ tokenHash: hash, roomsOn: false }),
        cluster.takeOver({ tokenHash: hash, roomsOn: false }),
      ]);
      assert.equal(second, null, "one token, one takeover");
      assert.equal(first?.id, alice.id);
      assert.equal(first?.server, cluster.server);
      assert.equal(first?.away, undefined);
      assert.equal(first?.resume, undefined);
      assert.deepEqual(await told.promise, { kind: "moved", id: alice.id });
      assert.equal(await link.command(["HGET", link.keys.tokens, hash]), null);
      // The old server's leave for that id (its grace ran out) is refused;
      // the new server's goes through.
      const leave = (server: string) =>
        link.run("leave", ["", alice.id, "quit", "", "", "0", server]);
      assert.equal(await leave(old.server), 0);
      assert.equal((await cluster.find("alicia"))?.server, cluster.server);
      assert.equal(await leave(cluster.server), 1);
      assert.deepEqual(await events(link), [
        "JOIN alice",
        "NICK alice alicia",
        "LEAVE alicia quit",
      ]);
      // An account's login takes over only its own alias, with a token.
      const bob = { ...member(`${old.server}/2`, "bob"), account: "bob" };
      await old.claim(bob, "bob", null, true);
      assert.equal(
        await cluster.takeOver({ account: "bob", roomsOn: false }),
        null,
      );
      const bobs = "cd".repeat(32);
      await old.mark(bob, { tokenHash: bobs, away: false });
      // Used up by a takeover on its own server: its hash goes too.
      await old.mark(bob, { tokenHash: null, away: false });
      assert.equal(await link.command(["HGET", link.keys.tokens, bobs]), null);
      const byHash = { tokenHash: bobs, roomsOn: false };
      assert.equal(await cluster.takeOver(byHash), null);
      assert.equal(
        await cluster.takeOver({ account: "bob", roomsOn: false }),
        null,
      );
      await old.mark(bob, { tokenHash: "ef".repeat(32), away: false });
      assert.equal(
        (await cluster.takeOver({ account: "bob", roomsOn: false }))?.id,
        bob.id,
      );
    } finally {
      await old.stop();
    }
  });
});
