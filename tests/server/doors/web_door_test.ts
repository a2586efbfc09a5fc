/**
 * Tests of the web door without a browser, over real TLS: the files and
 * headers it serves, the health check, the WebSocket origin check, and
 * WebSocket members in the same room as TLS members, under the same
 * limits. (The page itself is tested in a real browser: tests/browser/.)
 */

import assert from "node:assert/strict";
import {
  generateCa,
  issueClientCertificate,
} from "../../../lib/cert_authority.ts";
import { parseAddressRange } from "../../../lib/address.ts";
import { originAllowed } from "../../../lib/server/doors/web_door.ts";
import {
  clientFrame,
  connectTls,
  startServer,
  testCertificates,
  TestClient,
  upgradeByHand,
} from "../../_helpers.ts";

/** A browser-like WebSocket member: every line it receives, in order. */
class WsClient implements AsyncDisposable {
  readonly ws: WebSocket;
  readonly received: string[] = [];
  readonly closed: Promise<CloseEvent>;
  #http: Deno.HttpClient;
  #waiters: (() => void)[] = [];

  private constructor(ws: WebSocket, http: Deno.HttpClient) {
    this.ws = ws;
    this.#http = http;
    ws.onmessage = (event) => {
      this.received.push(event.data as string);
      for (const wake of this.#waiters.splice(0)) wake();
    };
    this.closed = new Promise((resolve) => {
      ws.onclose = (event) => {
        resolve(event);
        for (const wake of this.#waiters.splice(0)) wake();
      };
    });
  }

  /**
   * Opens `/ws` on the web door, trusting the test CA, presenting a client
   * certificate when given one.
   */
  static async open(
    port: number,
    identity?: { cert: string; key: string },
  ): Promise<WsClient> {
    const { ca } = await testCertificates();
    const http = Deno.createHttpClient({ caCerts: [ca.cert], ...identity });
    const ws = new WebSocket(`wss://localhost:${port}/ws`, {
      client: http,
    } as unknown as string[]);
    const client = new WsClient(ws, http);
    try {
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
    } catch (error) {
      await client.closed;
      http.close();
      throw error;
    }
    return client;
  }

  /** Opens `/ws` and joins as `alias`. */
  static async join(
    port: number,
    alias: string,
    identity?: { cert: string; key: string },
  ): Promise<WsClient> {
    const client = await WsClient.open(port, identity);
    await client.expect(/^HELLO /);
    client.ws.send(alias);
    await client.expect(new RegExp(`^WELCOME ${alias} `));
    return client;
  }

  /** Waits for the next line matching `pattern`; returns it. */
  async expect(pattern: RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let from = 0;
    while (true) {
      const index = this.received.findIndex((l, i) =>
        i >= from && pattern.test(l)
      );
      if (index !== -1) {
        const [line] = this.received.splice(0, index + 1).slice(-1);
        return line!;
      }
      from = this.received.length;
      if (this.ws.readyState === WebSocket.CLOSED || Date.now() > deadline) {
        assert.fail(`No line matching ${pattern}; got:\n${this.received}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, deadline - Date.now());
      });
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.closed;
    this.#http.close();
  }
}

Deno.test("web door serves the page with a strict CSP, security headers and a health check", async () => {
  await using s = await startServer("node", [], { web: {} });
  const { ca } = await testCertificates();
  using http = Deno.createHttpClient({ caCerts: [ca.cert] });
  const get = (path: string, init: RequestInit = {}) =>
    fetch(`https://localhost:${s.webPort}${path}`, { client: http, ...init });
  const page = await get("/");
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  const csp = page.headers.get("content-security-policy") ?? "";
  for (
    const rule of [
      "default-src 'none'",
      "script-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
    ]
  ) {
    assert.ok(csp.includes(rule), `${rule} in ${csp}`);
  }
  assert.doesNotMatch(csp, /unsafe/);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");
  // A dev certificate is accepted by hand: no HSTS for it.
  assert.equal(page.headers.get("strict-transport-security"), null);
  const html = await page.text();
  assert.match(html, /<script type="module" src="\/app\.js"><\/script>/);
  assert.doesNotMatch(html, /<script>|onclick=|style="/, "nothing inline");
  const script = await get("/app.js");
  assert.equal(
    script.headers.get("content-type"),
    "text/javascript; charset=utf-8",
  );
  await script.body?.cancel();
  using _tessa = await TestClient.join(s.port, "tessa");
  const health = await get("/healthz");
  assert.equal(health.headers.get("content-type"), "application/json");
  assert.deepEqual(await health.json(), { status: "ok", online: 1 });
  for (const path of ["/nope", "/../deno.json", "/web/app.js", "/%2e%2e/x"]) {
    const missing = await get(path);
    assert.equal(missing.status, 404, path);
    await missing.body?.cancel();
  }
  const post = await get("/", { method: "POST", body: "x" });
  assert.equal(post.status, 405);
  await post.body?.cancel();
});

Deno.test("web door keeps a connection open between requests", async () => {
  await using s = await startServer("node", [], { web: {} });
  using conn = await connectTls(s.webPort);
  const reader = conn.readable.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  /** Reads one response (headers and a content-length body). */
  const response = async () => {
    while (true) {
      const end = buffered.indexOf("\r\n\r\n");
      if (end !== -1) {
        const head = buffered.slice(0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length >= end + 4 + length) {
          buffered = buffered.slice(end + 4 + length);
          return head;
        }
      }
      const { value, done } = await reader.read();
      if (done) return null;
      buffered += decoder.decode(value, { stream: true });
    }
  };
  const request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
  for (const round of [1, 2, 3]) {
    await conn.write(new TextEncoder().encode(request));
    const head = await response();
    assert.match(head ?? "closed", /^HTTP\/1\.1 200 /, `request ${round}`);
    assert.match(head!, /connection: keep-alive/i);
  }
  reader.releaseLock();
});

Deno.test("web door refuses a WebSocket upgrade from another origin", async () => {
  await using s = await startServer("node", [], {
    web: { origins: ["https://chat.example"] },
  });
  const cases: [Record<string, string>, string][] = [
    [{ origin: "https://evil.example" }, "HTTP/1.1 403 Forbidden"],
    [{ origin: `http://localhost:${s.webPort}` }, "HTTP/1.1 403 Forbidden"],
    [
      { origin: `https://localhost:${s.webPort}` },
      "HTTP/1.1 101 Switching Protocols",
    ],
    [{ origin: "https://chat.example" }, "HTTP/1.1 101 Switching Protocols"],
    [{}, "HTTP/1.1 101 Switching Protocols"], // not a browser
  ];
  for (const [headers, status] of cases) {
    const upgrade = await upgradeByHand(
      await connectTls(s.webPort),
      s.webPort,
      headers,
    );
    upgrade.conn.close();
    assert.equal(upgrade.status, status, JSON.stringify(headers));
  }
  await s.logs.waitFor(/INFO refused .*reason=origin origin=https:\/\/evil/);
  assert.equal(originAllowed(undefined, "a:1", []), true);
  assert.equal(originAllowed("https://a:1", "a:1", []), true);
  assert.equal(originAllowed("https://b:1", "a:1", []), false);
});

Deno.test("WebSocket and TLS members share one room, one order, /who and /msg", async () => {
  await using s = await startServer("node", [], { web: {} });
  await using webby = await WsClient.join(s.webPort, "webby");
  using tessa = await TestClient.join(s.port, "tessa");
  await webby.expect(/^JOIN tessa 2$/);
  for (let i = 0; i < 20; i++) {
    webby.ws.send(`w${i}`);
    await tessa.send(`t${i}`);
  }
  const seenByTls: string[] = [];
  const seenByWeb: string[] = [];
  for (let i = 0; i < 40; i++) {
    seenByTls.push(await tessa.expect(/^MSG /));
    seenByWeb.push(await webby.expect(/^MSG /));
  }
  assert.deepEqual(seenByWeb, seenByTls);
  await tessa.send("/who");
  assert.equal(await tessa.expect(/^WHO /), "WHO 2 tessa webby");
  await tessa.send("/msg webby just you");
  assert.equal(await webby.expect(/^PRIV /), "PRIV tessa just you");
  // A message holding line feeds is as many lines; a CR is dropped.
  webby.ws.send("one\r\ntwo\n");
  assert.equal(await tessa.expect(/^MSG /), "MSG webby one");
  assert.equal(await tessa.expect(/^MSG /), "MSG webby two");
  webby.ws.send("/quit bye");
  assert.equal(await webby.expect(/^BYE /), "BYE quit Goodbye");
  assert.equal((await webby.closed).code, 1000);
  assert.equal(await tessa.expect(/^LEAVE /), "LEAVE webby 1 quit bye");
  await s.logs.waitFor(/INFO join alias=webby addr=127\.0\.0\.1:\d+/);
});

Deno.test("WebSocket members get the same limits: line length, flood, caps", async () => {
  await using s = await startServer("node", [
    "--max-line-bytes",
    "100",
    "--max-skip-bytes",
    "1000",
    "--flood-rate",
    "5",
    "--flood-burst",
    "5",
    "--max-per-ip",
    "3",
  ], { web: {} });
  using tessa = await TestClient.join(s.port, "tessa");
  await using webby = await WsClient.join(s.webPort, "webby");
  webby.ws.send("x".repeat(101));
  assert.equal(
    await webby.expect(/^ERR /),
    "ERR line-too-long Line dropped: longer than 100 bytes",
  );
  // The third connection from this address is over --max-per-ip 3, TLS
  // and WebSocket counted together.
  await using third = await WsClient.open(s.webPort);
  await using fourth = await WsClient.open(s.webPort);
  assert.match(
    await fourth.expect(/^BYE /),
    /^BYE ip-limit Too many connections from 127\.0\.0\.1: at most 3$/,
  );
  third.ws.close();
  await third.closed;
  // The server let both go (the fourth once told, the third once closed).
  await s.logs.waitFor(/DEBUG closed /, { count: 2 });
  // Far over the line limit: refused before it is buffered, connection ends.
  await using big = await WsClient.join(s.webPort, "big");
  big.ws.send("y".repeat(5000));
  assert.equal((await big.closed).code, 1009);
  assert.equal(
    await tessa.expect(/^LEAVE big/),
    "LEAVE big 2 line-too-long",
  );
  // Flood control: delayed, then disconnected, others unharmed.
  for (let i = 0; i < 40; i++) webby.ws.send(`spam ${i}`);
  assert.match(await webby.expect(/^ERR flood/), /^ERR flood Slow down/);
  assert.match(await webby.expect(/^BYE /), /^BYE flood /);
  assert.equal(
    await tessa.expect(/^LEAVE webby/),
    "LEAVE webby 1 flood kicked for flooding",
  );
});

Deno.test("a WebSocket client whose lines wait is not read from: its messages cannot pile up", async () => {
  await using s = await startServer("node", [
    "--max-input-bytes",
    "4096",
    "--flood-rate",
    "5",
    "--flood-burst",
    "10",
  ], { web: {} });
  const { status, conn } = await upgradeByHand(
    await connectTls(s.webPort),
    s.webPort,
    {},
  );
  assert.equal(status, "HTTP/1.1 101 Switching Protocols");
  // The alias, twelve lines (two wait for flood control, and the session
  // reads nothing meanwhile), then 300 KB more in one go, empty messages
  // too: the door stops reading from the TCP socket while they wait (one
  // read is held, no more), so none of it counts against
  // --max-input-bytes, and flood control ends the client.
  const frames = [
    "webby",
    ...Array.from({ length: 12 }, (_, i) => `line ${i}`),
    ...Array.from({ length: 200 }, () => ""),
    ...Array.from({ length: 3000 }, () => "x".repeat(100)),
  ].map(clientFrame);
  const bytes = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  frames.reduce((at, frame) => (bytes.set(frame, at), at + frame.length), 0);
  const writing = (async () => {
    for (let at = 0; at < bytes.length;) {
      at += await conn.write(bytes.subarray(at));
    }
  })().catch(() => "stopped");
  let text = "";
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(65_536);
  const bye =
    /BYE flood Disconnected for flooding: (kept sending more than 5 lines per second|sending much faster than the server reads)/;
  while (!bye.test(text)) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n));
  }
  conn.close();
  await writing;
  assert.match(
    text,
    /BYE flood Disconnected for flooding: kept sending more than 5 lines per second/,
  );
});

Deno.test("the web door caps connections per address from the accept, and says why", async () => {
  await using s = await startServer("node", ["--max-per-ip", "2"], {
    web: {},
  });
  const { ca } = await testCertificates();
  // Two bare TCP connections that never start TLS hold this address's
  // share; the page is then refused with the reason.
  using _one = await Deno.connect({ hostname: "127.0.0.1", port: s.webPort });
  using _two = await Deno.connect({ hostname: "127.0.0.1", port: s.webPort });
  using http = Deno.createHttpClient({ caCerts: [ca.cert] });
  const page = await fetch(`https://localhost:${s.webPort}/`, {
    client: http,
  });
  assert.equal(page.status, 503);
  assert.equal(
    await page.text(),
    "Too many connections from 127.0.0.1: at most 2\n",
  );
});

Deno.test("the web door closes refused connections at once beyond --max-refusals", async () => {
  await using s = await startServer("node", [
    "--max-per-ip",
    "1",
    "--max-refusals",
    "0",
  ], { web: {} });
  using _one = await Deno.connect({ hostname: "127.0.0.1", port: s.webPort });
  using two = await Deno.connect({ hostname: "127.0.0.1", port: s.webPort });
  // Closed at once: not left to the 10 s handshake deadline.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const read = await Promise.race([
    two.read(new Uint8Array(1)).catch(() => null),
    new Promise((resolve) => timer = setTimeout(() => resolve("open"), 3000)),
  ]);
  clearTimeout(timer);
  assert.equal(read, null, "closed without a byte");
});

Deno.test("the web door's health check says when the server is shutting down", async () => {
  await using s = await startServer("node", [], { web: {} });
  const { ca } = await testCertificates();
  using http = Deno.createHttpClient({ caCerts: [ca.cert] });
  const get = () =>
    fetch(`https://localhost:${s.webPort}/healthz`, { client: http });
  const ok = await get();
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  using holder = await TestClient.join(s.port, "holder");
  const closing = s.server.close();
  const stopping = await get();
  assert.equal(stopping.status, 503);
  assert.equal((await stopping.json()).status, "stopping");
  await holder.readToEnd();
  await closing;
});

Deno.test("a WebSocket member that stops reading is dropped as too slow", async () => {
  await using s = await startServer("node", ["--queue-bytes", "16384"], {
    web: {},
  });
  using tessa = await TestClient.join(s.port, "tessa");
  const { status, conn } = await upgradeByHand(
    await connectTls(s.webPort),
    s.webPort,
    {},
  );
  assert.equal(status, "HTTP/1.1 101 Switching Protocols");
  await conn.write(clientFrame("sleeper"));
  await tessa.expect(/^JOIN sleeper/);
  // The sleeper never reads again; the room goes on without it. Kernel
  // buffers take a few MiB first.
  const line = "z".repeat(4000);
  let sent = 0;
  while (true) {
    await tessa.send(`${sent++} ${line}`);
    const got = await tessa.expect(/^(MSG|LEAVE) /);
    if (got.startsWith("LEAVE")) {
      assert.equal(got, "LEAVE sleeper 1 slow");
      break;
    }
    assert.ok(sent < 10_000, "the sleeper was never dropped");
  }
  conn.close();
});

Deno.test("the web door counts its connections with the TLS door's from the accept", async () => {
  await using s = await startServer("node", ["--max-per-ip", "2"], {
    web: {},
  });
  using _tessa = await TestClient.join(s.port, "tessa");
  // A bare TCP connection that never starts TLS holds a place too.
  using _idle = await Deno.connect({ hostname: "127.0.0.1", port: s.webPort });
  await using third = await WsClient.open(s.webPort);
  assert.equal(
    await third.expect(/^BYE /),
    "BYE ip-limit Too many connections from 127.0.0.1: at most 2",
  );
  await s.logs.waitFor(/INFO refused addr=127\.0\.0\.1:\d+ reason=ip-limit/);
});

Deno.test("the web door is under --max-clients with the TLS door, counted from the accept", async () => {
  await using s = await startServer("node", ["--max-clients", "2"], {
    web: {},
  });
  using _tessa = await TestClient.join(s.port, "tessa");
  using _idle = await Deno.connect({ hostname: "127.0.0.1", port: s.webPort });
  await using third = await WsClient.open(s.webPort);
  assert.equal(
    await third.expect(/^BYE /),
    "BYE server-full Server is full: 2 connections",
  );
});

Deno.test("the web door asks for client certificates too: required, optional, and logging in by one", async () => {
  const { ca } = await testCertificates();
  const alice = await issueClientCertificate(ca, "alice");
  const stranger = await issueClientCertificate(
    await generateCa("another CA"),
    "alice",
  );
  for (const require of [true, false]) {
    await using s = await startServer("node", [], {
      web: {},
      clientCa: { ca: ca.cert, require },
    });
    await s.server.gate.accounts.add("alice", "alice's password");
    // A valid certificate naming an account logs it in, no password asked.
    await using certified = await WsClient.join(s.webPort, "alice", alice);
    await s.logs.waitFor(/INFO join alias=alice .*account=alice/);
    certified.ws.close();
    await certified.closed;
    for (const bad of [stranger, undefined]) {
      if (require) {
        // No valid certificate: no TLS handshake, no WebSocket.
        await assert.rejects(WsClient.open(s.webPort, bad));
      } else {
        await using guest = await WsClient.open(s.webPort, bad);
        await guest.expect(/^HELLO /);
        guest.ws.send("alice");
        await guest.expect(/^PASSWORD account /);
      }
    }
  }
});

Deno.test("the web door refuses a banned address before HELLO", async () => {
  await using s = await startServer("node", [], { web: {} });
  const { moderation } = s.server.gate;
  moderation.add("ban", { range: parseAddressRange("127.0.0.0/8")! }, {
    durationMs: null,
    by: "op",
    reason: "spam",
  });
  await using banned = await WsClient.open(s.webPort);
  assert.deepEqual(
    [await banned.expect(/./)],
    ["BYE banned Banned by op until lifted: spam"],
  );
  assert.equal((await banned.closed).code, 1000);
  await s.logs.waitFor(/INFO refused addr=127\.0\.0\.1:\d+ reason=banned/);
});

Deno.test("the web door re-checks an address ban before it answers /pass", async () => {
  await using s = await startServer("node", [], { web: {} });
  const { accounts, moderation } = s.server.gate;
  await accounts.add("bob", "bob's password");
  await using client = await WsClient.open(s.webPort);
  await client.expect(/^HELLO /);
  client.ws.send("bob");
  await client.expect(/^PASSWORD account /);
  moderation.add("ban", { range: parseAddressRange("127.0.0.0/8")! }, {
    durationMs: null,
    by: "op",
    reason: "",
  });
  // A wrong password gets what the right one would.
  client.ws.send("/pass wrong");
  assert.equal(
    await client.expect(/./),
    "BYE banned Banned by op until lifted",
  );
  assert.equal((await client.closed).code, 1000);
});

Deno.test("the web door takes no WebSocket subprotocol or extension a client offers", async () => {
  await using s = await startServer("node", [], { web: {} });
  // Before, the first subprotocol offered was echoed, whatever it named.
  const { status, head, conn } = await upgradeByHand(
    await connectTls(s.webPort),
    s.webPort,
    {
      "sec-websocket-protocol": "mqtt, chat",
      "sec-websocket-extensions": "permessage-deflate; client_max_window_bits",
    },
  );
  conn.close();
  assert.equal(status, "HTTP/1.1 101 Switching Protocols");
  assert.doesNotMatch(head, /sec-websocket-protocol/i);
  assert.doesNotMatch(head, /sec-websocket-extensions/i);
});
