/**
 * End-to-end test of `client.ts` coming back after a drop while the login
 * limits hold its address back: real server and client processes over
 * TLS, the client's connection cut by a relay in between (the server
 * keeps running, and so do its limits).
 */

import assert from "node:assert/strict";
import { Accounts } from "../../lib/server/access/accounts.ts";
import { openStore } from "../../lib/server/storage/store.ts";
import {
  loopbackArgs,
  PipeClient,
  serverPermissions,
  ServerProcess,
  testCertificates,
  TestClient,
  withTempDir,
  writeTestCertificates,
} from "../_helpers.ts";

/**
 * A TCP relay on 127.0.0.1 to `port` (TLS passes through it untouched):
 * `cut()` closes every connection it carries, as a network drop would.
 */
function relay(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const pipe = (from: Deno.Conn, to: Deno.Conn) =>
    from.readable.pipeTo(to.writable).catch(() => {});
  const accepting = (async () => {
    for await (const conn of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port });
      open.add(conn).add(server);
      pipe(conn, server);
      pipe(server, conn);
    }
  })().catch(() => {});
  const cut = () => {
    for (const conn of open) {
      try {
        conn.close();
      } catch {
        // Closed already by its pipe.
      }
    }
    open.clear();
  };
  return {
    port: (listener.addr as Deno.NetAddr).port,
    cut,
    async [Symbol.asyncDispose]() {
      listener.close();
      cut();
      await accepting;
    },
  };
}

Deno.test("client.ts logged into an account comes back after a drop once the login limits let its address try again, though a stranger at that address made them hold it back", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    {
      using store = openStore(`${dir}/data`);
      await new Accounts(store.db).add("opal", "opal-pass-1");
    }
    await Deno.writeTextFile(`${dir}/pw`, "opal-pass-1\n", { mode: 0o600 });
    // No resume hold: a client that drops logs in again with its password.
    await using server = await ServerProcess.start(
      serverPermissions(dir),
      loopbackArgs(
        dir,
        ...["--resume-grace", "0", "--login-attempts", "1"],
        ...["--login-refill", "5"],
      ),
    );
    await using cable = relay(server.port);
    await using opal = new PipeClient([
      `--allow-net=127.0.0.1:${cable.port}`,
      `--allow-read=${dir}`,
    ], [
      "--server",
      `127.0.0.1:${cable.port}`,
      "--ca",
      `${dir}/ca.pem`,
      "--alias",
      "opal",
      "--password-file",
      `${dir}/pw`,
    ]);
    try {
      await opal.output.waitFor(/^-!- Welcome, opal!/);
      // Someone else at the same address (a NAT) guesses a password once:
      // the address waits 5 s.
      {
        using stranger = await TestClient.connect(
          server.port,
          undefined,
          ca.cert,
        );
        await stranger.expect(/^HELLO /);
        await stranger.send("opal");
        await stranger.expect(/^PASSWORD /);
        await stranger.send("/pass a guess");
        await stranger.expect(/^ERR login-failed /);
      }
      cable.cut();
      // Held back at first (told so), then in again: not given up.
      await opal.output.waitFor(/Too many failed logins: try again in \d+ s/, {
        timeoutMs: 10_000,
      });
      await opal.output.waitFor(/^-!- Welcome, opal!/, {
        count: 2,
        timeoutMs: 20_000,
      });
      await opal.send("back");
      await opal.output.waitFor(/^<opal> back$/);
      assert.equal(await opal.finish(), 0);
    } catch (e) {
      throw server.annotate(new Error(`${e}\n--- opal ---\n${opal.output}`));
    }
  });
});
