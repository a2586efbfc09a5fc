/**
 * Read markers where a device starts, over real TLS: an account's marker
 * (`/read` on one device) is where its other device, resuming with no
 * position (`/resume EPOCH -`), is caught up from, and that device is told
 * `READ SEQ` after the catch-up (with the room's prefix with `rooms`);
 * likewise for a guest that logs into the account later with `/nick`
 * (password or certificate).
 */

import assert from "node:assert/strict";
import { issueClientCertificate } from "../../lib/cert_authority.ts";
import { startServer, testCertificates, TestClient } from "../_helpers.ts";

/** Logs into account alice with `caps` before the alias, sending `resume`. */
async function login(
  port: number,
  caps: string,
  resume?: (epoch: string) => string,
): Promise<TestClient> {
  const client = await TestClient.connect(port);
  const hello = await client.expect(/^HELLO .*epoch=/);
  await client.send(`/cap ${caps}`);
  await client.expect(/^CAP /);
  if (resume) await client.send(resume(/,epoch=([\w-]+)/.exec(hello)![1]!));
  await client.send("alice");
  await client.expect(/^PASSWORD account /);
  await client.send("/pass alice password");
  await client.expect(/^WELCOME alice /);
  return client;
}

/** Lines up to and with the first that matches `last`. */
async function linesThrough(client: TestClient, last: RegExp) {
  const lines: string[] = [];
  for (;;) {
    const line = await client.readLine();
    assert.ok(line !== null, `closed before ${last}: ${lines.join(" | ")}`);
    lines.push(line);
    if (last.test(line)) return lines;
  }
}

for (const rooms of [false, true]) {
  const prefix = rooms ? "#lobby " : "";
  Deno.test(`serveChat() starts an account's resuming device with no position at its /read marker, then tells it READ${rooms ? " (rooms)" : ""}`, async () => {
    await using s = await startServer("node", ["--resume-grace", "0"]);
    await s.server.gate.accounts.add("alice", "alice password");
    using phone = await login(s.port, "seq");
    await phone.send("/nick alice_phone");
    await phone.expect(/NICK alice alice_phone /);
    using gus = await TestClient.join(s.port, "gus");
    for (const text of ["one", "two", "three"]) await gus.send(text);
    const seqs = [];
    for (const text of ["one", "two", "three"]) {
      const line = await phone.expect(new RegExp(`MSG gus ${text}$`));
      seqs.push(Number(/^@seq=(\d+);/.exec(line)![1]));
    }
    await phone.send(`/read ${prefix}${seqs[0]}`);
    await phone.send("/who"); // the marker is kept before the answer
    await phone.expect(/^WHO 2 /);
    using laptop = await login(
      s.port,
      rooms ? "rooms resume" : "resume",
      (epoch) => `/resume ${epoch} -`,
    );
    const caught = await linesThrough(laptop, /RESUMED /);
    assert.deepEqual(
      caught.filter((line) => / MSG /.test(line)).map((line) =>
        line.replace(/^@seq=\d+;time=\S+ /, "")
      ),
      [`${prefix}MSG gus two`, `${prefix}MSG gus three`],
    );
    assert.match(caught.at(-1)!, new RegExp(`^${prefix}RESUMED ${seqs[2]} 0 `));
    const after = await linesThrough(laptop, /READ /);
    assert.equal(after.at(-1), `${prefix}READ ${seqs[0]}`);
    assert.ok(after.every((line) => !/MSG|HIST/.test(line)), after.join("|"));
  });
}

Deno.test("serveChat() sends history, no READ, to an account's device resuming with no position when it has no marker", async () => {
  await using s = await startServer("node", ["--resume-grace", "0"]);
  await s.server.gate.accounts.add("alice", "alice password");
  using gus = await TestClient.join(s.port, "gus");
  await gus.send("one");
  await gus.expect(/^MSG gus one$/);
  using laptop = await login(s.port, "resume", (epoch) => `/resume ${epoch} -`);
  const lines = await linesThrough(laptop, /HISTEND/);
  assert.ok(lines.some((line) => /MSG gus one$/.test(line)), lines.join("|"));
  await laptop.send("/who");
  assert.match(await laptop.readLine() ?? "", /^WHO 2 /);
});

for (const how of ["password", "certificate"] as const) {
  Deno.test(`serveChat() loads an account's markers when a guest logs into it with /nick (${how}): a /join starts at the marker, then READ`, async () => {
    const { ca } = await testCertificates();
    await using s = await startServer("node", ["--resume-grace", "0"], {
      clientCa: { ca: ca.cert, require: false },
    });
    await s.server.gate.accounts.add("alice", "alice password");
    using phone = await login(s.port, "rooms seq");
    await phone.send("/nick alice_phone");
    await phone.expect(/#lobby NICK alice alice_phone /);
    await phone.send("/join #ops");
    await phone.expect(/^CURRENT #ops$/);
    using bob = await TestClient.connect(s.port);
    await bob.expect(/^HELLO /);
    await bob.send("/cap rooms");
    await bob.send("bob");
    await bob.expect(/^WELCOME bob /);
    await bob.send("/join #ops");
    await bob.expect(/^CURRENT #ops$/);
    for (const text of ["one", "two", "three"]) await bob.send(`#ops ${text}`);
    const seqs = [];
    for (const text of ["one", "two", "three"]) {
      const line = await phone.expect(new RegExp(`#ops MSG bob ${text}$`));
      seqs.push(Number(/^@seq=(\d+);/.exec(line)![1]));
    }
    await phone.send(`/read #ops ${seqs[0]}`);
    await phone.send("/who"); // the marker is kept before the answer
    await phone.expect(/^#ops WHO /);

    const identity = how === "certificate"
      ? await issueClientCertificate(ca, "alice")
      : undefined;
    using laptop = await TestClient.connect(
      s.port,
      undefined,
      undefined,
      identity,
    );
    const hello = await laptop.expect(/^HELLO .*epoch=/);
    await laptop.send("/cap rooms resume");
    await laptop.expect(/^CAP /);
    await laptop.send(`/resume ${/,epoch=([\w-]+)/.exec(hello)![1]} -`);
    await laptop.send("lap");
    await laptop.expect(/^WELCOME lap /);
    await laptop.expect(/^CURRENT #lobby$/);
    await laptop.send("/nick alice");
    if (how === "password") {
      await laptop.expect(/^PASSWORD account /);
      await laptop.send("/pass alice password");
    }
    await laptop.expect(/#lobby NICK lap alice /);
    await laptop.send("/join #ops");
    const caught = await linesThrough(laptop, /#ops RESUMED /);
    assert.deepEqual(
      caught.filter((line) => / MSG /.test(line)).map((line) =>
        line.replace(/^@seq=\d+;time=\S+ /, "")
      ),
      ["#ops MSG bob two", "#ops MSG bob three"],
    );
    assert.match(caught.at(-1)!, new RegExp(`^#ops RESUMED ${seqs[2]} 0 `));
    const after = await linesThrough(laptop, /READ /);
    assert.equal(after.at(-1), `#ops READ ${seqs[0]}`);
    assert.ok(after.every((line) => !/MSG|HIST/.test(line)), after.join("|"));
  });
}
