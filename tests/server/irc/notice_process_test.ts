/**
 * A notice stays a notice end to end, with real `server.ts` processes: an
 * IRC client's `NOTICE` reaches other IRC clients as `NOTICE` (to the
 * channel, to a nick), live and in the history replayed to a later IRC
 * client, after a restart (from the data directory) and across two
 * servers on one real Redis; a native client without `notice` gets the
 * message it always got, one with it `NOTICE`/`PRIVNOTICE`.
 */

import assert from "node:assert/strict";
import {
  loopbackArgs,
  ServerProcess,
  TestClient,
  withTempDir,
  writeTestCertificates,
} from "../../_helpers.ts";
import { withCluster } from "../cluster/_cluster.ts";

/** The IRC port a server process printed in its `listening` line. */
async function ircPortOf(server: ServerProcess): Promise<number> {
  const line = await server.output.waitFor(/INFO listening /);
  return Number(/ irc=127\.0\.0\.1:(\d+)/.exec(line)![1]);
}

/** Registers on the IRC port as `nick`; returns the client after 366. */
async function ircJoin(port: number, nick: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.send(`NICK ${nick}`);
  await client.send("USER u 0 * :Real Name");
  await client.expect(new RegExp(` 366 ${nick} #lobby `));
  return client;
}

/** A native client with the `notice` capability, joined as `alias`. */
async function noticeMember(port: number, alias: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.expect(/^HELLO .*caps=[a-z+]*notice/);
  await client.send("/cap notice");
  await client.expect(/^CAP notice$/);
  await client.send(alias);
  await client.expect(/^WELCOME /);
  return client;
}

/** Starts `server.ts` with an IRC port on the data directory in `dir`. */
function start(dir: string): Promise<ServerProcess> {
  return ServerProcess.start(
    ["--allow-net=127.0.0.1", `--allow-read=${dir}`, `--allow-write=${dir}`],
    loopbackArgs(dir, "--irc-port", "0", "--flood-rate", "0"),
  );
}

Deno.test("IRC door (processes): a NOTICE reaches IRC clients as NOTICE, to the channel and to a nick, live and replayed (after a restart too); native clients get MSG and PRIV, or NOTICE and PRIVNOTICE with the notice capability", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    {
      await using server = await start(dir);
      try {
        const ircPort = await ircPortOf(server);
        using carol = await TestClient.join(server.port, "carol");
        using alice = await ircJoin(ircPort, "alice");
        using bob = await ircJoin(ircPort, "bob");
        await alice.send("NOTICE #lobby :build 42 passed");
        assert.match(
          await bob.expect(/ #lobby :build 42 passed$/),
          /^:alice!alice@tlschat NOTICE #lobby :build 42 passed$/,
        );
        await carol.expect(/^MSG alice build 42 passed$/);
        await alice.send("NOTICE bob :your build passed");
        assert.match(
          await bob.expect(/ :your build passed$/),
          /^:alice!alice@tlschat NOTICE bob :your build passed$/,
        );
        await alice.send("NOTICE carol :psst");
        await carol.expect(/^PRIV alice psst$/);
        // A PRIVMSG is still one.
        await alice.send("PRIVMSG #lobby :a message");
        await bob.expect(/^:alice!alice@tlschat PRIVMSG #lobby :a message$/);
        using eve = await ircJoin(ircPort, "eve");
        assert.deepEqual(
          eve.received.filter((line) => / (PRIVMSG|NOTICE) #lobby /.test(line)),
          [
            ":alice!alice@tlschat NOTICE #lobby :build 42 passed",
            ":alice!alice@tlschat PRIVMSG #lobby :a message",
          ],
        );
        // A native client that asked for notices gets them as such.
        using dave = await noticeMember(server.port, "dave");
        await dave.expect(/^HIST \d+ \S+ NOTICE alice build 42 passed$/);
        await dave.expect(/^HIST \d+ \S+ MSG alice a message$/);
        await alice.send("NOTICE #lobby :build 43 passed");
        await dave.expect(/^NOTICE alice build 43 passed$/);
        await carol.expect(/^MSG alice build 43 passed$/);
        await alice.send("NOTICE dave :psst");
        await dave.expect(/^PRIVNOTICE alice psst$/);
        await dave.send("/privnotice alice hi");
        await dave.expect(/^SENTNOTICE alice hi$/);
        await alice.expect(/^:dave!dave@tlschat NOTICE alice :hi$/);
        await dave.send("/notice all set");
        await dave.expect(/^NOTICE dave all set$/);
        await alice.expect(/^:dave!dave@tlschat NOTICE #lobby :all set$/);
        await carol.expect(/^MSG dave all set$/);
      } catch (e) {
        throw server.annotate(e);
      }
    }
    // Stored in the data directory as a notice: replayed as one.
    await using again = await start(dir);
    try {
      using frank = await ircJoin(await ircPortOf(again), "frank");
      assert.deepEqual(
        frank.received.filter((line) => / (PRIVMSG|NOTICE) #lobby /.test(line)),
        [
          ":alice!alice@tlschat NOTICE #lobby :build 42 passed",
          ":alice!alice@tlschat PRIVMSG #lobby :a message",
          ":alice!alice@tlschat NOTICE #lobby :build 43 passed",
          ":dave!dave@tlschat NOTICE #lobby :all set",
        ],
      );
      using gina = await TestClient.join(again.port, "gina");
      await gina.send("/history");
      await gina.expect(/^HIST \d+ \S+ MSG alice build 42 passed$/);
      await gina.expect(/^HIST \d+ \S+ MSG dave all set$/);
      using hal = await noticeMember(again.port, "hal");
      await hal.expect(/^HIST \d+ \S+ NOTICE alice build 42 passed$/);
      await hal.expect(/^HIST \d+ \S+ NOTICE dave all set$/);
    } catch (e) {
      throw again.annotate(e);
    }
  });
});

Deno.test("IRC door (two servers on one Redis): a NOTICE from an IRC client on one server reaches an IRC client on the other as NOTICE, to the channel, to its nick, and in the history replayed there", async () => {
  await withCluster(2, async ([one, two]) => {
    const [portOne, portTwo] = [await ircPortOf(one!), await ircPortOf(two!)];
    using alice = await ircJoin(portOne, "alice");
    using bob = await ircJoin(portTwo, "bob");
    await alice.send("NOTICE #lobby :deploy done");
    assert.match(
      await bob.expect(/ :deploy done$/),
      /^:alice!alice@tlschat NOTICE #lobby :deploy done$/,
    );
    await alice.send("NOTICE bob :your deploy is done");
    assert.match(
      await bob.expect(/ :your deploy is done$/),
      /^:alice!alice@tlschat NOTICE bob :your deploy is done$/,
    );
    using carol = await TestClient.join(two!.port, "carol");
    await carol.expect(/^HIST \d+ \S+ MSG alice deploy done$/);
    using dave = await ircJoin(portTwo, "dave");
    assert.deepEqual(
      dave.received.filter((line) => / (PRIVMSG|NOTICE) #lobby /.test(line)),
      [":alice!alice@tlschat NOTICE #lobby :deploy done"],
    );
  }, { args: ["--irc-port", "0"] });
});
