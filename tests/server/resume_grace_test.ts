/**
 * Short drops end to end (capability `resume`), in process: a real TLS
 * listener on 127.0.0.1 and real TLS clients. A member that drops for a
 * moment and comes back with its token, or by logging into its account,
 * is seen by nobody to leave or join; a wrong token is refused; the grace
 * running out gives the `LEAVE`.
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "../_helpers.ts";

/** Joins as `alias` with `resume` on, past its `RESUME`; returns the token. */
async function resumer(
  port: number,
  alias: string,
  password?: string,
): Promise<{ client: TestClient; token: string; epoch: string }> {
  const client = await TestClient.connect(port);
  const hello = await client.expect(/^HELLO /);
  const epoch = /epoch=([A-Za-z0-9_-]+)/.exec(hello)?.[1] ?? "x";
  await client.send("/cap resume");
  await client.expect(/^CAP /);
  await client.send(alias);
  if (password !== undefined) {
    await client.expect(/^PASSWORD /);
    await client.send(`/pass ${password}`);
  }
  await client.expect(new RegExp(`^WELCOME ${alias} `));
  const resume = await client.expect(/^RESUME /);
  const [, token, seconds] = resume.split(" ");
  assert.match(token!, /^[A-Za-z0-9_-]{22}$/);
  assert.ok(Number(seconds) > 0);
  return { client, token: token!, epoch };
}

Deno.test({
  name:
    "resume: a member back with its token within the grace is seen by nobody to go",
  fn: async () => {
    await using s = await startServer("node", ["--resume-grace", "30"]);
    using bob = await TestClient.join(s.port, "bob");
    const alice = await resumer(s.port, "alice");
    await bob.expect(/^JOIN alice 2$/);
    alice.client[Symbol.dispose]();
    await s.logs.waitFor(/ INFO held alias=/);
    await bob.send("/msg alice psst");
    assert.equal(
      await bob.expect(/^ERR /),
      "ERR away alice is reconnecting; try again shortly",
    );
    await bob.send("said while alice was away");
    await bob.expect(/^MSG bob said while/);
    using back = await TestClient.connect(s.port);
    await back.expect(/^HELLO /);
    await back.send("/cap resume");
    await back.expect(/^CAP /);
    await back.send(`/resume ${alice.epoch} - wrong${"A".repeat(17)}`);
    assert.equal(
      await back.expect(/^ERR /),
      "ERR resume-expired Your session ended; choose your alias again",
    );
    await back.send(`/resume ${alice.epoch} - ${alice.token}`);
    assert.match(await back.expect(/^WELCOME /), /^WELCOME alice 2 /);
    const token = (await back.expect(/^RESUME /)).split(" ")[1];
    assert.notEqual(token, alice.token);
    await back.send("back again");
    await back.expect(/MSG alice back again$/);
    assert.match(await bob.expect(/MSG alice/), /MSG alice back again$/);
    // The token was used once: it holds nothing now.
    using late = await TestClient.connect(s.port);
    await late.expect(/^HELLO /);
    await late.send("/cap resume");
    await late.expect(/^CAP /);
    await late.send(`/resume ${alice.epoch} - ${alice.token}`);
    assert.match(await late.expect(/^ERR /), /^ERR resume-expired /);
    await bob.send("/who");
    assert.equal(await bob.expect(/^WHO /), "WHO 2 alice bob");
    await bob.send("/quit");
    await bob.readToEnd();
    // Bob saw alice join once, and never leave or join again.
    assert.deepEqual(
      bob.received.filter((line) => /^(JOIN|LEAVE) alice/.test(line)),
      ["JOIN alice 2"],
    );
    assert.ok(!s.logs.lines.some((line) => line.includes(alice.token)));
  },
});

Deno.test({
  name:
    "resume: an account logging in again takes its held member over; the grace running out gives the LEAVE",
  fn: async () => {
    // The grace must outlast logging in again (a TLS handshake and a scrypt
    // check: up to a second measured on a loaded 2-core machine), and run
    // out well within WAIT_MS (5 s) for bob's LEAVE: 3 s.
    await using s = await startServer("node", ["--resume-grace", "3"]);
    await s.server.gate.accounts.add("carol", "pw-carol");
    using bob = await TestClient.join(s.port, "bob");
    const carol = await resumer(s.port, "carol", "pw-carol");
    await bob.expect(/^JOIN carol 2$/);
    carol.client[Symbol.dispose]();
    await s.logs.waitFor(/ INFO held alias=/);
    const again = await resumer(s.port, "carol", "pw-carol");
    await again.client.send("here");
    assert.match(await bob.expect(/MSG carol/), /^MSG carol here$/);
    // Dropped again, and not back within the grace: it leaves.
    again.client[Symbol.dispose]();
    assert.equal(await bob.expect(/^LEAVE /), "LEAVE carol 1 disconnect");
    assert.deepEqual(
      bob.received.filter((line) => /^(JOIN|LEAVE) carol/.test(line)),
      ["JOIN carol 2", "LEAVE carol 1 disconnect"],
    );
  },
});

/**
 * A TCP relay to `port` for one connection. Once `cut`, it forwards
 * nothing more from its client (not even TLS's goodbye) and keeps its
 * connection to the server open and silent: a half-open TCP connection,
 * as the server sees it (it reads what the server still sends);
 * `serverClosed` resolves once the server closes that connection.
 */
function halfOpenRelay(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let cut = false;
  const relayed = listener.accept().then(async (client) => {
    const server = await Deno.connect({ hostname: "127.0.0.1", port });
    const up = (async () => {
      const toServer = server.writable.getWriter();
      for await (const chunk of client.readable) {
        if (!cut) await toServer.write(chunk).catch(() => {});
      }
      toServer.releaseLock();
    })().catch(() => {});
    const toClient = client.writable.getWriter();
    let clientGone = false;
    for await (const chunk of server.readable) {
      if (!clientGone) {
        await toClient.write(chunk).catch(() => clientGone = true);
      }
    }
    await up;
    toClient.releaseLock();
    for (const conn of [client, server]) {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }
  });
  return {
    port: (listener.addr as Deno.NetAddr).port,
    cut: () => cut = true,
    serverClosed: relayed,
    [Symbol.dispose]: () => listener.close(),
  };
}

Deno.test({
  name:
    "resume: a token takes over a connection that still looks alive (half-open TCP): the server closes the old one, nobody sees the member go",
  fn: async () => {
    await using s = await startServer("node", ["--resume-grace", "30"]);
    using bob = await TestClient.join(s.port, "bob");
    using relay = halfOpenRelay(s.port);
    const alice = await resumer(relay.port, "alice");
    await bob.expect(/^JOIN alice 2$/);
    // Alice's side goes; the server's connection stays open: not held.
    relay.cut();
    alice.client[Symbol.dispose]();
    await bob.send("while alice's link is dead");
    await bob.expect(/^MSG bob while/);
    assert.ok(!s.logs.lines.some((line) => / held /.test(line)));
    using back = await TestClient.connect(s.port);
    await back.expect(/^HELLO /);
    await back.send("/cap resume");
    await back.expect(/^CAP /);
    await back.send(`/resume ${alice.epoch} - ${alice.token}`);
    assert.match(await back.expect(/^WELCOME /), /^WELCOME alice 2 /);
    await back.expect(/^RESUME /);
    // The server closed the old connection at once (BYE replaced).
    await relay.serverClosed;
    await s.logs.waitFor(/ INFO replaced alias=alice/);
    await back.send("on the new link");
    assert.match(await bob.expect(/MSG alice/), /^MSG alice on the new link$/);
    await bob.send("/who");
    assert.equal(await bob.expect(/^WHO /), "WHO 2 alice bob");
    assert.deepEqual(
      bob.received.filter((line) => /^(JOIN|LEAVE) alice/.test(line)),
      ["JOIN alice 2"],
    );
    assert.ok(!s.logs.lines.some((line) => line.includes(alice.token)));
  },
});

Deno.test({
  name:
    "resume: held members count in --max-per-ip (and --max-clients) among held ones: past it a dropped member leaves at once",
  fn: async () => {
    // Before, one address made 1,676 held members in 4.8 s (dropping each
    // connection once joined) on a server of --max-clients 30.
    await using s = await startServer("node", [
      "--resume-grace",
      "30",
      "--max-per-ip",
      "3",
    ]);
    for (const alias of ["g1", "g2", "g3"]) {
      const ghost = await resumer(s.port, alias);
      ghost.client[Symbol.dispose]();
      await s.logs.waitFor(new RegExp(` INFO held alias=${alias} `));
    }
    using bob = await TestClient.join(s.port, "bob");
    const fourth = await resumer(s.port, "g4");
    await bob.expect(/^JOIN g4 5$/);
    fourth.client[Symbol.dispose]();
    assert.equal(await bob.expect(/^LEAVE /), "LEAVE g4 4 disconnect");
    await bob.send("/who");
    assert.equal(await bob.expect(/^WHO /), "WHO 4 bob g1 g2 g3");
    assert.ok(!s.logs.lines.some((line) => / held alias=g4 /.test(line)));
  },
});

Deno.test({
  name:
    "resume: guests that fill --max-per-ip's held places stop no account holder from that address being held: nobody sees it leave",
  fn: async () => {
    // Before, behind one NAT the guests held took the account holder's
    // place too: its drop gave LEAVE carol 4 disconnect at once.
    await using s = await startServer("node", [
      "--resume-grace",
      "30",
      "--max-per-ip",
      "3",
    ]);
    await s.server.gate.accounts.add("carol", "pw-carol");
    for (const alias of ["g1", "g2", "g3"]) {
      const ghost = await resumer(s.port, alias);
      ghost.client[Symbol.dispose]();
      await s.logs.waitFor(new RegExp(` INFO held alias=${alias} `));
    }
    using bob = await TestClient.join(s.port, "bob");
    const carol = await resumer(s.port, "carol", "pw-carol");
    await bob.expect(/^JOIN carol 5$/);
    carol.client[Symbol.dispose]();
    // Held, or (before) left at once: either is logged once it dropped.
    const dropped = await s.logs.waitFor(/ INFO (held|leave) alias=carol /);
    // A room line after the drop: any LEAVE of carol came before it.
    await bob.send("after carol's drop");
    await bob.expect(/^MSG bob after carol's drop$/);
    assert.deepEqual(bob.received.filter((line) => /^LEAVE /.test(line)), []);
    assert.match(dropped, / INFO held alias=carol /);
    await bob.send("/who");
    assert.equal(await bob.expect(/^WHO /), "WHO 5 bob carol g1 g2 g3");
  },
});
