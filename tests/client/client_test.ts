// deno-lint-ignore-file no-control-regex -- these tests look for terminal codes
/**
 * End-to-end tests of `client.ts` as a real process against a real TLS
 * server: script (pipe) mode, every connection error, and terminal mode on a
 * pseudo-terminal.
 */

import assert from "node:assert/strict";
import {
  generateCa,
  issueServerCertificate,
} from "../../lib/cert_authority.ts";
import {
  runClient,
  startServer,
  TerminalClient,
  testCertificates,
  TestClient,
  WAIT_MS,
  withTempDir,
} from "../_helpers.ts";

/**
 * A TLS server (test certificate) that answers one connection with `reply`,
 * reads whatever comes back once, and hangs up.
 */
async function serveOnce(reply: string) {
  const { server } = await testCertificates();
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    ...server,
  });
  const serving = listener.accept().then(async (conn) => {
    await conn.write(new TextEncoder().encode(reply));
    await conn.read(new Uint8Array(100)).catch(() => null);
    conn.close();
  });
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      await serving;
      listener.close();
    },
  };
}

/** Runs the body with the test CA written to a temporary `ca.pem`. */
function withCaFile(body: (caFile: string) => Promise<void>): Promise<void> {
  return withTempDir(async (dir) => {
    const caFile = `${dir}/ca.pem`;
    await Deno.writeTextFile(caFile, (await testCertificates()).ca.cert);
    await body(caFile);
  });
}

const permissions = (port: number, caFile: string) => [
  `--allow-net=127.0.0.1:${port}`,
  `--allow-read=${caFile}`,
];
/** Runs client.ts against 127.0.0.1:port, trusting caFile, as `alias`. */
const runClientAt = (port: number, caFile: string, alias: string, stdin = "") =>
  runClient(permissions(port, caFile), [
    ...target(port, caFile),
    "--alias",
    alias,
  ], stdin);
/** Flags for 127.0.0.1:port (no reconnecting: each test ends the server). */
const target = (port: number, caFile: string) => [
  "--host",
  "127.0.0.1",
  "--port",
  String(port),
  "--ca",
  caFile,
  "--no-reconnect",
];

Deno.test("client.ts sends stdin lines and prints what the room says (pipe mode)", async () => {
  await using s = await startServer("deno");
  using alice = await TestClient.join(s.port, "alice");
  await withCaFile(async (caFile) => {
    const result = await runClient(
      permissions(s.port, caFile),
      [...target(s.port, caFile), "--alias", "bot"],
      "hello from a script\n/me beeps\nno newline at the end",
    );
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split("\n"), [
      "-!- Connected to tlschat (tlschat/1)",
      "-!- Welcome, bot! 2 online. Type /help for commands",
      "<bot> hello from a script",
      "* bot beeps",
      "<bot> no newline at the end",
      "-!- Disconnected: Goodbye",
    ]);
    assert.equal(result.stderr, "");
  });
  assert.equal(await alice.readLine(), "JOIN bot 2");
  assert.equal(await alice.readLine(), "MSG bot hello from a script");
  assert.equal(await alice.readLine(), "ME bot beeps");
  assert.equal(await alice.readLine(), "MSG bot no newline at the end");
  assert.equal(await alice.readLine(), "LEAVE bot 1 quit");
});

Deno.test("client.ts in pipe mode prints what someone wrote as it was sent: no bidi isolates (FSI…PDI) a file or a script would keep", async () => {
  await using s = await startServer("deno");
  using alice = await TestClient.join(s.port, "alice");
  await withCaFile(async (caFile) => {
    const result = await runClient(
      permissions(s.port, caFile),
      [...target(s.port, caFile), "--alias", "bot"],
      "שלום עולם!",
    );
    assert.equal(result.code, 0, result.stderr);
    assert.ok(
      result.stdout.split("\n").includes("<bot> שלום עולם!"),
      JSON.stringify(result.stdout),
    );
  });
  assert.equal(await alice.readLine(), "JOIN bot 2");
  assert.equal(await alice.readLine(), "MSG bot שלום עולם!");
});

Deno.test("client.ts paces piped lines to the server's flood limits and is never kicked", async () => {
  await using s = await startServer("node", [
    "--flood-rate",
    "20",
    "--flood-burst",
    "5",
  ]);
  using alice = await TestClient.join(s.port, "alice");
  const lines = Array.from({ length: 30 }, (_, i) => String(i + 1));
  await withCaFile(async (caFile) => {
    const result = await runClientAt(
      s.port,
      caFile,
      "ci-bot",
      lines.join("\n") + "\n",
    );
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.doesNotMatch(result.stdout, /Slow down|flood/);
  });
  await alice.expect(/^JOIN ci-bot/);
  for (const line of lines) {
    assert.equal(await alice.expect(/^MSG /), `MSG ci-bot ${line}`);
  }
  assert.equal(await alice.expect(/^LEAVE /), "LEAVE ci-bot 1 quit");
});

Deno.test("client.ts lets nothing a hostile server sends drive the terminal", async () => {
  const evil = "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;c2VjcmV0\x07";
  await using listener = await serveOnce(
    "HELLO tlschat/1 evil rate=0 hi\n" +
      "WELCOME alice 1 welcome\n" +
      `NICK alice alice${evil} 1\n` +
      `MSG bob${evil} text${evil}\n` +
      `UNKNOWN ${evil}\n`,
  );
  await withCaFile(async (caFile) => {
    await using term = new TerminalClient(
      permissions(listener.port, caFile),
      [...target(listener.port, caFile), "--alias", "alice"],
    );
    await term.exited();
    await term.waitFor(/<bob> text/);
    // No OSC (title, clipboard) and no screen clearing, prompt included.
    assert.doesNotMatch(term.raw, /\x1b\]|\x1b\[2J|pwned|c2VjcmV0/);
    // The prompt kept the last well-formed alias the server sent.
    assert.match(term.text, /<bob> text\nalice> /);
  });
});

Deno.test("client.ts explains a refused connection", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await withCaFile(async (caFile) => {
    const result = await runClientAt(port, caFile, "x", "");
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.trim(),
      `Cannot connect to 127.0.0.1:${port}: connection refused. Is the server running, on this host and port?`,
    );
  });
});

Deno.test("client.ts names an IPv6 server [::1]:PORT, and the --allow-net it lacks in Deno's own syntax", async () => {
  await withCaFile(async (caFile) => {
    const server = "[::1]:7443";
    const result = await runClient(
      [`--allow-read=${caFile}`, "--allow-net=127.0.0.1"],
      ["--server", server, "--ca", caFile, "--alias", "x", "--no-reconnect"],
      "",
    );
    assert.equal(result.code, 1);
    // Deno refuses --allow-net=::1:7443 ("invalid empty host").
    assert.equal(
      result.stderr.trim(),
      `Cannot connect to ${server}: no network permission. Run with --allow-net=${server}`,
    );
  });
});

Deno.test("client.ts explains an untrusted server certificate and names the CA file", async () => {
  await using s = await startServer("deno");
  const otherCa = await generateCa("some other CA");
  const dir = await Deno.makeTempDir();
  try {
    const caFile = `${dir}/wrong-ca.pem`;
    await Deno.writeTextFile(caFile, otherCa.cert);
    const result = await runClientAt(s.port, caFile, "x", "");
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(
        `^Cannot verify the server's certificate: it is not signed by the CA in "${caFile}"\\. ` +
          "Get the server's CA file \\(the server prints its path and SHA-256 fingerprint at start, by default certs/ca.pem on the server host\\)",
      ),
    );
    // Another CA of the same name (every dev CA is "tlschat dev CA": the
    // CA file of another server, or one made anew with --new-ca) said
    // "invalid peer certificate: BadSignature", with nothing to do.
    const twin = `${dir}/twin-ca.pem`;
    await Deno.writeTextFile(twin, (await generateCa("tlschat test CA")).cert);
    const twinResult = await runClientAt(s.port, twin, "x", "");
    assert.equal(twinResult.code, 1);
    assert.match(
      twinResult.stderr,
      new RegExp(
        `^Cannot verify the server's certificate: it is not signed by the CA in "${twin}"\\. ` +
          "Get the server's CA file",
      ),
    );
    // Without --ca and no readable certs/ca.pem, the system roots are used.
    const system = await runClient(
      [`--allow-net=127.0.0.1:${s.port}`],
      ["--host", "127.0.0.1", "--port", String(s.port), "--alias", "x"],
      "",
    );
    assert.equal(system.code, 1);
    assert.match(
      system.stderr,
      /^Cannot verify the server's certificate: no CA the system trusts signed it\. .* pass it with --ca FILE/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("client.ts explains a hostname that the certificate does not cover", async () => {
  const { ca } = await testCertificates();
  const other = await issueServerCertificate(ca, ["chat.example"]);
  using listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...other });
  const accepting = listener.accept().then(async (conn) => {
    await conn.handshake().catch(() => {});
    conn.close();
  });
  await withCaFile(async (caFile) => {
    const port = listener.addr.port;
    const result = await runClientAt(port, caFile, "x", "");
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.trim(),
      `Cannot verify the server's certificate: it is not valid for "127.0.0.1" (it is valid for chat.example). ` +
        "Connect with a name it is valid for, or have the server issue one with: deno task certs --san 127.0.0.1",
    );
  });
  await accepting;
});

Deno.test("client.ts reports a refused alias and exits 1 when not on a terminal", async () => {
  await using s = await startServer("deno");
  using _alice = await TestClient.join(s.port, "alice");
  await withCaFile(async (caFile) => {
    const result = await runClientAt(s.port, caFile, "ALICE", "hi\n");
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      /^! Cannot join room: alias "ALICE" is taken$/m,
    );
    const missing = await runClient(
      permissions(s.port, caFile),
      target(s.port, caFile),
      "",
    );
    assert.equal(missing.code, 2);
    assert.equal(
      missing.stderr.trim(),
      "Missing --alias: it is required when stdin is not a terminal",
    );
  });
});

Deno.test("client.ts reports a server that closes the connection, with or without BYE", async () => {
  await withCaFile(async (caFile) => {
    // A server that shuts down while the client is in the room.
    {
      const s = await startServer("deno");
      const child = new Deno.Command("deno", {
        args: [
          "run",
          ...permissions(s.port, caFile),
          new URL("../../client.ts", import.meta.url).pathname,
          ...target(s.port, caFile),
          "--alias",
          "stay",
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      await s.logs.waitFor(/INFO join alias=stay/);
      await s.server.close();
      const { code, stdout, stderr } = await child.output();
      await child.stdin.close();
      assert.equal(code, 1, new TextDecoder().decode(stderr));
      assert.match(
        new TextDecoder().decode(stdout),
        /^-!- Disconnected: Server is shutting down$/m,
      );
    }
    // A TLS server that greets and hangs up without a word.
    await using listener = await serveOnce(
      "HELLO tlschat/1 flaky Send your alias\n",
    );
    const result = await runClientAt(listener.port, caFile, "x", "");
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trim(), "Server closed the connection");
  });
});

Deno.test("client.ts refuses a TLS server that does not speak tlschat", async () => {
  await using listener = await serveOnce("HTTP/1.1 400 Bad Request\r\n\r\n");
  await withCaFile(async (caFile) => {
    const result = await runClientAt(listener.port, caFile, "x", "");
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.trim(),
      `Cannot chat: 127.0.0.1:${listener.port} is not a tlschat server (no greeting)`,
    );
  });
});

Deno.test("client.ts on a terminal keeps the half-typed line while messages arrive", async () => {
  await using s = await startServer("deno");
  using bob = await TestClient.join(s.port, "bob");
  await withCaFile(async (caFile) => {
    await using term = new TerminalClient(
      permissions(s.port, caFile),
      target(s.port, caFile),
    );
    let at = await term.waitFor(/Alias: /);
    await term.type("bob\r"); // taken: asked again
    at = await term.waitFor(/! Cannot join room: alias "bob" is taken\n/, at);
    at = await term.waitFor(/Alias: /, at);
    await term.type("alice\r");
    at = await term.waitFor(/Welcome, alice! 2 online/, at);
    at = await term.waitFor(/alice #lobby> /, at);
    await term.type("hel");
    at = await term.waitFor(/hel/, at);
    await bob.send("a message arrives");
    // The message is printed above the prompt, then prompt and text redrawn.
    at = await term.waitFor(
      /\d\d:\d\d <bob> a message arrives\nalice #lobby> hel/,
      at,
    );
    await term.type("lo\r");
    await bob.expect(/^MSG alice hello$/);
    at = await term.waitFor(/\d\d:\d\d <alice> hello\nalice #lobby> /, at);
    assert.doesNotMatch(
      term.raw,
      /\x1b\[3\dm|\x1b\[9\dm/,
      "NO_COLOR means no colours",
    );
    await term.type("/quit\r");
    assert.equal(await term.exited(), 0);
    assert.equal(lastLineShown(term.raw), "", term.raw.slice(-200));
  });
  await bob.expect(/^LEAVE alice 1 quit$/);
});

Deno.test("client.ts on a terminal colours aliases unless NO_COLOR is set", async () => {
  await using s = await startServer("deno");
  await withCaFile(async (caFile) => {
    await using term = new TerminalClient(
      permissions(s.port, caFile),
      [...target(s.port, caFile), "--alias", "carol"],
      "-u NO_COLOR",
    );
    const at = await term.waitFor(/carol #lobby> /);
    await term.type("colourful\r");
    await term.waitFor(/<carol> colourful/, at);
    assert.match(term.raw, /<\x1b\[\d+mcarol\x1b\[39m> colourful/);
    await term.type("\x04"); // Ctrl-D
    assert.equal(await term.exited(), 0);
  });
});

Deno.test("client.ts on a terminal leaves cleanly on Ctrl-C", async () => {
  await using s = await startServer("deno");
  using bob = await TestClient.join(s.port, "bob");
  await withCaFile(async (caFile) => {
    await using term = new TerminalClient(permissions(s.port, caFile), [
      ...target(s.port, caFile),
      "--alias",
      "dave",
    ]);
    await term.waitFor(/dave #lobby> /);
    await term.type("half typed\x03"); // Ctrl-C
    assert.equal(await term.exited(), 0);
    // The shell's prompt comes next, on a line of its own.
    assert.match(term.text, /-!- Disconnected: Goodbye\n/);
    assert.equal(lastLineShown(term.raw), "", term.raw.slice(-200));
  });
  assert.equal(await bob.expect(/^LEAVE /), "LEAVE dave 1 quit");
});

/**
 * What a terminal shows on its last line once `raw` was written: what
 * follows the last line feed, from the last "erase the line" code on.
 */
function lastLineShown(raw: string): string {
  const line = raw.slice(raw.lastIndexOf("\n") + 1);
  const erased = line.lastIndexOf("\x1b[2K");
  return (erased === -1 ? line : line.slice(erased))
    .replace(/\x1b\[[0-9;?]*[A-Za-z]|\r/g, "");
}

Deno.test("client.ts on a terminal asks for a password without echoing it", async () => {
  await using s = await startServer("node", [], {
    roomPassword: "hunter2-but-longer",
  });
  await s.server.gate.accounts.add("carol", "carol's own password");
  await withCaFile(async (caFile) => {
    await using term = new TerminalClient(
      permissions(s.port, caFile),
      target(s.port, caFile),
    );
    let at = await term.waitFor(/Alias: /);
    await term.type("dan\r");
    at = await term.waitFor(/This room has a password.*\n.*Password: /, at);
    await term.type("wrong-one\r");
    at = await term.waitFor(/! Wrong room password: one more try/, at);
    at = await term.waitFor(/Password: /, at);
    await term.type("hunter2-but-longer\r");
    at = await term.waitFor(/Welcome, dan! 1 online/, at);
    at = await term.waitFor(/dan #lobby> /, at);
    // A registered alias asks for its own password.
    await term.type("/nick carol\r");
    at = await term.waitFor(
      /"carol" is a registered alias.*\n.*Password: /,
      at,
    );
    await term.type("carol's own password\r");
    at = await term.waitFor(/dan is now known as carol/, at);
    at = await term.waitFor(/carol #lobby> /, at); // the prompt follows the rename
    await term.type("/quit\r");
    assert.equal(await term.exited(), 0);
    for (const secret of ["hunter2", "wrong-one", "carol's own"]) {
      assert.ok(!term.raw.includes(secret), `"${secret}" was echoed`);
    }
  });
});

Deno.test("client.ts on a terminal asks a wrong account password again, for the same alias, never as an alias", async () => {
  // It asked "Alias: " after a wrong password: people typed the password
  // again there, and joined under it, shown to everyone.
  await using s = await startServer("node");
  await s.server.gate.accounts.add("carol", "carol's own password");
  await withCaFile(async (caFile) => {
    for (const given of [["--alias", "carol"], []]) {
      await using term = new TerminalClient(
        permissions(s.port, caFile),
        [...target(s.port, caFile), ...given],
      );
      let at = 0;
      if (given.length === 0) {
        at = await term.waitFor(/Alias: /);
        await term.type("carol\r");
      }
      at = await term.waitFor(
        /"carol" is a registered alias.*\n.*Password: /,
        at,
      );
      await term.type("a wrong one\r");
      at = await term.waitFor(/! Wrong alias or password\r?\n/, at);
      at = await term.waitFor(
        /"carol" is a registered alias.*\n.*Password: /,
        at,
      );
      assert.doesNotMatch(term.text, /Alias: $/);
      await term.type("carol's own password\r");
      at = await term.waitFor(/Welcome, carol! 1 online/, at);
      await term.type("/quit\r");
      assert.equal(await term.exited(), 0);
      assert.ok(!term.raw.includes("a wrong one"), "the password was echoed");
    }
    // A guest that happened on a registered alias gives no password (an
    // empty line): it is asked for another alias.
    await using guest = new TerminalClient(
      permissions(s.port, caFile),
      [...target(s.port, caFile), "--alias", "carol"],
    );
    let at = await guest.waitFor(/Password: /);
    await guest.type("\r");
    at = await guest.waitFor(/! Wrong alias or password\r?\n.*Alias: /, at);
    await guest.type("dan\r");
    at = await guest.waitFor(/Welcome, dan! 1 online/, at);
    await guest.type("/quit\r");
    assert.equal(await guest.exited(), 0);
  });
});

Deno.test("client.ts on a terminal says when a login is held back, and the connection ends there", async () => {
  await using s = await startServer("node", ["--login-attempts", "1"]);
  await s.server.gate.accounts.add("carol", "carol's own password");
  await withCaFile(async (caFile) => {
    await using term = new TerminalClient(
      permissions(s.port, caFile),
      target(s.port, caFile),
    );
    let at = await term.waitFor(/Alias: /);
    await term.type("carol\r");
    at = await term.waitFor(/Password: /, at);
    await term.type("a wrong one\r");
    at = await term.waitFor(/Wrong alias or password/, at);
    at = await term.waitFor(/Password: /, at); // carol's again
    await term.type("carol's own password\r"); // right, but held back
    at = await term.waitFor(/Too many failed logins: try again in 60 s/, at);
    // It exits (before: it asked "Alias: " again, on a connection that could
    // not log in before its alias deadline).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      term.exited(),
      new Promise<string>((resolve) =>
        timer = setTimeout(() => resolve("still running"), WAIT_MS)
      ),
    ]);
    clearTimeout(timer);
    assert.equal(code, 1, term.text.slice(at));
    assert.doesNotMatch(term.text.slice(at), /Alias: /);
  });
});

Deno.test("client.ts prints history in pipe mode only with --history", async () => {
  await using s = await startServer("node");
  using amy = await TestClient.join(s.port, "amy");
  await amy.send("said before");
  await amy.send("/me was here");
  await amy.expect(/^ME amy was here$/);
  await withCaFile(async (caFile) => {
    const plain = await runClientAt(s.port, caFile, "bot", "live\n");
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(plain.stdout.trim().split("\n"), [
      "-!- Connected to tlschat (tlschat/1)",
      "-!- Welcome, bot! 2 online. Type /help for commands",
      "<bot> live",
      "-!- Disconnected: Goodbye",
    ]);
    const history = await runClient(permissions(s.port, caFile), [
      ...target(s.port, caFile),
      "--alias",
      "bot",
      "--history",
    ], "live again\n");
    assert.equal(history.code, 0, history.stderr);
    const date = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d`;
    assert.match(
      history.stdout,
      new RegExp(
        String.raw`Welcome, bot! 2 online\. Type /help for commands
${date} <amy> said before
${date} \* amy was here
${date} <bot> live
-!- ---- End of history: 3 messages ----
<bot> live again
`,
      ),
    );
    // Asked for (/history), it is printed without --history too (it was
    // not: the script got nothing).
    const asked = await runClientAt(s.port, caFile, "bot", "/history 1\n");
    assert.equal(asked.code, 0, asked.stderr);
    assert.match(
      asked.stdout,
      new RegExp(
        String.raw`Welcome, bot! 2 online\. Type /help for commands
${date} <bot> live again
-!- ---- End of history: 1 message ----
-!- Disconnected: Goodbye`,
      ),
    );
  });
});

Deno.test("client.ts on a terminal shows history dimmed and dated, then a separator", async () => {
  await using s = await startServer("node");
  using amy = await TestClient.join(s.port, "amy");
  await amy.send("earlier words");
  await amy.expect(/^MSG amy earlier words$/);
  await withCaFile(async (caFile) => {
    await using term = new TerminalClient(
      permissions(s.port, caFile),
      [...target(s.port, caFile), "--alias", "tom"],
      "-u NO_COLOR",
    );
    let at = await term.waitFor(/tom #lobby> /);
    await amy.send("live words");
    at = await term.waitFor(/\d\d:\d\d <amy> live words\ntom #lobby> /, at);
    assert.match(
      term.text,
      // (The prompt is redrawn after each line: "tom> " before the next.)
      /Welcome, tom! 2 online.*\n(tom( #lobby)?> )*\d{4}-\d\d-\d\d \d\d:\d\d <amy> earlier words\n(tom( #lobby)?> )*\d\d:\d\d -!- ---- End of history: 1 message ----\n(tom( #lobby)?> )*\d\d:\d\d <amy> live words/,
    );
    // Dimmed: the date is drawn faint, unlike the time of live lines.
    assert.match(term.raw, /\x1b\[2m\d{4}-\d\d-\d\d \d\d:\d\d \x1b\[22m/);
  });
});
