/**
 * A line sent again under its id after a reconnect, against `server.ts` as
 * a real process over real TLS: the echo of the resend is exactly the
 * line's first echo (`@id=ID;seq=N;time=T #room MSG ...`), in a room other
 * than the default one, on a new connection, after the server was killed
 * and started again (its window of ids read from its database), and on
 * another server of a cluster (Redis's window); the same on the web door
 * (WebSocket), and from one door to the other.
 */

import assert from "node:assert/strict";
import {
  freePort,
  loopbackArgs,
  ROOT,
  serverPermissions,
  ServerProcess,
  testCertificates,
  TestClient,
  withTempDir,
  writeTestCertificates,
} from "../_helpers.ts";
import { withCluster } from "./cluster/_cluster.ts";

const ID = "echo-again-0123456789";

/** Logs in as `alias` with `ids rooms seq` and enters `#den`. */
async function inDen(port: number, alias: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.expect(/^HELLO /);
  await client.send("/cap ids rooms seq");
  assert.equal(await client.readLine(), "CAP ids rooms seq");
  await client.send(alias);
  await client.expect(/^CURRENT #lobby$/);
  await client.send("/join #den");
  await client.expect(/^CURRENT #den$/);
  return client;
}

/** A WebSocket of the web door, read a message (a line) at a time. */
class WebLines implements AsyncDisposable {
  #ws: WebSocket;
  #http: Deno.HttpClient;
  #lines: string[] = [];
  #wake: (() => void) | null = null;
  #opened: Promise<void>;
  #closed: Promise<void>;

  constructor(port: number, ca: string) {
    this.#http = Deno.createHttpClient({ caCerts: [ca] });
    this.#ws = new WebSocket(`wss://localhost:${port}/ws`, {
      client: this.#http,
    } as unknown as string[]);
    this.#opened = new Promise((resolve) => this.#ws.onopen = () => resolve());
    this.#closed = new Promise((resolve) => this.#ws.onclose = () => resolve());
    this.#ws.onmessage = (event) => {
      this.#lines.push(String(event.data));
      this.#wake?.();
    };
  }

  /** Sends one line. */
  async send(line: string): Promise<void> {
    await this.#opened;
    this.#ws.send(line);
  }

  /** The next line that matches `pattern` (others are skipped). */
  async expect(pattern: RegExp): Promise<string> {
    const signal = AbortSignal.timeout(5000);
    while (true) {
      const line = this.#lines.shift();
      if (line !== undefined && pattern.test(line)) return line;
      if (line !== undefined) continue;
      signal.throwIfAborted();
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#ws.close();
    await this.#closed;
    this.#http.close();
  }
}

/** Logs in on the web door as `inDen` does on the chat port. */
async function webInDen(
  port: number,
  ca: string,
  alias: string,
): Promise<WebLines> {
  const web = new WebLines(port, ca);
  await web.expect(/^HELLO /);
  await web.send("/cap ids rooms seq");
  await web.expect(/^CAP ids rooms seq$/);
  await web.send(alias);
  await web.expect(/^CURRENT #lobby$/);
  await web.send("/join #den");
  await web.expect(/^CURRENT #den$/);
  return web;
}

/** Sends the line under `ID` in `#den` and returns its echo. */
async function say(client: TestClient | WebLines): Promise<string> {
  await client.send(`@id=${ID} #den cut 0`);
  return await client.expect(/ MSG /);
}

/** Says `/quit` and reads up to the goodbye. */
async function quit(client: TestClient | WebLines): Promise<void> {
  await client.send("/quit");
  await client.expect(/^BYE /);
}

Deno.test("server.ts: a line sent again after a reconnect, and after a restart, is echoed exactly as the first time, in its room", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const start = () =>
      ServerProcess.start(serverPermissions(dir), loopbackArgs(dir));
    let server = await start();
    try {
      using ann = await inDen(server.port, "ann");
      const first = await say(ann);
      assert.match(
        first,
        new RegExp(`^@id=${ID};seq=\\d+;time=\\S+Z #den MSG ann cut 0$`),
      );
      await quit(ann);
      using again = await inDen(server.port, "ann");
      assert.equal(await say(again), first);
      await quit(again);
      // Killed: started again on its database, it still knows the id.
      await server[Symbol.asyncDispose]();
      server = await start();
      using back = await inDen(server.port, "ann");
      assert.equal(await say(back), first);
      await quit(back);
    } catch (e) {
      throw server.annotate(e);
    } finally {
      await server[Symbol.asyncDispose]();
    }
  });
});

Deno.test("server.ts in a cluster: a line sent again on another server is echoed exactly as the first time, in its room", async () => {
  await withCluster(2, async ([s0, s1]) => {
    using ann = await inDen(s0!.port, "ann");
    const first = await say(ann);
    assert.match(
      first,
      new RegExp(`^@id=${ID};seq=\\d+;time=\\S+Z #den MSG ann cut 0$`),
    );
    await quit(ann);
    using again = await inDen(s1!.port, "ann");
    assert.equal(await say(again), first);
    await quit(again);
  });
});

Deno.test("server.ts: a line sent again on the web door is echoed exactly as the first time, whichever door sent it first", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    const webPort = freePort();
    await using server = await ServerProcess.start(
      [
        "--allow-net=127.0.0.1",
        `--allow-read=${dir},${ROOT}web`,
        `--allow-write=${dir}`,
        "--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE",
      ],
      loopbackArgs(dir, "--web-port", String(webPort)),
    );
    try {
      await using web = await webInDen(webPort, ca.cert, "ann");
      const first = await say(web);
      assert.match(
        first,
        new RegExp(`^@id=${ID};seq=\\d+;time=\\S+Z #den MSG ann cut 0$`),
      );
      await quit(web);
      await using again = await webInDen(webPort, ca.cert, "ann");
      assert.equal(await say(again), first);
      await quit(again);
      using tls = await inDen(server.port, "ann");
      assert.equal(await say(tls), first);
      await quit(tls);
    } catch (e) {
      throw server.annotate(e);
    }
  });
});
