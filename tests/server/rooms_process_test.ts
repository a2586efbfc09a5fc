/**
 * Rooms against `server.ts` as a real process, real TLS: two clients with
 * the `rooms` capability in different rooms do not see each other's lines,
 * a third in both sees both, prefixed; `ncat --ssl` without the capability
 * chats in the default room exactly as before.
 */

import assert from "node:assert/strict";
import {
  loopbackArgs,
  runCommand,
  serverPermissions,
  testCertificates,
  TestClient,
  withServerProcess,
  withTempDir,
  writeTestCertificates,
} from "../_helpers.ts";

Deno.test("server.ts: rooms apart, a member of both sees both, ncat chats in the default room as before", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    await withServerProcess(
      serverPermissions(dir),
      loopbackArgs(dir),
      async (server) => {
        const rooms = async (alias: string, room: string) => {
          const client = await TestClient.connect(
            server.port,
            "localhost",
            ca.cert,
          );
          await client.expect(
            /^HELLO .*caps=ids\+rooms\+seq\+resume\+notice,epoch=[\w-]+ /,
          );
          await client.send("/cap rooms");
          await client.expect(/^CAP rooms$/);
          await client.send(alias);
          await client.expect(/^CURRENT #lobby$/);
          await client.send(`/join ${room}`);
          await client.expect(new RegExp(`^CURRENT ${room}$`));
          return client;
        };
        using alice = await rooms("alice", "#ops");
        using bob = await rooms("bob", "#dev");
        using carol = await rooms("carol", "#ops");
        await carol.send("/join #dev");
        await carol.expect(/^CURRENT #dev$/);
        // Each line is echoed before the next is sent, so the room log's
        // order is this one, whichever connection said it.
        await alice.send("#ops ops secret");
        assert.equal(await alice.expect(/ MSG /), "#ops MSG alice ops secret");
        await bob.send("#dev dev secret");
        assert.equal(await bob.expect(/ MSG /), "#dev MSG bob dev secret");
        await alice.send("#lobby lobby hi");
        await alice.expect(/^#lobby MSG alice lobby hi$/);
        assert.equal(await carol.expect(/ MSG /), "#ops MSG alice ops secret");
        assert.equal(await carol.expect(/ MSG /), "#dev MSG bob dev secret");
        assert.equal(await carol.expect(/ MSG /), "#lobby MSG alice lobby hi");
        assert.equal(await bob.expect(/ MSG /), "#lobby MSG alice lobby hi");
        const caFile = `${dir}/ca.pem`;
        const { code, out } = await runCommand("ncat", [
          "--ssl",
          "--ssl-verify",
          "--ssl-trustfile",
          caFile,
          "localhost",
          String(server.port),
        ], "by-ncat\nhello over ncat\n/join #ops\n/quit\n");
        assert.equal(code, 0, out);
        assert.match(
          out,
          new RegExp(
            "^HELLO tlschat/1 \\S+ \\S+ Send your alias .*\\n" +
              "WELCOME by-ncat 4 Type /help for commands\\n" +
              "HIST \\d+ \\S+ MSG alice lobby hi\\n" +
              "HISTEND 1 End of history: 1 message\\n" +
              "MSG by-ncat hello over ncat\\n" +
              "ERR usage Rooms need the rooms capability: send /cap rooms before your alias\\n" +
              "BYE quit Goodbye\\n?$",
          ),
        );
        assert.doesNotMatch(out, /secret/);
        assert.equal(await alice.expect(/by-ncat/), "#lobby JOIN by-ncat 4");
        assert.equal(
          await alice.expect(/by-ncat/),
          "#lobby MSG by-ncat hello over ncat",
        );
        assert.match(
          await alice.expect(/by-ncat/),
          /^#lobby LEAVE by-ncat 3 quit/,
        );
        // Alice never saw #dev.
        assert.ok(!alice.received.some((line) => line.includes("dev secret")));
      },
    );
  });
});
