/**
 * The catch-ups one address may cause over real TLS (`--resume-rate`; the
 * attacker review's 19 connections of one address resuming in a loop held
 * another member's round trip up to half a second): behind a trusted
 * proxy that names each client, the addresses of one IPv6 /64 resuming
 * again and again get `MISSING` > 0 once their minute's worth of lines is
 * spent, while another address's resume still gets its whole catch-up.
 * Node engine only: the deno engine reads no PROXY header.
 */

import assert from "node:assert/strict";
import { systemClock } from "../../lib/clock.ts";
import { SqliteLog } from "../../lib/server/storage/sqlite_log.ts";
import { openStore } from "../../lib/server/storage/store.ts";
import { startServer, TestClient, withTempDir } from "../_helpers.ts";

/** Lines in the default room before the server starts. */
const STORED = 200;

/** `--resume-rate`: lines a minute, a minute's worth at once. */
const RATE = 250;

/** Lines the quota gives back in `ms`, at most. */
function refilled(ms: number): number {
  return Math.ceil(ms * RATE / 60_000);
}

/** A PROXY protocol version 1 header naming `host` as the client. */
function proxied(host: string): string {
  const family = host.includes(":") ? "TCP6" : "TCP4";
  const to = family === "TCP6" ? "::1" : "127.0.0.1";
  return `PROXY ${family} ${host} ${to} 5555 7443\r\n`;
}

/** Resumes from the log's start as a guest at `host`: lines sent, MISSING. */
async function resumeFrom(
  port: number,
  host: string,
  alias: string,
): Promise<{ sent: number; missing: number }> {
  using guest = await TestClient.viaProxy(port, proxied(host));
  const hello = await guest.expect(/^HELLO /);
  const epoch = /,epoch=([\w-]+)/.exec(hello)![1]!;
  await guest.send("/cap resume");
  await guest.expect(/^CAP seq resume$/);
  await guest.send(`/resume ${epoch} #lobby=0`);
  await guest.send(alias);
  const resumed = await guest.expect(/^RESUMED /);
  const [, missing, sent] = /^RESUMED \d+ (\d+) Resumed: (\d+) line/
    .exec(resumed)?.map(Number) ?? [];
  assert.ok(sent !== undefined && missing !== undefined, resumed);
  return { sent, missing };
}

Deno.test("[node] serveChat() catches up the addresses of one /64 with no more than --resume-rate lines a minute (the rest MISSING), and another address in full", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir, { exclusive: true });
    const filling = new SqliteLog(store.db, { clock: systemClock, keep: 0 });
    for (let i = 0; i < STORED; i++) {
      filling.append({ type: "MSG", alias: "amy", text: `m${i}` }, "1");
    }
    await filling.close();
    await using s = await startServer("node", [
      "--trusted-proxy",
      "127.0.0.1",
      "--history",
      "5",
      "--resume-rate",
      String(RATE),
    ], { store });
    // The first resume of the /64 gets all it missed.
    const started = performance.now();
    const first = await resumeFrom(s.port, "2001:db8:1:2::5", "g1");
    assert.equal(first.missing, 0);
    assert.ok(first.sent >= STORED, `${first.sent} lines`);
    // Again and again, from another address of the same /64: all of them
    // get no more than its minute's worth (250 lines) and what refilled
    // since (about 4 a second: the machine's pace cannot make this fail;
    // without the quota, each got the whole room), the rest MISSING.
    let sent = first.sent;
    for (const [i, host] of ["2001:db8:1:2::6", "2001:db8:1:2::5"].entries()) {
      const again = await resumeFrom(s.port, host, `g${i + 2}`);
      sent += again.sent;
      const most = RATE + refilled(performance.now() - started);
      assert.ok(sent <= most, `${host}: ${sent} lines in all, over ${most}`);
      assert.ok(
        again.sent + again.missing >= STORED,
        `${host}: ${again.sent} sent, ${again.missing} missing`,
      );
      assert.ok(again.missing > 0, `${host}: ${again.missing} missing`);
    }
    // Another address still gets its whole catch-up.
    const other = await resumeFrom(s.port, "2001:db8:1:3::5", "h1");
    assert.equal(other.missing, 0);
    assert.ok(other.sent >= STORED, `${other.sent} lines`);
  });
});
