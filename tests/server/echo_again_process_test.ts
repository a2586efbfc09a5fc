/**
 * A line sent again under its id after a reconnect, against `server.ts` as
 * a real process over real TLS: the echo of the resend is exactly the
 * line's first echo (`@id=ID;seq=N;time=T #room MSG ...`), in a room other
 * than the default one, on a new connection, after the server was killed
 * and started again (its window of ids read from its database), and on
 * another server of a cluster (Redis's window).
 */

import assert from "node:assert/strict";
import {
  loopbackArgs,
  serverPermissions,
  ServerProcess,
  TestClient,
  withTempDir,
  writeTestCertificates,
} from "../_helpers.ts";
import { withCluster } from "./cluster/_cluster.ts";

const ID = "echo-again-0123456789";

/** Logs in as `alias` with `ids rooms seq` and enters `#den`. */
async function inDen(port: number, alias: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.expect(/^HELLO /);
  await client.send("/cap ids rooms seq");
  assert.equal(await client.readLine(), "CAP ids rooms seq");
  await client.send(alias);
  await client.expect(/^CURRENT #lobby$/);
  await client.send("/join #den");
  await client.expect(/^CURRENT #den$/);
  return client;
}

/** Sends the line under `ID` in `#den` and returns its echo. */
async function say(client: TestClient): Promise<string> {
  await client.send(`@id=${ID} #den cut 0`);
  return await client.expect(/ MSG /);
}

/** Says `/quit` and reads up to the goodbye. */
async function quit(client: TestClient): Promise<void> {
  await client.send("/quit");
  await client.expect(/^BYE /);
}

Deno.test("server.ts: a line sent again after a reconnect, and after a restart, is echoed exactly as the first time, in its room", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const start = () =>
      ServerProcess.start(serverPermissions(dir), loopbackArgs(dir));
    let server = await start();
    try {
      using ann = await inDen(server.port, "ann");
      const first = await say(ann);
      assert.match(
        first,
        new RegExp(`^@id=${ID};seq=\\d+;time=\\S+Z #den MSG ann cut 0$`),
      );
      await quit(ann);
      using again = await inDen(server.port, "ann");
      assert.equal(await say(again), first);
      await quit(again);
      // Killed: started again on its database, it still knows the id.
      await server[Symbol.asyncDispose]();
      server = await start();
      using back = await inDen(server.port, "ann");
      assert.equal(await say(back), first);
      await quit(back);
    } catch (e) {
      throw server.annotate(e);
    } finally {
      await server[Symbol.asyncDispose]();
    }
  });
});

Deno.test("server.ts in a cluster: a line sent again on another server is echoed exactly as the first time, in its room", async () => {
  await withCluster(2, async ([s0, s1]) => {
    using ann = await inDen(s0!.port, "ann");
    const first = await say(ann);
    assert.match(
      first,
      new RegExp(`^@id=${ID};seq=\\d+;time=\\S+Z #den MSG ann cut 0$`),
    );
    await quit(ann);
    using again = await inDen(s1!.port, "ann");
    assert.equal(await say(again), first);
    await quit(again);
  });
});
