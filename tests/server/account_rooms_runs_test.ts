/**
 * An account's registered room across runs of one data directory, over
 * real TLS: a run that numbers its log anew (`--durability memory`,
 * `--history 0`) in which the account's list of rooms is rewritten does
 * not take it out of a keyed registered room it never left at the next
 * normal run (no key asked), nor out of one registered in that run (its
 * list rewritten since, or not).
 */

import assert from "node:assert/strict";
import { openStore } from "../../lib/server/storage/store.ts";
import { startServer, type TestClient, withTempDir } from "../_helpers.ts";
import { member, upTo } from "./_incarnation_members.ts";

const PASSWORD = "alice password";

/** A server over the data directory `dir`, alice's account made. */
async function run(
  dir: string,
  flags: string[],
  body: (port: number) => Promise<void>,
): Promise<void> {
  using store = openStore(dir, { exclusive: true });
  await using s = await startServer("node", flags, { store });
  if (s.server.gate.accounts.get("alice") === null) {
    await s.server.gate.accounts.add("alice", PASSWORD);
  }
  await body(s.port);
}

/** Alice logged in: her client and what she was sent up to `/rooms`. */
async function alice(port: number) {
  const client = (await member(port, "alice", undefined, PASSWORD)).client;
  await client.send("/rooms");
  const seen = await upTo(client, /^INFO \d+ rooms?\b/);
  return { client, seen, text: seen.join("\n") };
}

/** `client` joins `room` and waits for it to be current. */
async function joinRoom(client: TestClient, room: string): Promise<void> {
  await client.send(`/join ${room}`);
  await client.expect(new RegExp(`^CURRENT ${room}$`));
}

/** `client` makes `room`, keyed, and registers it. */
async function keyedRoom(client: TestClient, room: string): Promise<void> {
  await joinRoom(client, room);
  await client.send(`${room} /key sekritkey`);
  await client.expect(new RegExp(`${room} MOD key `));
  await client.send(`${room} /register`);
  await client.expect(new RegExp(`${room} MOD register - alice$`));
}

for (const apart of [["--durability", "memory"], ["--history", "0"]]) {
  Deno.test(
    `an account stays in its keyed registered rooms after a run with ${
      apart.join(" ")
    } rewrote its list`,
    async () => {
      await withTempDir(async (dir) => {
        await run(dir, [], async (port) => {
          const { client } = await alice(port);
          using a = client;
          await joinRoom(a, "#a");
          for (let i = 0; i < 40; i++) {
            await a.send(`line ${i}`);
            await a.expect(new RegExp(`#a MSG alice line ${i}$`));
          }
          // Begins well after the log's start, and past what a run that
          // numbers anew reaches.
          await keyedRoom(a, "#k");
        });
        await run(dir, apart, async (port) => {
          const { client, seen, text } = await alice(port);
          using a = client;
          assert.ok(seen.includes("#k JOIN alice 1"), text);
          await keyedRoom(a, "#m"); // registered in this run
          await joinRoom(a, "#other"); // her list rewritten
          await a.send("/part #other");
          await a.expect(/#other LEAVE alice /);
          await keyedRoom(a, "#n"); // joined, then registered: not rewritten
        });
        await run(dir, [], async (port) => {
          const { client, seen, text } = await alice(port);
          using _a = client;
          assert.ok(seen.includes("#k JOIN alice 1"), text);
          for (const room of ["#m", "#n"]) {
            assert.ok(seen.includes(`${room} JOIN alice 1`), text);
          }
          assert.ok(!seen.some((l) => l.startsWith("ERR ")), text);
        });
      });
    },
  );
}
