/**
 * An account's rooms at login, over real TLS: its membership of a room
 * ends when the room vanishes (empty for `--room-grace`, or gone with a
 * restart), so it is not put into the room someone else made again under
 * that name (keyed and invite-only) nor sent its lines, while it still
 * rejoins a registered room and a temporary room that lives on.
 */

import assert from "node:assert/strict";
import { openStore } from "../../lib/server/storage/store.ts";
import { startServer, type TestClient, withTempDir } from "../_helpers.ts";
import { member, upTo } from "./_incarnation_members.ts";

const PASSWORD = "alice password";

/**
 * Joins `room` until it is let in (refused while the old room, invite-only,
 * is still there).
 */
async function joinAgain(client: TestClient, room: string): Promise<void> {
  for (;;) {
    await client.send(`/join ${room}`);
    const first = await client.expect(
      new RegExp(`^(ERR room-invite-only |(@\\S+ )?${room} JOIN )`),
    );
    if (!first.startsWith("ERR ")) return void await client.expect(/^CURRENT /);
  }
}

/** Joins `room` and waits for it to be current. */
async function joinRoom(client: TestClient, room: string): Promise<void> {
  await client.send(`/join ${room}`);
  await client.expect(new RegExp(`^CURRENT ${room}$`));
}

/** `room` made again by `eve`: keyed, invite-only, with a private line. */
async function remake(eve: TestClient, room: string): Promise<void> {
  await joinAgain(eve, room);
  await eve.send(`${room} /key sekritkey`);
  await eve.expect(new RegExp(`${room} MOD key `));
  await eve.send(`${room} /inviteonly on`);
  await eve.expect(new RegExp(`${room} MOD invite-only `));
  await eve.send(`${room} new room private plans`);
  await eve.expect(/MSG eve new room private plans$/);
}

/**
 * Logs alice in again; returns what she was sent up to her `/rooms`
 * answer (her rejoins come before it) and her client.
 */
async function aliceAgain(port: number) {
  const client = (await member(port, "alice", undefined, PASSWORD)).client;
  await client.send("/rooms");
  const seen = await upTo(client, /^INFO \d+ rooms/);
  return { client, seen, text: seen.join("\n") };
}

Deno.test("an account is not put at login into its room that vanished and was made again by another (keyed, invite-only), nor sent its lines; a registered room and a live temporary room are rejoined", async () => {
  await using s = await startServer("node", [
    "--room-grace",
    "0",
    "--room-create",
    "any",
  ]);
  await s.server.gate.accounts.add("alice", PASSWORD);
  using bob = (await member(s.port, "bob")).client;
  await joinRoom(bob, "#live"); // a temporary room that lives on
  {
    using alice = (await member(s.port, "alice", undefined, PASSWORD)).client;
    await joinRoom(alice, "#kx");
    await alice.send("#kx /inviteonly on"); // eve waits until it vanished
    await alice.expect(/#kx MOD invite-only /);
    for (const room of ["#reg", "#live"]) await joinRoom(alice, room);
    await alice.send("#reg /register");
    await alice.expect(/#reg MOD register - alice$/);
    await alice.send("/quit"); // no resume grace: out of #kx at once
    await alice.readToEnd();
  }
  using eve = (await member(s.port, "eve")).client;
  await remake(eve, "#kx");

  const { client, seen, text } = await aliceAgain(s.port);
  using _alice = client;
  assert.ok(seen.includes("#reg JOIN alice 1"), text);
  assert.ok(seen.includes("#live JOIN alice 2"), text);
  assert.ok(!seen.some((l) => /^#kx |private plans/.test(l)), text);
  await client.send("/join #kx");
  await client.expect(/^ERR room-invite-only /);
});

Deno.test("an account is not put, after a restart, into its temporary room made again by another: it vanished with the server; its registered room is rejoined", async () => {
  await withTempDir(async (dir) => {
    {
      using store = openStore(dir, { exclusive: true });
      await using s = await startServer("node", [], { store });
      await s.server.gate.accounts.add("alice", PASSWORD);
      using alice = (await member(s.port, "alice", undefined, PASSWORD))
        .client;
      for (const room of ["#kx", "#reg"]) await joinRoom(alice, room);
      await alice.send("#reg /register");
      await alice.expect(/#reg MOD register - alice$/);
    }
    using store = openStore(dir, { exclusive: true });
    await using s = await startServer("node", ["--room-create", "any"], {
      store,
    });
    using eve = (await member(s.port, "eve")).client;
    await remake(eve, "#kx");
    const { client, seen, text } = await aliceAgain(s.port);
    using _alice = client;
    assert.ok(seen.includes("#reg JOIN alice 1"), text);
    assert.ok(!seen.some((l) => /^#kx |private plans/.test(l)), text);
  });
});
