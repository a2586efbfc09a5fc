/**
 * A room made again is a new room on every server of a cluster, and on one
 * started later (which takes where it begins from Redis): nobody there
 * finds or is caught up with a line of the room that vanished; made again
 * and registered, it begins there after every server restarted too.
 */

import assert from "node:assert/strict";
import type { ServerProcess } from "../../_helpers.ts";
import {
  member,
  register,
  search,
  secretRoom,
  strangerReads,
  upTo,
} from "../_incarnation_members.ts";
import { addAccount, startServer, withCluster } from "./_cluster.ts";

/** What `alias` on `server`, resuming `#vault` from 0, is sent on joining it. */
async function enter(server: ServerProcess, alias: string, epoch: string) {
  const { client } = await member(
    server.port,
    alias,
    `/resume ${epoch} #vault=0`,
  );
  await client.send("/join #vault");
  const lines = await upTo(client, /^CURRENT #vault$/);
  return { client, lines };
}

Deno.test("a room made again in a cluster is a new room on every server, and on one started later", async () => {
  await withCluster(2, async ([s0, s1], redis, dir) => {
    const amy = await member(s0!.port, "amy");
    const { epoch } = amy;
    using a = amy.client;
    await a.send("/join #vault");
    await a.expect(/^CURRENT #vault$/);
    await a.send("#vault /inviteonly on");
    await a.expect(/#vault MOD invite-only /);
    await a.send("#vault zanzibar old secret");
    await a.expect(/#vault MSG amy zanzibar old secret$/);
    await a.send("/part #vault");
    await a.expect(/#vault LEAVE amy /);
    using m = (await member(s0!.port, "mallory")).client;
    for (;;) { // refused while the old room is still there
      await m.send("/join #vault");
      const got = await m.expect(/^(ERR room-invite-only |CURRENT #vault$)/);
      if (got.startsWith("CURRENT")) break;
    }
    await m.send("#vault zanzibar new");
    await m.expect(/#vault MSG mallory zanzibar new$/);
    await using s2 = await startServer(dir, "s2", redis, ["--room-grace", "0"]);
    // Its new index takes back what the stream holds, the old room's too.
    await s2.output.waitFor(/INFO search-caught-up /);
    for (const [server, alias] of [[s1!, "bob"], [s2, "carol"]] as const) {
      const { client, lines } = await enter(server, alias, epoch);
      using _ = client;
      const seen = `${alias}:\n${lines.join("\n")}`;
      assert.ok(lines.includes("#vault MSG mallory zanzibar new"), seen);
      assert.ok(!lines.some((l) => /amy|old|invite-only|expire/.test(l)), seen);
      assert.match(lines.at(-2)!, /^#vault RESUMED \d+ 0 /);
      // Only the new room's line, on a server started later too (whose
      // index took the old room's line back from the stream).
      assert.deepEqual(await search(client, "zanzibar"), [
        "FOUND #vault MSG mallory zanzibar new",
        "FOUNDEND 1 End of search: 1 line",
      ]);
    }
  }, { args: ["--room-grace", "0"] });
});

Deno.test("a registered room made again in a cluster begins there after every server restarted", async () => {
  const args = ["--room-grace", "0", "--room-create", "any"];
  await withCluster(1, async ([s0], redis, dir) => {
    using a = (await member(s0!.port, "amy")).client;
    await secretRoom(a, "#reg", "old quokka");
    await a.send("/part #reg");
    await a.expect(/#reg LEAVE amy /);
    await register(s0!.port, "#reg", "new quokka", "opal's password");
    s0!.child.kill("SIGTERM");
    assert.equal((await s0!.exited()).code, 0);
    await using again = await startServer(dir, "s0", redis, args);
    const { joined, history, found } = await strangerReads(
      again.port,
      "#reg",
      "quokka",
    );
    for (const lines of [joined, history]) {
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0]!, /^#reg HIST \d+ \S+Z MSG opal new quokka$/);
    }
    assert.deepEqual(found, [
      "FOUND #reg MSG opal new quokka",
      "FOUNDEND 1 End of search: 1 line",
    ]);
  }, { args, before: (dir) => addAccount(dir, "s0", "opal") });
});
