/**
 * The cluster's Lua scripts and epoch, against a real Redis
 * (`redis-server` on a free loopback port), driven through `Cluster` and
 * `RedisLink` in this process: claims asked again, renames and leaves that
 * cross, and a Redis that lost the cluster's state.
 */

import assert from "node:assert/strict";
import { systemClock } from "../../lib/clock.ts";
import { createLogger } from "../../lib/log.ts";
import { Cluster } from "../../lib/server/cluster.ts";
import { RedisLink, SCRIPTS } from "../../lib/server/redis.ts";
import { withTempDir } from "../_helpers.ts";
import { Redis } from "../_redis.ts";

/** A link and a cluster on a fresh Redis; closed after `body`. */
async function withLink(
  body: (link: RedisLink, cluster: Cluster, logged: string[]) => Promise<void>,
) {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const logged: string[] = [];
    const log = createLogger("info", (line) => logged.push(line));
    const link = await RedisLink.open({
      url: redis.url(),
      cluster: "t",
      keep: 1000,
      log,
    });
    const cluster = new Cluster(link, { clock: systemClock, log });
    await cluster.start(() => {});
    try {
      await body(link, cluster, logged);
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
    assert.deepEqual(await cluster.who(), { online: 0, aliases: [] });
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
    assert.deepEqual(await cluster.who(), { online: 0, aliases: [] });
    assert.deepEqual(await events(link), [
      "JOIN alice",
      "LEAVE alice disconnect",
    ]);
  });
});

Deno.test("a Redis that lost the cluster's state refuses old changes once, then the room starts afresh", async () => {
  await withLink(async (link, cluster, logged) => {
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
    assert.match(logged.join("\n"), / ERROR redis-state-lost /);
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
    // A beat says whether the server was missing (new, or counted lost).
    assert.deepEqual(await run("beat", ["other", "5000", "2000"]), [1]);
    assert.deepEqual(await run("beat", ["other", "5000", "2000"]), [0]);
    // Another server's deadline is not past: evicting it does nothing.
    assert.equal(await run("evict", ["other", "server-lost", "0", "0"]), -1);
    // A server whose deadline passed is reported, and can be evicted.
    await link.command(["ZADD", servers, "1", "gone"]);
    assert.deepEqual(await run("beat", ["other", "5000", "2000"]), [
      0,
      "gone",
    ]);
    // Nobody beat for longer than the gap (Redis paused, or down): for a
    // while after, no one is reported lost, so that all can beat again.
    await link.command(["SET", link.keys.lastbeat, "1"]);
    assert.deepEqual(await run("beat", ["other", "5000", "2000"]), [0]);
    assert.deepEqual(await run("beat", ["other", "5000", "2000"]), [0]);
    assert.equal(await run("evict", ["gone", "server-lost", "0", "0"]), 0);
    // Evicted while alive: its next beat finds it missing.
    await run("evict", ["other", "server-lost", "0", "1"]);
    assert.deepEqual(await run("beat", ["other", "5000", "2000"]), [1]);
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
    assert.deepEqual(await cluster.who(), { online: 0, aliases: [] });
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
    await link.run("beat", ["other", "5000", "2000"]);
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
      keys.serverMembers(cluster.server),
    ]);
    const held = await link.command(["KEYS", "*"]) as string[];
    assert.deepEqual(held.filter((key) => !named.has(key)), []);
    assert.ok(held.includes(keys.lastbeat));
  });
});
