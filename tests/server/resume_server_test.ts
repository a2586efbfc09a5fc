/**
 * Resume over real TLS: a client with `resume` that gives where it was
 * (`/resume EPOCH POSITIONS`) is sent what it missed, tagged, then
 * `RESUMED`, instead of history; across a restart on the same data
 * directory too; a server whose log numbers anew (`--history 0`) says an
 * unknown number are missing, and how many lines retention deleted is
 * counted; a rename in a room other than the default one is caught up.
 */

import assert from "node:assert/strict";
import { openStore } from "../../lib/server/storage/store.ts";
import { startServer, TestClient, withTempDir } from "../_helpers.ts";

/** Connects with `resume` on, sends `/resume` when given, joins as `alias`. */
async function resumer(
  port: number,
  alias: string,
  resume?: string,
): Promise<{ client: TestClient; epoch: string }> {
  const client = await TestClient.connect(port);
  const hello = await client.expect(/^HELLO /);
  const epoch = /,epoch=([\w-]+)/.exec(hello)![1]!;
  await client.send("/cap resume");
  await client.expect(/^CAP seq resume$/);
  if (resume !== undefined) await client.send(resume);
  await client.send(alias);
  await client.expect(new RegExp(`^WELCOME ${alias} `));
  return { client, epoch };
}

/** The number of a tagged line. */
function seqOf(line: string): number {
  return Number(/^@seq=(\d+);/.exec(line)![1]);
}

Deno.test("serveChat() catches a resuming client up with what it missed, tagged, then RESUMED, across a restart on the same data directory", async () => {
  await withTempDir(async (dir) => {
    let last: number;
    let epoch: string;
    {
      using store = openStore(dir, { exclusive: true });
      await using s = await startServer("node", [
        "--history",
        "5",
        "--resume-grace",
        "0",
      ], { store });
      const amy = await resumer(s.port, "amy");
      epoch = amy.epoch;
      using bob = await TestClient.join(s.port, "bob");
      await bob.send("hello amy");
      last = seqOf(
        await amy.client.expect(/^@seq=\d+;time=\S+Z MSG bob hello amy$/),
      );
      amy.client.server.close();
      await bob.expect(/^LEAVE amy /);
      await bob.send("while you were away");
      await bob.send("and more");
      await bob.expect(/^MSG bob and more$/);
      const back = await resumer(s.port, "amy", `/resume ${epoch} ${last}`);
      const caught = [
        await back.client.readLine(),
        await back.client.readLine(),
        await back.client.readLine(),
        await back.client.readLine(),
      ];
      assert.match(caught[0]!, /^@seq=\d+;time=\S+ LEAVE amy 1 disconnect/);
      assert.match(
        caught[1]!,
        /^@seq=\d+;time=\S+ MSG bob while you were away$/,
      );
      assert.match(caught[2]!, /^@seq=\d+;time=\S+ MSG bob and more$/);
      last = seqOf(caught[2]!);
      assert.equal(caught[3], `RESUMED ${last} 0 Resumed: 3 lines you missed`);
      // Then live, with no HIST: history is what it was caught up with.
      assert.equal(
        back.client.received.some((l) => l.startsWith("HIST")),
        false,
      );
      await bob.send("live now");
      await back.client.expect(/^@seq=\d+;time=\S+ MSG bob live now$/);
      last = seqOf(back.client.received.at(-1)!);
      back.client.server.close();
    }
    {
      using store = openStore(dir, { exclusive: true });
      await using s = await startServer("node", ["--history", "5"], { store });
      using bob = await TestClient.join(s.port, "bob");
      await bob.send("after the restart");
      await bob.expect(/^MSG bob after the restart$/);
      const back = await resumer(s.port, "amy", `/resume ${epoch} ${last}`);
      assert.equal(back.epoch, epoch, "the data directory keeps its epoch");
      const resumed = await back.client.expect(/^RESUMED /);
      assert.match(resumed, / 0 Resumed: \d+ lines you missed$/);
      assert.ok(
        back.client.received.some((l) => / MSG bob after the restart$/.test(l)),
      );
      assert.equal(
        back.client.received.filter((l) => / MSG bob live now$/.test(l)).length,
        0,
        "nothing it saw is sent again",
      );
      back.client.server.close();
    }
    {
      // --history 0: a log in memory, which numbers anew.
      await using s = await startServer("node", ["--history", "0"]);
      const back = await resumer(s.port, "amy", `/resume ${epoch} ${last}`);
      assert.notEqual(back.epoch, epoch);
      await back.client.expect(/^RESUMED - \? /);
      back.client.server.close();
    }
  });
});

Deno.test("serveChat() with rooms catches up each room given a position, with the room's prefix, its own JOIN first and CURRENT after", async () => {
  await using s = await startServer("node", ["--history", "5"]);
  const amy = await resumer(s.port, "amy");
  await amy.client.send("/join #ops");
  // Without rooms it sees only the default room; this test is about the prefix.
  amy.client.server.close();
  const client = await TestClient.connect(s.port);
  await client.expect(/^HELLO /);
  await client.send("/cap rooms resume");
  await client.expect(/^CAP rooms seq resume$/);
  await client.send(`/resume ${amy.epoch} #lobby=1`);
  await client.send("carol");
  await client.expect(/^WELCOME carol /);
  await client.expect(/^@seq=\d+;time=\S+ #lobby JOIN carol \d+$/);
  const resumed = await client.expect(/^#lobby RESUMED /);
  assert.match(resumed, /^#lobby RESUMED \d+ 0 /);
  await client.expect(/^CURRENT #lobby$/);
  client.server.close();
});

Deno.test("/resume is refused before the capability and when malformed (ERR usage)", async () => {
  await using s = await startServer("node");
  using client = await TestClient.connect(s.port);
  await client.expect(/^HELLO /);
  await client.send("/resume abc 1");
  await client.expect(/^ERR usage /);
  await client.send("/cap resume");
  await client.expect(/^CAP seq resume$/);
  await client.send("/resume abc #ops=-1");
  await client.expect(/^ERR usage Usage: \/resume /);
});

Deno.test("serveChat() tells a resuming client exactly how many lines it missed retention deleted (tombstones), and sends what is left", async () => {
  await withTempDir(async (dir) => {
    let last: number;
    let epoch: string;
    {
      using store = openStore(dir, { exclusive: true });
      await using s = await startServer("node", [
        "--history",
        "5",
        "--resume-grace",
        "0",
      ], { store });
      const amy = await resumer(s.port, "amy");
      epoch = amy.epoch;
      using bob = await TestClient.join(s.port, "bob");
      await bob.send("seen");
      last = seqOf(await amy.client.expect(/^@seq=\d+;time=\S+ MSG bob seen$/));
      amy.client.server.close();
      await bob.expect(/^LEAVE amy /);
      for (let i = 1; i <= 6; i++) await bob.send(`missed ${i}`);
      await bob.expect(/^MSG bob missed 6$/);
    }
    // Retention runs at start: 2 of each kind stay, and the room's newest
    // --history messages.
    using store = openStore(dir, { exclusive: true });
    await using s = await startServer("node", [
      "--history",
      "5",
      "--history-keep-rows",
      "2",
    ], { store });
    const back = await resumer(s.port, "amy", `/resume ${epoch} ${last}`);
    const resumed = await back.client.expect(/^RESUMED /);
    // After `last`: its own LEAVE, then missed 1 (deleted) to missed 6.
    assert.equal(
      resumed,
      `RESUMED ${
        last + 7
      } 1 Resumed: 6 lines you missed; 1 more are not sent (no longer kept or too many)`,
    );
    const said = back.client.received.filter((l) => / MSG bob /.test(l));
    assert.deepEqual(said.map((l) => l.replace(/^\S+ /, "")), [
      "MSG bob missed 2",
      "MSG bob missed 3",
      "MSG bob missed 4",
      "MSG bob missed 5",
      "MSG bob missed 6",
    ]);
    back.client.server.close();
  });
});

Deno.test("serveChat() catches a room other than the default one up with the renames and leaves of its members while the client was away", async () => {
  await using s = await startServer("node", [
    "--history",
    "5",
    "--resume-grace",
    "0",
  ]);
  const join = async (alias: string) => {
    const client = await TestClient.connect(s.port);
    const hello = await client.expect(/^HELLO /);
    await client.send("/cap rooms resume");
    await client.expect(/^CAP rooms seq resume$/);
    await client.send(alias);
    await client.expect(/^CURRENT #lobby$/);
    await client.send("/join #ops");
    await client.expect(/^CURRENT #ops$/);
    return { client, epoch: /,epoch=([\w-]+)/.exec(hello)![1]! };
  };
  const amy = await join("amy");
  const { client: bob } = await join("bob");
  await bob.send("/part #lobby");
  const said = await amy.client.expect(/ #lobby LEAVE bob \d+ part/);
  const lobby = seqOf(said);
  await bob.send("#ops seen");
  const ops = seqOf(await amy.client.expect(/ #ops MSG bob seen$/));
  amy.client.server.close();
  await bob.expect(/ #ops LEAVE amy /);
  await bob.send("/nick bobby");
  await bob.expect(/ #ops NICK bob bobby /);
  bob.server.close();
  // Nobody is left in #ops to hear bobby go: the server's log says when.
  await s.logs.waitFor(/ INFO leave alias=bobby .*reason=disconnect/);
  using back = await TestClient.connect(s.port);
  await back.expect(/^HELLO /);
  await back.send("/cap rooms resume");
  await back.expect(/^CAP rooms seq resume$/);
  await back.send(`/resume ${amy.epoch} #lobby=${lobby},#ops=${ops}`);
  await back.send("amy");
  await back.expect(/^CURRENT #lobby$/);
  await back.send("/join #ops");
  const resumed = await back.expect(/^#ops RESUMED /);
  const caught = back.received.slice(
    back.received.findIndex((l) => / #ops JOIN amy /.test(l)) + 1,
  ).map((l) => l.replace(/^@seq=\d+;time=\S+ /, ""));
  assert.deepEqual(caught, [
    "#ops LEAVE amy 1 disconnect",
    "#ops NICK bob bobby 1",
    "#ops LEAVE bobby 0 disconnect",
    resumed,
  ]);
  assert.match(resumed, /^#ops RESUMED \d+ 0 /);
  // Bob was no longer in #lobby: its rename and leave are not #lobby's.
  const inLobby = back.received.filter((l) => / #lobby (NICK|LEAVE) /.test(l));
  assert.deepEqual(
    inLobby.map((l) => l.replace(/^@seq=\d+;time=\S+ /, "")),
    ["#lobby LEAVE amy 1 disconnect"],
  );
});
