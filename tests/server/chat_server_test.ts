/**
 * End-to-end tests of the chat server in process: a real TLS listener on
 * 127.0.0.1 port 0 and real TLS clients, once per TLS engine. Covers the
 * protocol, commands, announcements, global order, limits and bad input.
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import * as net from "node:net";
import * as tls from "node:tls";
import {
  ENGINES,
  startServer,
  testCertificates,
  TestClient,
} from "../_helpers.ts";
import { FakeClock, FakeConnection } from "../_fakes.ts";

/**
 * Ends `count` flood waits of `ms` in turn on the server's fake `clock`,
 * each once the server is waiting (its reads are real I/O): time moves as
 * on an idle machine, never while a line is on its way. A wait that never
 * comes fails with what `client` has received.
 */
async function endFloodWaits(
  clock: FakeClock,
  client: TestClient,
  count: number,
  ms: number,
) {
  for (let i = 0; i < count; i++) {
    try {
      await clock.waitForTimer(ms);
    } catch (error) {
      (error as Error).message += ` (wait ${i + 1} of ${count}); received:\n${
        client.received.join("\n")
      }`;
      throw error;
    }
    await clock.advance(ms);
  }
}

for (const engine of ENGINES) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test(`[${engine}] ${name}`, fn);

  test("serveChat() greets, welcomes an alias and echoes its messages", async () => {
    await using s = await startServer(engine, ["--name", "testroom"]);
    using alice = await TestClient.connect(s.port);
    assert.match(
      await alice.readLine() ?? "",
      /^HELLO tlschat\/1 testroom rate=0,burst=10,line=4096,caps=ids\+rooms\+seq\+resume\+notice,epoch=[\w-]{22} Send your alias \(1 to 32 letters, digits, _ \. -\)$/,
    );
    await alice.send("alice");
    assert.equal(
      await alice.readLine(),
      "WELCOME alice 1 Type /help for commands",
    );
    await alice.send("hello, world");
    assert.equal(await alice.readLine(), "MSG alice hello, world");
    await s.logs.waitFor(
      /INFO join alias=alice addr=127\.0\.0\.1:\d+ online=1/,
    );
  });

  test("serveChat() delivers every message to every member, sender included", async () => {
    await using s = await startServer(engine);
    using alice = await TestClient.join(s.port, "alice");
    using bob = await TestClient.join(s.port, "bob");
    assert.equal(await alice.expect(/^JOIN /), "JOIN bob 2");
    await bob.send("hi alice");
    assert.equal(await bob.readLine(), "MSG bob hi alice");
    assert.equal(await alice.readLine(), "MSG bob hi alice");
    await alice.send("CRLF works too\r");
    assert.equal(await alice.readLine(), "MSG alice CRLF works too");
    assert.equal(await bob.readLine(), "MSG alice CRLF works too");
  });

  test("serveChat() lets a client retry after a refused alias", async () => {
    await using s = await startServer(engine);
    using alice = await TestClient.join(s.port, "Alice");
    using other = await TestClient.connect(s.port);
    await other.expect(/^HELLO /);
    const refusals: [string, RegExp][] = [
      ["alice", /^ERR alias-taken Cannot join room: alias "alice" is taken$/],
      ["SERVER", /^ERR alias-reserved /],
      ["bad alias", /^ERR alias-invalid /],
      ["x".repeat(33), /^ERR alias-invalid Alias is too long/],
      ["-dash", /^ERR alias-invalid /],
      ["\x1b[31mred", /^ERR alias-invalid /],
    ];
    for (const [alias, error] of refusals) {
      await other.send(alias);
      assert.match(await other.readLine() ?? "", error);
    }
    await other.send("x".repeat(32));
    assert.equal(
      await other.readLine(),
      `WELCOME ${"x".repeat(32)} 2 Type /help for commands`,
    );
    assert.equal(await alice.expect(/^JOIN /), `JOIN ${"x".repeat(32)} 2`);
  });

  test("serveChat() answers /nick, /who, /me, /help and unknown commands", async () => {
    await using s = await startServer(engine);
    using alice = await TestClient.join(s.port, "alice");
    using bob = await TestClient.join(s.port, "bob");
    await alice.expect(/^JOIN bob/);
    await alice.send("/nick Alicia");
    assert.equal(await alice.readLine(), "NICK alice Alicia 2");
    assert.equal(await bob.readLine(), "NICK alice Alicia 2");
    await s.logs.waitFor(/INFO rename alias=alice to=Alicia/);
    await bob.send("/nick alicia");
    assert.match(await bob.readLine() ?? "", /^ERR alias-taken /);
    await bob.send("/who");
    assert.equal(await bob.readLine(), "WHO 2 Alicia bob");
    await bob.send("/ME waves");
    assert.equal(await bob.readLine(), "ME bob waves");
    assert.equal(await alice.readLine(), "ME bob waves");
    await bob.send("/help");
    assert.match(await bob.readLine() ?? "", /^INFO \/nick NEW/);
    await bob.expect(/^INFO Any other line/);
    await bob.expect(
      /^INFO Room operators, in their room: \/topic TEXT, \/kick/,
    );
    await bob.expect(
      /^INFO Server operators, in every room: the above, and \/ban/,
    );
    await bob.send("/frobnicate now");
    assert.match(
      await bob.readLine() ?? "",
      /^ERR unknown-command Unknown command "\/frobnicate"/,
    );
    await bob.send("/me");
    assert.equal(await bob.readLine(), "ERR usage Usage: /me ACTION");
    await bob.send("//not a command");
    assert.equal(await bob.readLine(), "MSG bob /not a command");
    assert.equal(await alice.readLine(), "MSG bob /not a command");
  });

  test("serveChat() delivers /msg to its target only and confirms to the sender", async () => {
    await using s = await startServer(engine);
    using alice = await TestClient.join(s.port, "alice");
    using bob = await TestClient.join(s.port, "bob");
    using carol = await TestClient.join(s.port, "carol");
    await alice.expect(/^JOIN carol/);
    await bob.expect(/^JOIN carol/);
    await alice.send("/msg BOB psst, a secret");
    assert.equal(await alice.readLine(), "SENT bob psst, a secret");
    assert.equal(await bob.readLine(), "PRIV alice psst, a secret");
    await alice.send("/msg nobody1 hello?");
    assert.match(
      await alice.readLine() ?? "",
      /^ERR no-such-alias .*"nobody1"/,
    );
    await alice.send("/msg bob");
    assert.equal(await alice.readLine(), "ERR usage Usage: /msg ALIAS TEXT");
    // Carol saw none of it: her next line is the public one.
    await alice.send("public");
    assert.equal(await carol.readLine(), "MSG alice public");
    assert.equal(await bob.readLine(), "MSG alice public");
  });

  test("serveChat() announces joins, leaves with reasons, and renames with the online count", async () => {
    await using s = await startServer(engine);
    using alice = await TestClient.join(s.port, "alice");
    {
      using bob = await TestClient.join(s.port, "bob");
      assert.equal(await alice.readLine(), "JOIN bob 2");
      await bob.send("/quit gone fishing");
      assert.equal(await bob.readLine(), "BYE quit Goodbye");
      assert.equal(await bob.readLine(), null);
      assert.equal(await alice.readLine(), "LEAVE bob 1 quit gone fishing");
    }
    {
      using carol = await TestClient.join(s.port, "carol");
      assert.equal(await alice.readLine(), "JOIN carol 2");
      carol.conn.close();
      assert.equal(await alice.readLine(), "LEAVE carol 1 disconnect");
    }
    await s.logs.waitFor(
      /INFO leave alias=carol addr=127\.0\.0\.1:\d+ reason=disconnect online=1/,
    );
    await s.logs.waitFor(/INFO leave alias=bob .*reason=quit online=1/);
  });

  test("serveChat() announces an abrupt disconnect (TCP reset mid-line) as a leave", async () => {
    await using s = await startServer(engine);
    using alice = await TestClient.join(s.port, "alice");
    const { ca } = await testCertificates();
    // node:net can reset a TCP connection; TLS runs over it.
    const raw = net.connect({ host: "127.0.0.1", port: s.port });
    await once(raw, "connect");
    const bob = tls.connect({
      socket: raw,
      ca: ca.cert,
      servername: "localhost",
    });
    bob.setEncoding("utf8");
    let received = "";
    bob.on("data", (chunk: string) => received += chunk);
    await once(bob, "secureConnect");
    bob.write("bob\n");
    assert.equal(await alice.readLine(), "JOIN bob 2");
    bob.write("half a li");
    await alice.send("sync");
    assert.equal(await alice.readLine(), "MSG alice sync");
    raw.resetAndDestroy();
    assert.equal(await alice.readLine(), "LEAVE bob 1 disconnect");
    assert.match(received, /^HELLO .*\nWELCOME bob 2 /);
    if (engine === "deno") {
      // Proof that it was a reset, not a clean close (the node engine reports
      // a reset as a plain end of stream).
      await s.logs.waitFor(
        /DEBUG disconnect addr=127\.0\.0\.1:\d+ error="ConnectionReset/,
      );
    }
  });

  test("serveChat() keeps one global order across members and senders", async () => {
    await using s = await startServer(engine);
    const members = await Promise.all(
      ["m0", "m1", "m2", "m3"].map((alias) => TestClient.join(s.port, alias)),
    );
    try {
      const perSender = 50;
      await Promise.all(members.map(async (member, i) => {
        for (let n = 0; n < perSender; n++) {
          await member.send(`from ${i} #${n}`);
        }
      }));
      const seen = await Promise.all(members.map(async (member) => {
        const lines: string[] = [];
        while (lines.length < perSender * members.length) {
          const line = await member.readLine();
          assert.notEqual(line, null);
          if (line!.startsWith("MSG ")) lines.push(line!);
        }
        return lines;
      }));
      for (const lines of seen.slice(1)) assert.deepEqual(lines, seen[0]);
      // Each sender's own messages stay in the order sent.
      for (let i = 0; i < members.length; i++) {
        const mine = seen[0]!.filter((line) => line.startsWith(`MSG m${i} `));
        assert.deepEqual(
          mine,
          Array.from(
            { length: perSender },
            (_, n) => `MSG m${i} from ${i} #${n}`,
          ),
        );
      }
    } finally {
      for (const member of members) member[Symbol.dispose]();
    }
  });

  test("serveChat() never forwards control characters, escapes or bidi overrides", async () => {
    await using s = await startServer(engine);
    using alice = await TestClient.join(s.port, "alice");
    using bob = await TestClient.join(s.port, "bob");
    await alice.expect(/^JOIN bob/);
    await bob.send(
      "a\x1b[2Jb\x07c\x7fd\u0085e\u202Ef\u2066g\th\x1b]0;title\x07i\ry",
    );
    const expected = "MSG bob ab\uFFFDc\uFFFDd\uFFFDe\uFFFDf\uFFFDg\th" +
      "i\uFFFDy";
    assert.equal(await alice.readLine(), expected);
    await bob.send("/me \x1b[31mred\x00");
    assert.equal(await alice.readLine(), "ME bob red\uFFFD");
  });

  test("serveChat() passes on no text that would show as nothing", async () => {
    await using s = await startServer(engine);
    using alice = await TestClient.join(s.port, "alice");
    using bob = await TestClient.join(s.port, "bob");
    await alice.expect(/^JOIN bob/);
    // Zero-width and ordinary spaces, Hangul fillers, braille blanks.
    await bob.send("/me \u200B \u200B ");
    assert.equal(await bob.readLine(), "ERR usage Usage: /me ACTION");
    await bob.send("\u3164\u3164");
    await bob.send("\u2800 \u2800");
    await bob.send("/msg alice \u3164");
    assert.equal(await bob.readLine(), "ERR usage Usage: /msg ALIAS TEXT");
    await bob.send("/quit \u2800");
    assert.equal(await alice.readLine(), "LEAVE bob 1 quit");
  });

  test("serveChat() rejects invalid UTF-8 with an error line and goes on", async () => {
    await using s = await startServer(engine);
    using alice = await TestClient.join(s.port, "alice");
    await alice.send(new Uint8Array([0x68, 0xff, 0xfe, 0x69, 0x0a]));
    assert.equal(
      await alice.readLine(),
      "ERR bad-utf8 Line dropped: it is not valid UTF-8",
    );
    await alice.send("still here é");
    assert.equal(await alice.readLine(), "MSG alice still here é");
    // In one batch after a message: answered in the order sent.
    const bytes = (text: string) => new TextEncoder().encode(text);
    await alice.send(
      new Uint8Array([...bytes("first\n"), 0xff, 0x0a, ...bytes("/who\n")]),
    );
    assert.deepEqual(
      [await alice.readLine(), await alice.readLine(), await alice.readLine()],
      [
        "MSG alice first",
        "ERR bad-utf8 Line dropped: it is not valid UTF-8",
        "WHO 1 alice",
      ],
    );
  });

  test("serveChat() rejects an over-long line without harming anyone", async () => {
    await using s = await startServer(engine, ["--max-line-bytes", "100"]);
    using alice = await TestClient.join(s.port, "alice");
    using bob = await TestClient.join(s.port, "bob");
    await alice.expect(/^JOIN bob/);
    await alice.send("x".repeat(100));
    assert.equal(await alice.readLine(), `MSG alice ${"x".repeat(100)}`);
    assert.equal(await bob.readLine(), `MSG alice ${"x".repeat(100)}`);
    // 60 KiB without a line feed, in pieces: rejected once, never buffered.
    const piece = new TextEncoder().encode("y".repeat(6 * 1024));
    for (let i = 0; i < 10; i++) await alice.send(piece);
    await alice.send("\nafter");
    assert.equal(
      await alice.readLine(),
      "ERR line-too-long Line dropped: longer than 100 bytes",
    );
    assert.equal(await alice.readLine(), "MSG alice after");
    assert.equal(await bob.readLine(), "MSG alice after");
  });

  test("serveChat() carries the longest line at the least --queue-bytes (twice --max-line-bytes)", async () => {
    await using s = await startServer(engine, [
      "--max-line-bytes",
      "4096",
      "--queue-bytes",
      "8192",
    ]);
    using alice = await TestClient.join(s.port, "alice");
    using bob = await TestClient.join(s.port, "bob");
    await alice.expect(/^JOIN bob/);
    const text = "x".repeat(4096 - 1); // and its LF: 4,096 bytes
    await alice.send(text);
    assert.equal(await alice.readLine(), `MSG alice ${text}`);
    assert.equal(await bob.readLine(), `MSG alice ${text}`);
    await bob.send("still here");
    assert.equal(await alice.readLine(), "MSG bob still here");
  });

  test("serveChat() ends the connection of a line that goes on past --max-skip-bytes", async () => {
    await using s = await startServer(engine, [
      "--max-line-bytes",
      "100",
      "--max-skip-bytes",
      "10000",
    ]);
    using alice = await TestClient.join(s.port, "alice");
    using bob = await TestClient.join(s.port, "bob");
    await alice.expect(/^JOIN bob/);
    // 16 MiB with no line feed; the server stops reading it early.
    const piece = new TextEncoder().encode("y".repeat(64 * 1024));
    const sending = (async () => {
      for (let i = 0; i < 256; i++) await alice.send(piece);
    })().catch(() => "stopped");
    const rest = await alice.readToEnd();
    // The BYE is sent, though a reset may overtake it: the sender is abusive.
    for (const line of rest) {
      assert.match(
        line,
        /^(ERR line-too-long|BYE line-too-long Disconnected: a line went on past 10000 bytes)/,
      );
    }
    assert.equal(await sending, "stopped", "the server stopped reading");
    assert.equal(await bob.expect(/^LEAVE /), "LEAVE alice 1 line-too-long");
    await s.logs.waitFor(/INFO leave alias=alice .*reason=line-too-long/);
    await bob.send("unharmed");
    assert.equal(await bob.readLine(), "MSG bob unharmed");
  });

  test("serveChat() answers everything a client sent before it ended its side", async () => {
    await using s = await startServer(engine);
    const { ca } = await testCertificates();
    for (let i = 0; i < 10; i++) {
      using conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: s.port,
        caCerts: [ca.cert],
      });
      await conn.write(new TextEncoder().encode(`n${i}\n/who\nhi\n/quit\n`));
      await conn.closeWrite();
      const text = await new Response(conn.readable).text();
      assert.match(
        text,
        new RegExp(
          `^HELLO .*\nWELCOME n${i} 1 .*\n${
            // What the ones before said, as history.
            i === 0
              ? ""
              : `(HIST \\d+ \\S+ MSG n\\d hi\n){${i}}HISTEND ${i} .*\n`}WHO 1 n${i}\nMSG n${i} hi\nBYE quit Goodbye\n$`,
        ),
        `run ${i}`,
      );
    }
  });

  test("serveChat() sends BYE timeout to a client that never picks an alias", async () => {
    await using s = await startServer(engine, ["--alias-timeout", "0.3"]);
    using client = await TestClient.connect(s.port);
    assert.match(await client.readLine() ?? "", /^HELLO /);
    assert.equal(
      await client.readLine(),
      "BYE timeout No alias chosen within 0.3 s",
    );
    assert.equal(await client.readLine(), null);
  });

  test("serveChat() times out a TLS handshake that never starts", async () => {
    await using s = await startServer(engine, ["--handshake-timeout", "0.3"]);
    const raw = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    try {
      await s.logs.waitFor(
        /DEBUG handshake-failed addr=127\.0\.0\.1:\d+ error=timeout/,
      );
      if (engine === "node") {
        // The node engine closes the socket at once: end of stream.
        assert.equal(
          await raw.read(new Uint8Array(16)).catch(() => null),
          null,
        );
      } else {
        // Deno cannot abort a pending handshake (see lib/transport.ts): the
        // connection keeps its slot in the caps until the peer goes away.
        assert.equal(s.server.connections, 1);
      }
    } finally {
      raw.close();
    }
    await s.logs.waitFor(/DEBUG closed addr=127\.0\.0\.1:\d+/);
    assert.equal(s.server.connections, 0);
  });

  test("serveChat() survives plaintext, garbage and truncated handshakes", async () => {
    await using s = await startServer(engine);
    const attempts = [
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      "\x00\x01\x02garbage\xff\xfe".repeat(50),
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a ClientHello cut short
    ];
    for (const bytes of attempts) {
      using raw = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
      await raw.write(Uint8Array.from(bytes, (c) => c.charCodeAt(0)));
      if (bytes.startsWith("\x16")) await raw.closeWrite();
      await raw.read(new Uint8Array(1024)).catch(() => null);
    }
    await s.logs.waitFor(/DEBUG handshake-failed/);
    using alice = await TestClient.join(s.port, "alice");
    await alice.send("still accepting");
    assert.equal(await alice.readLine(), "MSG alice still accepting");
    assert.ok(s.server.metrics.handshakeFailures >= 3);
  });

  test("serveChat() refuses connections over --max-clients with a BYE line", async () => {
    await using s = await startServer(engine, ["--max-clients", "2"]);
    using alice = await TestClient.join(s.port, "alice");
    using bob = await TestClient.join(s.port, "bob");
    using third = await TestClient.connect(s.port);
    assert.equal(
      await third.readLine(),
      "BYE server-full Server is full: 2 connections",
    );
    assert.equal(await third.readLine(), null);
    await s.logs.waitFor(
      /INFO refused addr=127\.0\.0\.1:\d+ reason=server-full/,
    );
    const bobAddr = `127\\.0\\.0\\.1:${bob.conn.localAddr.port}`;
    bob.conn.close();
    await alice.expect(/^LEAVE bob/);
    // Bob's place is free once his socket is closed, which may come after
    // alice hears him leave: the server logs "closed" right after.
    await s.logs.waitFor(new RegExp(`DEBUG closed addr=${bobAddr}$`));
    using fourth = await TestClient.join(s.port, "dave");
    await fourth.send("in");
    assert.equal(await fourth.readLine(), "MSG dave in");
  });

  test("serveChat() refuses connections over --max-per-ip with a BYE line", async () => {
    await using s = await startServer(engine, ["--max-per-ip", "2"]);
    using _a = await TestClient.join(s.port, "a");
    using b = await TestClient.connect(s.port);
    using c = await TestClient.connect(s.port);
    assert.match(await b.readLine() ?? "", /^HELLO /);
    assert.equal(
      await c.readLine(),
      "BYE ip-limit Too many connections from 127.0.0.1: at most 2",
    );
    await s.logs.waitFor(/INFO refused .*reason=ip-limit/);
  });

  test("serveChat() throttles a flooder, then disconnects it, and others stay", async () => {
    // Every line takes a token, the alias line included: 4 of the burst of 5
    // are left, then 5 lines are delayed (0.2 s apart), and the next is one
    // too many. The server's time moves only as the flood waits end (a fake
    // clock): a slow join or a late timer on a loaded machine changes nothing.
    const clock = new FakeClock();
    await using s = await startServer(engine, [
      "--flood-rate",
      "5",
      "--flood-burst",
      "5",
    ], { clock });
    using alice = await TestClient.join(s.port, "alice");
    using flooder = await TestClient.join(s.port, "flooder");
    await alice.expect(/^JOIN flooder/);
    const lines = Array.from({ length: 40 }, (_, i) => `spam ${i}\n`).join("");
    await flooder.send(new TextEncoder().encode(lines));
    const rest = flooder.readToEnd();
    rest.catch(() => {}); // awaited below
    await endFloodWaits(clock, flooder, 5, 200);
    assert.deepEqual(await rest, [
      ...Array.from({ length: 4 }, (_, i) => `MSG flooder spam ${i}`),
      "ERR flood Slow down: more than 5 lines per second; your lines are delayed, and you will be disconnected if you keep on",
      ...Array.from({ length: 5 }, (_, i) => `MSG flooder spam ${i + 4}`),
      "BYE flood Disconnected for flooding: kept sending more than 5 lines per second",
    ]);
    assert.equal(
      await alice.expect(/^LEAVE /),
      "LEAVE flooder 1 flood kicked for flooding",
    );
    await s.logs.waitFor(/INFO leave alias=flooder .*reason=flood online=1/);
    await alice.send("calm");
    assert.equal(await alice.readLine(), "MSG alice calm");
  });

  test("serveChat() delays but keeps a client that stays within the burst", async () => {
    // The alias takes 1 of the burst of 4, then lines 4 and 5 wait 0.2 s each
    // (the server's time moves only as those waits end: a fake clock).
    const clock = new FakeClock();
    await using s = await startServer(engine, [
      "--flood-rate",
      "5",
      "--flood-burst",
      "4",
    ], { clock });
    using alice = await TestClient.join(s.port, "alice");
    await alice.send(new TextEncoder().encode("1\n2\n3\n4\n5\n"));
    const got = Array.fromAsync({ length: 6 }, () => alice.readLine());
    got.catch(() => {}); // awaited below
    await endFloodWaits(clock, alice, 2, 200);
    assert.deepEqual(await got, [
      "MSG alice 1",
      "MSG alice 2",
      "MSG alice 3",
      "ERR flood Slow down: more than 5 lines per second; your lines are delayed, and you will be disconnected if you keep on",
      "MSG alice 4",
      "MSG alice 5",
    ]);
    // Sent at once, still at the rate's limit: delayed, no new warning.
    await alice.send("later");
    const later = alice.readLine();
    later.catch(() => {}); // awaited below
    await endFloodWaits(clock, alice, 1, 200);
    assert.equal(await later, "MSG alice later");
  });

  test("serveChat() disconnects a member that does not read, and others keep up", async () => {
    await using s = await startServer(engine, [
      "--queue-bytes",
      "65536",
      "--max-line-bytes",
      "4096",
    ]);
    using alice = await TestClient.join(s.port, "alice");
    using _sleeper = await TestClient.join(s.port, "sleeper");
    await alice.expect(/^JOIN sleeper/);
    // The sleeper never reads again. Kernel buffers take a few MiB first.
    const text = "z".repeat(4000);
    let sent = 0;
    let left: string | null = null;
    while (left === null) {
      await alice.send(`${sent++} ${text}`);
      let line: string;
      do {
        line = (await alice.readLine())!;
        if (line.startsWith("LEAVE ")) left = line;
      } while (!line.startsWith("MSG alice"));
      assert.ok(sent < 10_000, "the sleeper was never disconnected");
    }
    assert.equal(left, "LEAVE sleeper 1 slow");
    await s.logs.waitFor(/INFO leave alias=sleeper .*reason=slow/);
    await alice.send("still fast");
    assert.equal(await alice.readLine(), "MSG alice still fast");
  });

  test("serveChat() pings a silent member, then disconnects it", async () => {
    // The server's time moves only when told (a fake clock): alice's answer
    // is read before the deadline comes however loaded the machine is.
    const clock = new FakeClock();
    await using s = await startServer(engine, ["--idle-timeout", "1"], {
      clock,
    });
    using alice = await TestClient.join(s.port, "alice");
    using quiet = await TestClient.join(s.port, "quiet");
    await alice.expect(/^JOIN quiet/);
    await clock.advance(500);
    assert.match(await alice.expect(/^PING /), /^PING \d+$/);
    assert.match(await quiet.expect(/^PING /), /^PING \d+$/);
    await alice.send("/pong");
    await alice.send("pong sent");
    assert.equal(await alice.expect(/^MSG /), "MSG alice pong sent");
    await clock.advance(500);
    assert.deepEqual(await quiet.readToEnd(), [
      "MSG alice pong sent",
      "BYE timeout Disconnected: silent for 1 s",
    ]);
    assert.equal(await alice.expect(/^LEAVE /), "LEAVE quiet 1 timeout");
    await alice.send("still here");
    assert.equal(await alice.expect(/^MSG /), "MSG alice still here");
  });

  test("ChatServer.close() sends everyone BYE shutdown and closes", async () => {
    const s = await startServer(engine);
    using alice = await TestClient.join(s.port, "alice");
    using bob = await TestClient.join(s.port, "bob");
    await alice.expect(/^JOIN bob/);
    await s.server.close();
    assert.deepEqual(await bob.readToEnd(), [
      "BYE shutdown Server is shutting down",
    ]);
    assert.deepEqual(await alice.readToEnd(), [
      "BYE shutdown Server is shutting down",
    ]);
    await s.logs.waitFor(
      /INFO shutdown uptimeS=[\d.]+ connections=2 joins=2 peak=2/,
    );
  });

  test("serveChat() summarises joins and leaves above --announce-limit", async () => {
    await using s = await startServer(engine, ["--announce-limit", "2"]);
    using alice = await TestClient.join(s.port, "alice");
    using bob = await TestClient.join(s.port, "bob");
    assert.equal(await alice.readLine(), "JOIN bob 2");
    const c = await TestClient.join(s.port, "carol");
    using d = await TestClient.join(s.port, "dave");
    c[Symbol.dispose]();
    await s.logs.waitFor(/INFO leave alias=carol/);
    await bob.send("hi");
    assert.equal(await alice.readLine(), "PRESENCE 2 1 3");
    assert.equal(await alice.readLine(), "MSG bob hi");
    assert.equal(await d.readLine(), "PRESENCE 2 1 3");
    assert.equal(await d.readLine(), "MSG bob hi");
  });
}

for (const engine of ENGINES) {
  Deno.test(`[${engine}] serveChat() stops reading from a throttled client: TCP pushes back until flood control ends it`, async () => {
    // Both engines stop reading while a client's lines wait (the node
    // engine at the TCP socket under node:tls, which reads ahead): the 4 MiB
    // below never reach the server, and what it holds stays far below
    // --max-input-bytes, so flood control, not the input cap, ends it.
    await using s = await startServer(engine, [
      "--flood-rate",
      "10",
      "--flood-burst",
      "5",
    ]);
    using alice = await TestClient.join(s.port, "alice");
    using flooder = await TestClient.join(s.port, "flooder");
    await alice.expect(/^JOIN flooder/);
    const lines = new TextEncoder().encode("spam\n".repeat(64 * 1024 / 5));
    const sending = (async () => {
      for (let i = 0; i < 64; i++) await flooder.send(lines);
    })().catch(() => "stopped");
    const bye = (await flooder.readToEnd()).find((l) => l.startsWith("BYE"));
    assert.equal(
      bye,
      "BYE flood Disconnected for flooding: kept sending more than 10 lines per second",
    );
    flooder.conn.close();
    assert.equal(await sending, "stopped");
    assert.equal(
      await alice.expect(/^LEAVE /),
      "LEAVE flooder 1 flood kicked for flooding",
    );
    await alice.send("calm");
    assert.equal(await alice.expect(/^MSG /), "MSG alice calm");
  });
}

Deno.test("[deno] serveChat() stops accepting while --max-unreleased sockets wait to be released", async () => {
  // Deno.listenTls cannot abort a pending handshake: a silent peer keeps
  // its socket after the server closed it. Such sockets are counted, and
  // accepting pauses before they can use up the process's descriptors.
  await using s = await startServer("deno", [
    "--handshake-timeout",
    "0.2",
    "--max-unreleased",
    "10",
  ]);
  const silent: Deno.TcpConn[] = [];
  const connect = () => Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    for (let i = 0; i < 10; i++) silent.push(await connect());
    await s.logs.waitFor(/handshake-failed .*error=timeout/, { count: 10 });
    // The next connection is accepted, and then accepting pauses.
    silent.push(await connect());
    await s.logs.waitFor(/WARN accept-paused unreleased=10 limit=10/);
    for (let i = 0; i < 5; i++) silent.push(await connect());
    const joining = TestClient.join(s.port, "patient");
    // Its TCP connection waits in the kernel's queue, unaccepted.
    assert.equal(s.server.admission.stats.accepted, 11);
    for (const conn of silent.splice(0, 11)) conn.close();
    await s.logs.waitFor(/INFO accept-resumed/);
    using patient = await joining;
    await patient.send("in at last");
    assert.equal(await patient.expect(/^MSG /), "MSG patient in at last");
  } finally {
    for (const conn of silent) conn.close();
  }
});

Deno.test("serveChat() listens on IPv6 loopback too", async () => {
  await using s = await startServer("deno", ["--host", "::1"]);
  using alice = await TestClient.connect(s.port, "::1");
  await alice.expect(/^HELLO /);
  await alice.send("v6");
  assert.equal(await alice.readLine(), "WELCOME v6 1 Type /help for commands");
  await s.logs.waitFor(/INFO join alias=v6 addr=\[::1\]:\d+/);
});

Deno.test("serveChat() logs a connection whose serving fails, lets its place go and still shuts down", async () => {
  await using s = await startServer("deno", ["--max-clients", "1"]);
  const first = s.server.admission.enter("127.0.0.1", "127.0.0.1:5000");
  // Over --max-clients: refused, and its goodbye fails.
  const refused = s.server.admission.enter("127.0.0.1", "127.0.0.1:5001");
  assert.equal(refused.refusal?.reason, "server-full");
  const failing = new class extends FakeConnection {
    override close(): Promise<void> {
      return Promise.reject(new Error("goodbye failed"));
    }
  }("127.0.0.1:5001");
  s.server.admit(failing, refused);
  await s.logs.waitFor(
    /ERROR connection-failed addr=127\.0\.0\.1:5001 error=.*goodbye failed/,
  );
  assert.ok(failing.aborted, "the connection is dropped");
  assert.equal(s.server.connections, 1, "its place is free again");
  first.leave();
  await s.server.close();
});
