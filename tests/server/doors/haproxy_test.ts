/**
 * The documented load balancer, for real: Debian's HAProxy in front of an
 * in-process server, configured from `docs/haproxy.cfg` itself (addresses
 * moved to loopback, the servers reached from 127.0.0.2 so that the
 * balancer and its clients have different addresses; its health checks
 * off where a test counts open connections), with `send-proxy-v2`
 * as documented and `send-proxy` (version 1), and in `mode http` with
 * `option forwardfor` in front of the web door. Every test checks that the
 * server sees the client (127.0.0.1, on the client's own port), never the
 * balancer.
 */

import assert from "node:assert/strict";
import { issueClientCertificate } from "../../../lib/cert_authority.ts";
import {
  freePort,
  LineLog,
  ROOT,
  startServer,
  testCertificates,
  TestClient,
  WAIT_MS,
} from "../../_helpers.ts";

/** The balancer's address as the server sees it. */
const BALANCER = "127.0.0.2";

/** HAProxy running a configuration, until disposed. */
class HaProxy implements AsyncDisposable {
  readonly output = new LineLog();
  #child: Deno.ChildProcess;
  #dir: string;
  #reading: Promise<void>;

  private constructor(child: Deno.ChildProcess, dir: string) {
    this.#child = child;
    this.#dir = dir;
    this.#reading = Promise.all(
      [child.stdout, child.stderr].map(async (stream) => {
        let partial = "";
        for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
          const lines = (partial + chunk).split("\n");
          partial = lines.pop()!;
          for (const line of lines) this.output.push(line);
        }
      }),
    ).then(() => {});
  }

  /**
   * Starts HAProxy (master-worker, foreground) with `config`, next to the
   * files it names; resolves once it says it has loaded.
   */
  static async start(
    config: string,
    files: Record<string, string> = {},
  ): Promise<HaProxy> {
    const dir = await Deno.makeTempDir();
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    await Deno.writeTextFile(`${dir}/haproxy.cfg`, config);
    const child = new Deno.Command("haproxy", {
      args: ["-W", "-db", "-f", `${dir}/haproxy.cfg`],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const proxy = new HaProxy(child, dir);
    try {
      const exited = child.status.then(() => {
        throw new Error(`HAProxy exited:\n${proxy.output}`);
      });
      exited.catch(() => {}); // Only matters while starting.
      await Promise.race([
        proxy.output.waitFor(/Loading success\./, { timeoutMs: WAIT_MS }),
        exited,
      ]);
    } catch (e) {
      await proxy[Symbol.asyncDispose]();
      throw e;
    }
    return proxy;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Exited already.
    }
    await this.#child.status;
    await this.#reading;
    await Deno.remove(this.#dir, { recursive: true });
  }
}

/**
 * `docs/haproxy.cfg` on loopback: its frontends on `listen`, its first
 * server of each backend on `server` (reached from the balancer's own
 * address), the others left out, and `sendProxy` for `send-proxy-v2`.
 * With `checks: false`, no health checks: each is a connection to the web
 * door (about one a second), which a count of open connections includes
 * while it lasts.
 */
async function documentedConfig(
  listen: { chat: number; web: number },
  server: { chat: number; web: number },
  sendProxy: string,
  { checks = true } = {},
): Promise<string> {
  const doc = await Deno.readTextFile(`${ROOT}docs/haproxy.cfg`);
  const config = doc
    .replace("bind :7443", `bind 127.0.0.1:${listen.chat}`)
    .replace("bind :7444", `bind 127.0.0.1:${listen.web}`)
    .replace(
      "server s1 10.0.0.11:7443 port 7444",
      `server s1 127.0.0.1:${server.chat} port ${server.web} source ${BALANCER}`,
    )
    .replace(
      "server s1 10.0.0.11:7444",
      `server s1 127.0.0.1:${server.web} source ${BALANCER}`,
    )
    .replace(/^ *server s[23] .*\n/gm, "")
    .replace(/^ *#.*\n/gm, "")
    // The test machine's descriptor limit may be lower than 2 x maxconn.
    .replace(/maxconn \d+/, "maxconn 1000")
    .replaceAll("send-proxy-v2", sendProxy);
  assert.doesNotMatch(config, /10\.0\.0\.|bind :/, "every address replaced");
  if (checks) return config;
  const unchecked = config.replaceAll(
    "default-server check ",
    "default-server ",
  );
  assert.doesNotMatch(unchecked, /\scheck\s/, "every health check off");
  return unchecked;
}

/** A WebSocket member through `port`, joined as `alias`. */
async function webJoin(port: number, alias: string) {
  const { ca } = await testCertificates();
  const http = Deno.createHttpClient({ caCerts: [ca.cert] });
  const ws = new WebSocket(`wss://localhost:${port}/ws`, {
    client: http,
  } as unknown as string[]);
  const received: string[] = [];
  const welcome = Promise.withResolvers<string>();
  ws.onmessage = (event) => {
    const line = String(event.data);
    received.push(line);
    if (line.startsWith("HELLO")) ws.send(alias);
    else if (/^(WELCOME|BYE)/.test(line)) welcome.resolve(line);
  };
  const closed = new Promise<void>((resolve) => ws.onclose = () => resolve());
  ws.onerror = () => welcome.reject(new Error(`No WELCOME: ${received}`));
  return {
    first: await welcome.promise,
    async [Symbol.asyncDispose]() {
      ws.close();
      await closed;
      http.close();
    },
  };
}

Deno.test("haproxy accepts docs/haproxy.cfg", async () => {
  const check = await new Deno.Command("haproxy", {
    args: ["-c", "-f", `${ROOT}docs/haproxy.cfg`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(
    check.code,
    0,
    new TextDecoder().decode(check.stdout) +
      new TextDecoder().decode(check.stderr),
  );
});

for (const sendProxy of ["send-proxy-v2", "send-proxy"]) {
  Deno.test(`[node] behind docs/haproxy.cfg (${sendProxy}) both doors see the client, and client certificates still log in`, async () => {
    const { ca } = await testCertificates();
    await using s = await startServer("node", [
      "--trusted-proxy",
      BALANCER,
      "--max-per-ip",
      "3",
    ], { web: {}, clientCa: { ca: ca.cert, require: false } });
    await s.server.gate.accounts.add("carol", "carol's password");
    const listen = { chat: freePort(), web: freePort() };
    await using proxy = await HaProxy.start(
      await documentedConfig(
        listen,
        { chat: s.port, web: s.webPort },
        sendProxy,
      ),
    );
    try {
      // The chat port: the server logs the client's own address and port.
      using alice = await TestClient.join(listen.chat, "alice");
      const port = (alice.conn.localAddr as Deno.NetAddr).port;
      await s.logs.waitFor(
        new RegExp(`INFO join alias=alice addr=127\\.0\\.0\\.1:${port} `),
      );
      // Mutual TLS passes through: the certificate logs carol in.
      using carol = await TestClient.join(listen.chat, "carol", {
        identity: await issueClientCertificate(ca, "carol"),
      });
      await s.logs.waitFor(/INFO join alias=carol .*account=carol/);
      // The web port.
      await using webby = await webJoin(listen.web, "webby");
      assert.match(webby.first, /^WELCOME webby 3 /);
      await s.logs.waitFor(/INFO join alias=webby addr=127\.0\.0\.1:\d+ /);
      assert.doesNotMatch(s.logs.toString(), /addr=127\.0\.0\.2/);
      // Three connections from 127.0.0.1 through the balancer: a fourth,
      // direct, is over --max-per-ip 3, counted as the same client.
      using direct = await TestClient.connect(s.port);
      assert.equal(
        await direct.readLine(),
        "BYE ip-limit Too many connections from 127.0.0.1: at most 3",
      );
      await carol.send("/quit");
      await alice.expect(/^LEAVE carol/);
    } catch (e) {
      if (e instanceof Error) e.message += `\n--- haproxy ---\n${proxy.output}`;
      throw e;
    }
  });
}

/**
 * HAProxy in `mode http` terminating TLS in front of the web door on
 * `webPort`: on `listen.forwarded` with `option forwardfor`, on
 * `listen.bare` without (the request names no client).
 */
function httpModeConfig(
  listen: { forwarded: number; bare: number },
  webPort: number,
): string {
  return `global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 5s
    timeout client 400s
    timeout server 400s
    timeout tunnel 400s
frontend web
    bind 127.0.0.1:${listen.forwarded} ssl crt site.pem
    option forwardfor
    default_backend web_servers
frontend bare
    bind 127.0.0.1:${listen.bare} ssl crt site.pem
    default_backend web_servers
backend web_servers
    server s1 127.0.0.1:${webPort} ssl verify required ca-file ca.pem source ${BALANCER}
`;
}

Deno.test("[node] behind HAProxy in mode http with option forwardfor, the web door sees the client", async () => {
  const { ca, server } = await testCertificates();
  await using s = await startServer("node", ["--trusted-proxy", BALANCER], {
    web: {},
  });
  const listen = { forwarded: freePort(), bare: freePort() };
  await using proxy = await HaProxy.start(
    httpModeConfig(listen, s.webPort),
    { "site.pem": server.cert + server.key, "ca.pem": ca.cert },
  );
  try {
    await using webby = await webJoin(listen.forwarded, "webby");
    assert.match(webby.first, /^WELCOME webby 1 /);
    await s.logs.waitFor(/INFO join alias=webby addr=127\.0\.0\.1 /);
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- haproxy ---\n${proxy.output}`;
    throw e;
  }
});

Deno.test("[node] behind HAProxy in mode http, /healthz never tells the counts, whatever X-Forwarded-For names", async () => {
  const { ca, server } = await testCertificates();
  await using s = await startServer("node", ["--trusted-proxy", BALANCER], {
    web: {},
  });
  const listen = { forwarded: freePort(), bare: freePort() };
  await using proxy = await HaProxy.start(
    httpModeConfig(listen, s.webPort),
    { "site.pem": server.cert + server.key, "ca.pem": ca.cert },
  );
  using http = Deno.createHttpClient({ caCerts: [ca.cert] });
  const health = async (port: number) => {
    const answer = await fetch(`https://localhost:${port}/healthz`, {
      client: http,
    });
    return await answer.json();
  };
  try {
    // The client (127.0.0.1) is named by the header, which the server
    // cannot tell from one the client wrote: no counts (before, told them).
    assert.deepEqual(await health(listen.forwarded), { status: "ok" });
    // Nobody is named: the balancer (127.0.0.2, a loopback address too)
    // is not the client. Before, it was taken for one and told the counts.
    assert.deepEqual(await health(listen.bare), { status: "ok" });
    // Through a HAProxy that passes the client's own header on (no
    // `option forwardfor`), a client naming the machine reads nothing more.
    const spoofed = await fetch(`https://localhost:${listen.bare}/healthz`, {
      client: http,
      headers: { "x-forwarded-for": "127.0.0.1" },
    });
    assert.deepEqual(await spoofed.json(), { status: "ok" });
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- haproxy ---\n${proxy.output}`;
    throw e;
  }
});

Deno.test("[node] behind docs/haproxy.cfg, a client over its cap is closed from the balancer's PROXY header, before TLS", async () => {
  await using s = await startServer("node", [
    "--trusted-proxy",
    BALANCER,
    "--max-per-ip",
    "1",
    "--max-refusals",
    "0",
    "--handshake-timeout",
    "60",
  ], { web: {} });
  const listen = { chat: freePort(), web: freePort() };
  await using proxy = await HaProxy.start(
    await documentedConfig(
      listen,
      { chat: s.port, web: s.webPort },
      "send-proxy-v2",
      // Connections are counted below: a check in flight made it 2
      // (sampled over 6 s, 0.35% of the time).
      { checks: false },
    ),
  );
  try {
    using _alice = await TestClient.join(listen.chat, "alice");
    // Connections that never start TLS, from the same client: the
    // balancer passes each on with its header, and the server closes it
    // at once instead of holding it for the 60 s handshake timeout.
    for (let i = 0; i < 3; i++) {
      using raw = await Deno.connect({
        hostname: "127.0.0.1",
        port: listen.chat,
      });
      const closed = await Promise.race([
        raw.read(new Uint8Array(16)).then(() => true, () => true),
        new Promise<boolean>((resolve) =>
          AbortSignal.timeout(WAIT_MS).addEventListener(
            "abort",
            () => resolve(false),
          )
        ),
      ]);
      assert.ok(closed, "closed before any TLS");
    }
    await s.logs.waitFor(/INFO refused addr=127\.0\.0\.1:\d+ reason=ip-limit/, {
      count: 3,
    });
    assert.equal(s.server.admission.connections, 1);
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- haproxy ---\n${proxy.output}`;
    throw e;
  }
});
