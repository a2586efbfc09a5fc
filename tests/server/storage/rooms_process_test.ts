/**
 * What rooms keep across a real restart (a server process, real TLS, one
 * data directory, two runs): a registered room's key, invite-only flag,
 * invites, operators, bans, mutes and topic; an account's rooms, joined
 * again when it logs in (on any device); a temporary room is gone, and
 * so is the membership of the account that was in it.
 */

import assert from "node:assert/strict";
import { Accounts } from "../../../lib/server/access/accounts.ts";
import { openStore } from "../../../lib/server/storage/store.ts";
import {
  loopbackArgs,
  serverPermissions,
  testCertificates,
  TestClient,
  withServerProcess,
  withTempDir,
  writeTestCertificates,
} from "../../_helpers.ts";

const ACCOUNTS = ["opal", "bob", "carol", "mallory", "erin", "dave"];

/** Connects with `/cap rooms` as `alias` (logged in when it is an account). */
async function roomsClient(
  port: number,
  ca: string,
  alias: string,
): Promise<TestClient> {
  const client = await TestClient.connect(port, undefined, ca);
  await client.expect(/^HELLO /);
  await client.send("/cap rooms");
  assert.equal(await client.readLine(), "CAP rooms");
  await client.send(alias);
  if (ACCOUNTS.includes(alias)) {
    await client.expect(/^PASSWORD /);
    await client.send(`/pass ${alias}-pass-1`);
  }
  await client.expect(new RegExp(`^WELCOME ${alias} `));
  await client.expect(/^CURRENT #lobby$/);
  return client;
}

/** Sends `line` and returns the first line then matching `pattern`. */
async function ask(
  client: TestClient,
  line: string,
  pattern: RegExp,
): Promise<string> {
  await client.send(line);
  return await client.expect(pattern);
}

/** The first run: a registered room set up in every way, then stopped. */
async function firstRun(port: number, ca: string): Promise<void> {
  using opal = await roomsClient(port, ca, "opal");
  await ask(opal, "/join #ops", /^CURRENT #ops$/);
  assert.equal(
    await ask(opal, "#ops /register", /^#ops MOD /),
    "#ops MOD register - opal",
  );
  await ask(opal, "#ops /key s3cret", /^#ops MOD key /);
  await ask(opal, "#ops /topic Deploys only", /^#ops TOPIC /);
  using bob = await roomsClient(port, ca, "bob");
  await ask(bob, "/join #ops s3cret", /^CURRENT #ops$/);
  await ask(bob, "/join #dev", /^CURRENT #dev$/);
  using erin = await roomsClient(port, ca, "erin");
  await ask(erin, "/join #ops s3cret", /^CURRENT #ops$/);
  // Logged in (and so named by account) while opal ops and bans them.
  using _carol = await roomsClient(port, ca, "carol");
  using _mallory = await roomsClient(port, ca, "mallory");
  using dave = await roomsClient(port, ca, "dave");
  await ask(opal, "#ops /op carol", /^#ops MOD op carol opal$/);
  await ask(opal, "#ops /roomban mallory", /^#ops MOD ban mallory opal/);
  await ask(opal, "#ops /mute erin", /^#ops MOD mute erin opal/);
  await ask(opal, "#ops /inviteonly on", /^#ops MOD invite-only /);
  await ask(opal, "#ops /invite dave", /^INFO dave is invited to #ops$/);
  await dave.expect(/^INVITE #ops opal$/);
  // A guest's invitation is its connection's: it does not outlive it.
  using gus = await roomsClient(port, ca, "gus");
  await ask(opal, "#ops /invite gus", /^INFO gus is invited to #ops$/);
  await gus.expect(/^INVITE #ops opal$/);
  await ask(bob, "#ops still here", /^#ops MSG bob still here$/);
}

/** The second run: all of it came back. */
async function secondRun(port: number, ca: string): Promise<void> {
  // bob's rooms come back at login: #ops with its topic (no key asked:
  // it was in); temporary #dev ended with the restart, and bob's
  // membership with it: not made again. The default room stays current.
  using bob = await roomsClient(port, ca, "bob");
  assert.equal(await bob.expect(/^#ops JOIN /), "#ops JOIN bob 1");
  assert.equal(await bob.readLine(), "#ops TOPIC opal Deploys only");
  await bob.expect(/^#ops HIST \S+ \S+ MSG bob still here$/);
  await ask(bob, "where am I", /^#lobby MSG bob where am I$/);
  await bob.send("/rooms");
  const listed: string[] = [];
  for (;;) {
    const line = (await bob.readLine())!;
    if (/^INFO \d+ rooms?$/.test(line)) break;
    if (line.startsWith("ROOM ")) listed.push(line);
  }
  assert.ok(listed.includes("ROOM #ops 1 mrki Deploys only"), listed.join());
  assert.ok(
    !listed.some((line) => line.startsWith("ROOM #dev ")),
    listed.join(),
  );
  // erin came back too, and is still muted there.
  using erin = await roomsClient(port, ca, "erin");
  await erin.expect(/^#ops JOIN erin 2$/);
  await ask(erin, "#ops hello?", /^ERR muted You are muted in #ops by opal/);
  // Invite-only: a stranger with the key is refused, the invited account
  // not, the invited guest (gone since) too.
  using zed = await roomsClient(port, ca, "zed");
  await ask(zed, "/join #ops s3cret", /^ERR room-invite-only /);
  using dave = await roomsClient(port, ca, "dave");
  await ask(dave, "/join #ops", /^CURRENT #ops$/);
  using gus = await roomsClient(port, ca, "gus");
  await ask(gus, "/join #ops s3cret", /^ERR room-invite-only /);
  // The banned account is still banned.
  using mallory = await roomsClient(port, ca, "mallory");
  await ask(mallory, "/join #ops s3cret", /^ERR room-banned /);
  // carol still operates it: in past key and invite, marked, obeyed.
  using carol = await roomsClient(port, ca, "carol");
  await ask(carol, "/join #ops", /^CURRENT #ops$/);
  assert.match(await ask(carol, "#ops /who", /^#ops WHO /), /@carol\b/);
  await ask(carol, "#ops /inviteonly off", /^#ops MOD invite-only - carol/);
  // The key held: a wrong one is refused, the right one lets zed in.
  await ask(zed, "/join #ops nope", /^ERR room-key /);
  await ask(zed, "/join #ops s3cret", /^CURRENT #ops$/);
}

Deno.test("server.ts keeps a registered room's key, invites, operators, bans, mutes and topic, and accounts' rooms, across a restart", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    {
      using store = openStore(`${dir}/data`);
      const accounts = new Accounts(store.db);
      for (const name of ACCOUNTS) await accounts.add(name, `${name}-pass-1`);
    }
    for (const run of [firstRun, secondRun]) {
      await withServerProcess(
        serverPermissions(dir),
        loopbackArgs(dir),
        (server) => run(server.port, ca.cert),
      );
    }
  });
});
