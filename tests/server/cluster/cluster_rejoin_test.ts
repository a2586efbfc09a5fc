/**
 * An account's rooms at login in a cluster: its membership of a temporary
 * room ends when the room vanishes (every server applies its `MOD
 * expire`), so logging in again it is not put into the room made again on
 * another server (keyed, invite-only) nor sent its lines; a temporary room
 * that lives on (its other member on the other server) is rejoined. A
 * server down while the room vanished (it never applied the `MOD expire`)
 * does not rejoin it either: the room made again is another incarnation
 * than the one the account joined. An account's rooms come back whichever
 * server it logs into (Redis keeps them), a part on one server included.
 */

import assert from "node:assert/strict";
import { joinAgain, member, upTo } from "../_incarnation_members.ts";
import { addAccount, startServer, withCluster } from "./_cluster.ts";
import type { TestClient } from "../../_helpers.ts";
import { STALE_ROOMS_TEXT } from "../../../lib/server/room/room_commands.ts";

const PASSWORD = "alice's password";

Deno.test("cluster: an account is not put at login into its room that vanished and was made again on another server; a live room is rejoined", async () => {
  await withCluster(2, async ([s0, s1]) => {
    using bob = (await member(s1!.port, "bob")).client;
    await bob.send("/join #live");
    await bob.expect(/^CURRENT #live$/);
    {
      using a = (await member(s0!.port, "alice", undefined, PASSWORD)).client;
      for (const room of ["#kx", "#live"]) {
        await a.send(`/join ${room}`);
        await a.expect(new RegExp(`^CURRENT ${room}$`));
      }
      await a.send("#kx /inviteonly on"); // eve waits until it vanished
      await a.expect(/#kx MOD invite-only /);
      await a.send("/quit");
      await a.readToEnd();
    }
    using eve = (await member(s1!.port, "eve")).client;
    for (;;) {
      await eve.send("/join #kx");
      const got = await eve.expect(/^(ERR room-invite-only |CURRENT #kx$)/);
      if (got.startsWith("CURRENT")) break;
    }
    for (const line of ["/key sekritkey", "/inviteonly on"]) {
      await eve.send(`#kx ${line}`);
      await eve.expect(/#kx MOD /);
    }
    await eve.send("#kx new room private plans");
    await eve.expect(/#kx MSG eve new room private plans$/);

    using a = (await member(s0!.port, "alice", undefined, PASSWORD)).client;
    await a.send("/rooms");
    const seen = await upTo(a, /^INFO \d+ rooms/);
    const text = seen.join("\n");
    assert.ok(seen.includes("#live JOIN alice 2"), text);
    assert.ok(!seen.some((l) => /^#kx |private plans/.test(l)), text);
    await a.send("/join #kx");
    await a.expect(/^ERR room-invite-only /);
  }, {
    before: (dir) => addAccount(dir, "s0", "alice"),
    args: ["--room-grace", "0", "--room-create", "any"],
  });
});

Deno.test("cluster: a server killed while its account's room vanished and was made again on another, started again, does not put the account into the new room at login", async () => {
  const args = ["--room-grace", "0", "--room-create", "any"];
  await withCluster(2, async ([s0, s1], redis, dir) => {
    using bob = (await member(s1!.port, "bob")).client;
    await bob.send("/join #live");
    await bob.expect(/^CURRENT #live$/);
    const a = (await member(s0!.port, "alice", undefined, PASSWORD)).client;
    for (const room of ["#kx", "#live"]) {
      await a.send(`/join ${room}`);
      await a.expect(new RegExp(`^CURRENT ${room}$`));
    }
    await a.send("#kx /inviteonly on");
    await a.expect(/#kx MOD invite-only /);
    await bob.expect(/#live JOIN alice 2$/);
    // s0 never applies #kx's MOD expire: it is down when alice is counted
    // lost and #kx vanishes.
    s0!.child.kill("SIGKILL");
    await s0!.exited();
    a[Symbol.dispose]();
    await bob.expect(/#live LEAVE alice \d+ server-lost/, 15_000);
    using eve = (await member(s1!.port, "eve")).client;
    await joinAgain(eve, "#kx");
    for (const line of ["/key sekritkey", "/inviteonly on"]) {
      await eve.send(`#kx ${line}`);
      await eve.expect(/#kx MOD /);
    }
    await eve.send("#kx new room private plans");
    await eve.expect(/#kx MSG eve new room private plans$/);

    await using again = await startServer(dir, "s0", redis, args);
    using back = (await member(again.port, "alice", undefined, PASSWORD))
      .client;
    await back.send("/rooms");
    const seen = await upTo(back, /^INFO \d+ rooms/);
    const text = seen.join("\n");
    assert.ok(seen.includes("#live JOIN alice 2"), text);
    assert.ok(!seen.some((l) => /^#kx |private plans/.test(l)), text);
    await back.send("/join #kx");
    await back.expect(/^ERR room-invite-only /);
  }, { before: (dir) => addAccount(dir, "s0", "alice"), args });
});

Deno.test("cluster: an account's rooms come back at login on another server than the one it joined them on, and a part there holds on the first", async () => {
  await withCluster(2, async ([s0, s1]) => {
    /** alice's rooms as `/rooms` lists them after logging in at `port`. */
    const roomsAt = async (port: number) => {
      using a = (await member(port, "alice", undefined, PASSWORD)).client;
      await a.send("/rooms");
      const seen = await upTo(a, /^INFO \d+ rooms?/);
      await a.send("/quit");
      await a.readToEnd();
      return seen;
    };
    using bob = (await member(s1!.port, "bob")).client;
    await bob.send("/join #kept");
    await bob.expect(/^CURRENT #kept$/);
    {
      using a = (await member(s0!.port, "alice", undefined, PASSWORD)).client;
      await a.send("/join #kept");
      await a.expect(/^CURRENT #kept$/);
      await a.send("/quit");
      await a.readToEnd();
    }
    await bob.send("#kept said while alice was away");
    await bob.expect(/#kept MSG bob said while alice was away$/);
    const onS1 = await roomsAt(s1!.port);
    assert.ok(onS1.includes("#kept JOIN alice 2"), onS1.join("\n"));
    assert.ok(onS1.includes("ROOM #kept 2 m"), onS1.join("\n"));
    {
      using a = (await member(s1!.port, "alice", undefined, PASSWORD)).client;
      await a.send("/part #kept");
      await a.expect(/#kept LEAVE alice 1 part$/);
      await a.send("/quit");
      await a.readToEnd();
    }
    const onS0 = await roomsAt(s0!.port);
    assert.ok(!onS0.some((l) => /^#kept /.test(l)), onS0.join("\n"));
  }, {
    before: async (dir) => {
      await addAccount(dir, "s0", "alice");
      await addAccount(dir, "s1", "alice");
    },
    args: ["--room-create", "any"],
  });
});

Deno.test("cluster: an account's rooms unread at login (Redis did not answer) come from the server's own list, the member is told, and the rooms joined on another server are not written over: they come back at the next login", async () => {
  await withCluster(2, async ([s0, s1], redis) => {
    /** alice logged in at `port`: her client, once in her rooms. */
    const alice = async (port: number) =>
      (await member(port, "alice", undefined, PASSWORD)).client;
    /** Her rooms as `/rooms` flags them hers (`m`), by name. */
    const hers = async (a: TestClient) => {
      await a.send("/rooms");
      const seen = await upTo(a, /^INFO \d+ rooms?/);
      return seen.filter((l) => / m$/.test(l)).map((l) => l.split(" ")[1])
        .sort();
    };
    const quit = async (a: TestClient) => {
      await a.send("/quit");
      await a.readToEnd();
    };
    {
      using a = await alice(s0!.port);
      await a.send("/join #a");
      await a.expect(/^CURRENT #a$/);
      await quit(a);
    }
    {
      using a = await alice(s1!.port);
      await a.expect(/ #a JOIN alice /);
      await a.send("/join #b");
      await a.expect(/^CURRENT #b$/);
      await quit(a);
    }
    // Back on s0, whose own list says #a only, while Redis does not answer
    // the read of her rooms (twice: --redis-timeout 0.3).
    redis.pause();
    let stale: TestClient;
    let told = false;
    try {
      const login = alice(s0!.port);
      await s0!.output.waitFor(/WARN room-not-stored /);
      redis.resume();
      stale = await login;
    } finally {
      redis.resume();
    }
    {
      using a = stale;
      await a.expect(/ #a JOIN alice /);
      assert.deepEqual(await hers(a), ["#a", "#lobby"]);
      told = a.received.includes(`INFO ${STALE_ROOMS_TEXT}`);
      await quit(a);
    }
    using a = await alice(s1!.port);
    assert.deepEqual(await hers(a), ["#a", "#b", "#lobby"]);
    assert.ok(told, "the member on s0 is told its rooms could not be read");
  }, {
    before: async (dir) => {
      await addAccount(dir, "s0", "alice");
      await addAccount(dir, "s1", "alice");
    },
    args: ["--room-create", "any", "--redis-timeout", "0.3"],
  });
});
