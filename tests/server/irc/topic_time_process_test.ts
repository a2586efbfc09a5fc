/**
 * Who set a topic or a ban, and when, across a restart: a real
 * `server.ts` with a data directory, real TLS. A native operator sets the
 * default room's topic, a registered room's topic and a ban from it; the
 * server is killed and started again on the same data directory; an IRC
 * client joining then gets 332 and 333 with the original setter and time
 * (before, no 333: the time was not kept), and the room's ban list 367
 * with the ban's setter and time (before, the mask alone); a native
 * client with `seq` gets the topic on joining, and `/roombans`' `BAN`
 * lines, tagged with that time.
 */

import assert from "node:assert/strict";
import {
  denoRun,
  loopbackArgs,
  runCommand,
  serverPermissions,
  testCertificates,
  TestClient,
  withServerProcess,
  withTempDir,
  writeTestCertificates,
} from "../../_helpers.ts";

/** Runs `users.ts` on the data directory `dir/data`, with `stdin`. */
async function users(dir: string, args: string[], stdin = ""): Promise<void> {
  const { code, out } = await runCommand(
    "deno",
    denoRun(
      "users.ts",
      [`--allow-read=${dir}`, `--allow-write=${dir}/data`],
      [...args, "--data-dir", `${dir}/data`],
    ),
    stdin,
  );
  assert.equal(code, 0, out);
}

/** Logs in as `alias` (an account) with `caps` on, after `HELLO`. */
async function login(
  port: number,
  ca: string,
  alias: string,
  caps: string,
): Promise<TestClient> {
  const client = await TestClient.connect(port, "localhost", ca);
  await client.expect(/^HELLO /);
  await client.send(`/cap ${caps}`);
  await client.expect(/^CAP /);
  await client.send(alias);
  await client.expect(/^PASSWORD /);
  await client.send(`/pass ${alias}-pass-1`);
  await client.expect(/^WELCOME /);
  return client;
}

/** Seconds since the epoch of a time in ms, as IRC gives set times. */
const seconds = (ms: number) => Math.floor(ms / 1000);

Deno.test("server.ts: after a restart, an IRC client joining gets 333 with the setter and time of a topic set before (default room and a registered one), and 367 with a ban's; a native seq client the same times as @time tags", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    await users(dir, ["add", "opal"], "opal-pass-1\n");
    await users(dir, ["op", "opal"]);
    await users(dir, ["add", "bob"], "bob-pass-1\n");
    await users(dir, ["add", "carol"], "carol-pass-1\n");
    await users(dir, ["op", "carol"]);
    const args = loopbackArgs(dir, "--irc-port", "0");
    const before = Date.now();
    await withServerProcess(serverPermissions(dir), args, async (server) => {
      using opal = await login(server.port, ca.cert, "opal", "rooms");
      await opal.send("/topic Lobby topic");
      await opal.expect(/^#lobby TOPIC opal Lobby topic$/);
      await opal.send("/join #ops");
      await opal.expect(/^CURRENT #ops$/);
      await opal.send("#ops /register");
      await opal.expect(/^#ops MOD register /);
      await opal.send("#ops /topic Ops topic");
      await opal.expect(/^#ops TOPIC opal Ops topic$/);
      await opal.send("#ops /roomban bob spam");
      await opal.expect(/^#ops MOD ban bob opal /);
    });
    const after = Date.now();
    const setAt = (time: number) => {
      assert.ok(
        time >= seconds(before) && time <= seconds(after),
        `${time} is not between ${seconds(before)} and ${seconds(after)}`,
      );
    };
    // Killed; started again on the same data directory.
    await withServerProcess(serverPermissions(dir), args, async (server) => {
      const listening = await server.output.waitFor(/INFO listening /);
      const ircPort = Number(/ irc=127\.0\.0\.1:(\d+)/.exec(listening)![1]);
      using irc = await TestClient.connect(ircPort, "localhost", ca.cert);
      for (
        const line of ["PASS opal-pass-1", "NICK opal", "USER u 0 * :Opal"]
      ) {
        await irc.send(line);
      }
      assert.match(await irc.expect(/ 332 /), / 332 opal #lobby :Lobby topic$/);
      const lobby = await irc.readLine();
      const [, lobbyTime] =
        / 333 opal #lobby opal :?(\d+)$/.exec(lobby ?? "") ??
          assert.fail(`Not a 333 after 332: ${lobby}`);
      setAt(Number(lobbyTime));
      // Its account's room, joined again at login.
      assert.match(await irc.expect(/ 332 /), / 332 opal #ops :Ops topic$/);
      const ops = await irc.readLine();
      const [, opsTime] = / 333 opal #ops opal :?(\d+)$/.exec(ops ?? "") ??
        assert.fail(`Not a 333 after 332: ${ops}`);
      setAt(Number(opsTime));
      assert.ok(Number(opsTime) >= Number(lobbyTime));
      await irc.send("MODE #ops b");
      const ban = await irc.expect(/ 36[78] /);
      const [, banTime] = / 367 opal #ops bob!\*@\* opal :?(\d+)$/.exec(ban) ??
        assert.fail(`Not a 367 with setter and time: ${ban}`);
      setAt(Number(banTime));
      assert.ok(Number(banTime) >= Number(opsTime));
      await irc.expect(/ 368 opal #ops /);

      // A native client with seq (a server operator): the same times, to
      // the ms, as tags.
      using carol = await login(server.port, ca.cert, "carol", "rooms seq");
      const topic = await carol.expect(/#lobby TOPIC /);
      const [, lobbyIso] = /^@time=(\S+) #lobby TOPIC opal Lobby topic$/
        .exec(topic) ?? assert.fail(`Not a dated topic: ${topic}`);
      assert.equal(seconds(Date.parse(lobbyIso!)), Number(lobbyTime));
      await carol.send("/join #ops");
      const opsTopic = await carol.expect(/#ops TOPIC /);
      const [, opsIso] = /^@time=(\S+) #ops TOPIC opal Ops topic$/
        .exec(opsTopic) ?? assert.fail(`Not a dated topic: ${opsTopic}`);
      assert.equal(seconds(Date.parse(opsIso!)), Number(opsTime));
      await carol.expect(/^CURRENT #ops$/);
      await carol.send("#ops /roombans");
      const listed = await carol.expect(/ BAN /);
      const [, banIso] = /^@time=(\S+) BAN account bob - opal spam$/
        .exec(listed) ?? assert.fail(`Not a dated ban: ${listed}`);
      assert.equal(seconds(Date.parse(banIso!)), Number(banTime));
    });
  });
});
