/**
 * End-to-end tests of `client.ts` reconnecting and resuming against a
 * scripted TLS server that speaks the resume wire (HELLO `epoch=`, `RESUME`,
 * `/resume`, tagged lines, `RESUMED`): what it sends, what it shows once.
 */

import assert from "node:assert/strict";
import {
  PipeClient,
  testCertificates,
  WAIT_MS,
  withTempDir,
} from "../_helpers.ts";

const TOKEN = "AAAAAAAAAAAAAAAAAAAAAA";
const TIME = "2026-11-26T15:04:05.123Z";

/** One accepted connection of the scripted server: lines in and out. */
class Script {
  readonly #conn: Deno.TlsConn;
  readonly #lines: AsyncIterator<string>;

  constructor(conn: Deno.TlsConn) {
    this.#conn = conn;
    this.#lines = lines(conn)[Symbol.asyncIterator]();
  }

  async send(...lines: string[]): Promise<void> {
    await this.#conn.write(new TextEncoder().encode(lines.join("\n") + "\n"));
  }

  async heard(): Promise<string> {
    const next = await within(this.#lines.next(), "Client said nothing");
    assert.equal(next.done, false);
    return next.value;
  }

  close(): void {
    this.#conn.close();
  }
}

/** `promise`, or an error after WAIT_MS. */
async function within<T>(promise: Promise<T>, error: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(error)), WAIT_MS)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Lines read from `conn` (read by hand: closing it then ends them). */
async function* lines(conn: Deno.TlsConn) {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  let partial = "";
  while (true) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) return;
    const chunk = decoder.decode(buffer.subarray(0, n), { stream: true });
    const all = (partial + chunk).split("\n");
    partial = all.pop()!;
    yield* all;
  }
}

Deno.test("client.ts reconnects by itself, resumes with epoch, positions and token, shows each numbered line once and says what it missed", async () => {
  const { server, ca } = await testCertificates();
  using listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    ...server,
  });
  const port = listener.addr.port;
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/ca.pem`, ca.cert);
    const hello =
      "HELLO tlschat/1 fake rate=0,caps=ids+rooms+seq+resume,epoch=E1 hi";
    await using bob = new PipeClient(
      [`--allow-net=127.0.0.1:${port}`, `--allow-read=${dir}/ca.pem`],
      [
        "--server",
        `127.0.0.1:${port}`,
        "--ca",
        `${dir}/ca.pem`,
        "--alias",
        "bob",
      ],
    );
    // First connection: joins, gets a token and one numbered line, dropped.
    const first = new Script(await listener.accept());
    await first.send(hello);
    assert.equal(await first.heard(), "/cap ids rooms seq resume");
    await first.send("CAP ids rooms seq resume");
    assert.equal(await first.heard(), "bob");
    await first.send(
      "WELCOME bob 1 hi",
      "#lobby JOIN bob 1",
      "CURRENT #lobby",
      `RESUME ${TOKEN} 30 Resume within 30 s`,
      `@seq=5;time=${TIME} #lobby MSG amy one`,
    );
    await bob.output.waitFor(/^<amy> one$/);
    first.close();
    // Second: /resume before the alias; the token expired: the alias again.
    const second = new Script(
      await within(listener.accept(), "The client did not reconnect"),
    );

    await second.send(hello);
    assert.equal(await second.heard(), "/cap ids rooms seq resume");
    assert.equal(await second.heard(), `/resume E1 #lobby=5 ${TOKEN}`);
    await second.send(
      "CAP ids rooms seq resume",
      "ERR resume-expired Your session ended; choose your alias again",
    );
    assert.equal(await second.heard(), "bob");
    await second.send(
      "WELCOME bob 1 hi",
      "#lobby JOIN bob 1",
      `@seq=5;time=${TIME} #lobby MSG amy one`,
      `@seq=6;time=${TIME} #lobby MSG amy two`,
      "#lobby RESUMED 6 1 Caught up",
      "CURRENT #lobby",
      "BYE kicked Kicked by the script",
    );
    await bob.output.waitFor(/^-!- Disconnected: Kicked by the script$/);
    second.close();
    assert.equal(await bob.finish(), 1); // kicked: no reconnecting
    const said = bob.output.lines.filter((line) => !line.startsWith("Reconn"));
    assert.deepEqual(said.filter((line) => line.startsWith("<")), [
      "<amy> one",
      "<amy> two",
    ]);
    assert.ok(said.includes("-!- Resumed: 1 line missed"), said.join("\n"));
    assert.ok(said.includes("-!- Disconnected: Kicked by the script"));
  });
});

/**
 * What a pipe client (`--history` or not) shows of a first connection
 * whose server catches it up from its account's read mark: the member's
 * own `JOIN` (61) first, then the older lines (58 to 60), `RESUMED`, live.
 */
async function firstConnectionFromMark(history: boolean): Promise<string[]> {
  const { server, ca } = await testCertificates();
  using listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    ...server,
  });
  const port = listener.addr.port;
  return await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/ca.pem`, ca.cert);
    await using alice = new PipeClient(
      [`--allow-net=127.0.0.1:${port}`, `--allow-read=${dir}/ca.pem`],
      [
        ...["--server", `127.0.0.1:${port}`, "--ca", `${dir}/ca.pem`],
        ...["--alias", "alice", ...(history ? ["--history"] : [])],
      ],
    );
    const script = new Script(await listener.accept());
    await script.send(
      "HELLO tlschat/1 fake rate=0,caps=ids+rooms+seq+resume,epoch=E1 hi",
    );
    assert.equal(await script.heard(), "/cap ids rooms seq resume");
    await script.send("CAP ids rooms seq resume");
    assert.equal(await script.heard(), "alice"); // no position: a first one
    await script.send(
      "WELCOME alice 1 hi",
      `@seq=61;time=${TIME} #lobby JOIN alice 1`,
      `@seq=57;time=${TIME} #lobby LEAVE alice 0 quit`,
      `@seq=58;time=${TIME} #lobby JOIN bob 1`,
      `@seq=59;time=${TIME} #lobby MSG bob said while alice was away`,
      `@seq=60;time=${TIME} #lobby LEAVE bob 0 quit`,
      "#lobby RESUMED 60 0 Resumed: 4 lines you missed",
      "#lobby READ 56",
      "CURRENT #lobby",
      `@seq=62;time=${TIME} #lobby MSG amy live`,
      "BYE kicked Kicked by the script",
    );
    await alice.output.waitFor(/^-!- Disconnected: Kicked by the script$/);
    script.close();
    assert.equal(await alice.finish(), 1);
    return alice.output.lines;
  });
}

Deno.test("client.ts shows a first connection's catch-up from the account's read mark, which comes after its own JOIN, as history", async () => {
  const shown = await firstConnectionFromMark(true);
  const from = shown.findIndex((line) => line.startsWith("-!- Welcome"));
  assert.deepEqual(shown.slice(from + 1), [
    "-!- alice left (quit, 0 online)",
    "-!- bob joined (1 online)",
    "<bob> said while alice was away",
    "-!- bob left (quit, 0 online)",
    "-!- Resumed: no lines missed",
    "<amy> live",
    "-!- Disconnected: Kicked by the script",
  ]);
  // Without --history, a pipe shows it no more than it shows history.
  const quiet = await firstConnectionFromMark(false);
  const welcome = quiet.findIndex((line) => line.startsWith("-!- Welcome"));
  assert.deepEqual(quiet.slice(welcome + 1), [
    "<amy> live",
    "-!- Disconnected: Kicked by the script",
  ]);
});
