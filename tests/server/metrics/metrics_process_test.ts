/**
 * Process tests of the metrics port: a real `server.ts` with
 * `--metrics-port 0`, real members chatting over TLS, then `/metrics`
 * scraped (the counts that must change do, and `promtool check metrics`
 * accepts the scrape); in a cluster, `/readyz` follows Redis; one address
 * holding its places idle leaves the others to a scraper elsewhere; and one
 * real Prometheus on a free loopback port scrapes the server (`up` is 1,
 * and what changes shows in the next scrape).
 */

import assert from "node:assert/strict";
import { SERVER_SETTINGS } from "../../../lib/server/config.ts";
import {
  LineLog,
  loopbackArgs,
  runCommand,
  serverPermissions,
  ServerProcess,
  testCertificates,
  TestClient,
  WAIT_MS,
  withServerProcess,
  withTempDir,
  writeTestCertificates,
} from "../../_helpers.ts";
import { freePort } from "../../_helpers.ts";
import { withCluster } from "../cluster/_cluster.ts";

/** The metrics port's base URL, from the server's `listening` line. */
function metricsBase(server: ServerProcess): string {
  const line = server.output.lines.find((l) => / listening /.test(l)) ?? "";
  const address = / metrics=(\S+)/.exec(line)?.[1];
  assert.ok(address, `no metrics= in: ${line}`);
  return `http://${address}`;
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

/** The value of one series (its name and labels as rendered) in a scrape. */
function valueOf(scrape: string, series: string): number {
  const line = scrape.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line !== undefined, `no ${series} in the scrape`);
  return Number(line.slice(series.length + 1));
}

/** Runs `promtool check metrics` on a scrape; returns what it said. */
async function promtool(scrape: string): Promise<string> {
  const { code, out } = await runCommand(
    "promtool",
    ["check", "metrics"],
    scrape,
  );
  assert.equal(code, 0, out);
  return out.trim();
}

Deno.test("server.ts --metrics-port: /metrics counts real members' activity by door (TLS and WebSocket), promtool accepts it", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const password = `${dir}/room-password`;
    await Deno.writeTextFile(password, "correct horse battery\n", {
      mode: 0o600,
    });
    const webPort = freePort();
    const args = loopbackArgs(
      dir,
      "--metrics-port",
      "0",
      "--password-file",
      password,
      "--web-port",
      String(webPort),
    );
    const permissions = [
      ...serverPermissions(dir),
      "--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE",
    ];
    await withServerProcess(permissions, args, async (server) => {
      const base = metricsBase(server);
      const before = (await get(`${base}/metrics`)).text;
      assert.equal(valueOf(before, 'tlschat_messages_total{door="tls"}'), 0);
      assert.equal(valueOf(before, "tlschat_members_online"), 0);
      const options = { password: "correct horse battery" };
      using alice = await TestClient.join(server.port, "alice", options);
      using bob = await TestClient.join(server.port, "bob", options);
      using guesser = await TestClient.connect(server.port);
      await guesser.expect(/^HELLO /);
      await guesser.send("mallory");
      await guesser.expect(/^PASSWORD /);
      await guesser.send("/pass wrong");
      await guesser.expect(/^ERR password-wrong /);
      await using carol = await WebMember.join(webPort, "carol", options);
      // One after the other, so that every member sees them in this order.
      await alice.send("hello bob");
      await alice.expect(/^MSG alice hello bob$/);
      await bob.send("/me waves");
      await bob.expect(/^MSG alice hello bob$/);
      await bob.expect(/^ME bob waves$/);
      carol.ws.send("hello from a browser");
      await carol.said(/^MSG carol hello from a browser$/);
      await alice.expect(/^ME bob waves$/);
      for (const client of [alice, bob]) {
        await client.expect(/^MSG carol hello from a browser$/);
      }
      // The rendering made for `before` serves the scrapes of the next
      // metricsRenderMs (500 ms): wait for one made since the last line.
      let scrape = { status: 0, text: "" };
      await waitFor(async () => {
        scrape = await get(`${base}/metrics`);
        return valueOf(scrape.text, 'tlschat_messages_total{door="web"}') === 1;
      });
      const { status, text } = scrape;
      assert.equal(status, 200);
      const value = (series: string) => valueOf(text, series);
      assert.equal(value('tlschat_messages_total{door="tls"}'), 1);
      assert.equal(value('tlschat_actions_total{door="tls"}'), 1);
      assert.equal(value('tlschat_messages_total{door="web"}'), 1);
      assert.equal(value('tlschat_messages_total{door="irc"}'), 0);
      assert.equal(value('tlschat_connections{door="tls",engine="node"}'), 3);
      assert.equal(value('tlschat_connections{door="web",engine="node"}'), 1);
      assert.equal(value("tlschat_members_online"), 3);
      assert.equal(value("tlschat_rooms"), 1);
      assert.equal(
        value('tlschat_login_failures_total{reason="room-password"}'),
        1,
      );
      // The JOINs, then each of the three lines to the three members.
      assert.ok(value("tlschat_deliveries_total") >= 9);
      assert.ok(
        value('tlschat_history_commit_seconds_count{step="turn"}') >= 1,
      );
      assert.ok(value("tlschat_history_database_bytes") > 0);
      assert.equal(value("tlschat_database_writable"), 1);
      assert.ok(value("process_resident_memory_bytes") > 1_000_000);
      assert.ok(
        value("tlschat_certificate_expiry_timestamp_seconds") >
          Date.now() / 1000,
      );
      assert.equal(await promtool(text), "");
      assert.deepEqual(await get(`${base}/readyz`), {
        status: 200,
        text: "ready\n",
      });
      const health = JSON.parse((await get(`${base}/healthz`)).text);
      assert.equal(health.status, "ok");
      assert.equal(health.online, 3);
      // Bob leaves: its connection is counted down once it closed.
      await bob.send("/quit");
      await bob.expect(/^BYE quit /);
      await alice.expect(/^LEAVE bob /);
      await bob.readToEnd();
      guesser[Symbol.dispose]();
      await waitFor(async () =>
        valueOf(
          (await get(`${base}/metrics`)).text,
          'tlschat_connections{door="tls",engine="node"}',
        ) === 1
      );
    });
  });
});

/** A browser's member, by WebSocket to the web door (trusting the test CA). */
class WebMember implements AsyncDisposable {
  readonly ws: WebSocket;
  readonly #http: Deno.HttpClient;
  readonly #lines = new LineLog();
  readonly #closed: Promise<unknown>;

  private constructor(ws: WebSocket, http: Deno.HttpClient) {
    this.ws = ws;
    this.#http = http;
    ws.onmessage = (event) => this.#lines.push(String(event.data));
    this.#closed = new Promise((resolve) => ws.onclose = resolve);
  }

  /** Opens `/ws`, then joins as `alias` with the room password. */
  static async join(
    port: number,
    alias: string,
    { password }: { password: string },
  ): Promise<WebMember> {
    const { ca } = await testCertificates();
    const http = Deno.createHttpClient({ caCerts: [ca.cert] });
    const ws = new WebSocket(`wss://localhost:${port}/ws`, {
      client: http,
    } as unknown as string[]);
    const member = new WebMember(ws, http);
    await member.#lines.waitFor(/^HELLO /);
    ws.send(alias);
    await member.#lines.waitFor(/^PASSWORD /);
    ws.send(`/pass ${password}`);
    await member.#lines.waitFor(new RegExp(`^WELCOME ${alias} `));
    return member;
  }

  /** Waits for a line matching `pattern` (past or future). */
  async said(pattern: RegExp): Promise<void> {
    await this.#lines.waitFor(pattern);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.#closed;
    this.#http.close();
  }
}

/**
 * Waits until `check` holds, asking again as the server gets there (a
 * connection's end is not an event a test can await from outside).
 */
async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > until) throw new Error("Timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test("server.ts --redis --metrics-port: commits timed, /readyz is 503 once Redis stops answering, /metrics says Redis is down", async () => {
  await withCluster(1, async ([server], redis) => {
    const base = metricsBase(server!);
    using amy = await TestClient.join(server!.port, "amy");
    await amy.send("hello");
    await amy.expect(/^MSG amy hello$/);
    const up = (await get(`${base}/metrics`)).text;
    assert.equal(valueOf(up, "tlschat_redis_up"), 1);
    assert.equal(valueOf(up, "tlschat_cluster_servers"), 1);
    assert.ok(valueOf(up, "tlschat_redis_command_seconds_count") > 0);
    // The stream's append script is the cluster's commit (the join went
    // with the alias's claim).
    assert.ok(
      valueOf(up, 'tlschat_history_commit_seconds_count{step="turn"}') >= 1,
    );
    assert.equal(valueOf(up, 'tlschat_messages_total{door="tls"}'), 1);
    assert.equal(await promtool(up), "");
    assert.deepEqual(await get(`${base}/readyz`), {
      status: 200,
      text: "ready\n",
    });
    await redis.stop();
    // The probe's answer is kept a second: asked again until it is new.
    let readyz = { status: 0, text: "" };
    await waitFor(async () => {
      readyz = await get(`${base}/readyz`);
      return readyz.status === 503;
    });
    assert.match(readyz.text, /^not ready: Redis did not answer \(/);
    const down = (await get(`${base}/metrics`)).text;
    assert.equal(valueOf(down, "tlschat_redis_up"), 0);
  }, { args: ["--metrics-port", "0"] });
});

Deno.test("a real Prometheus scrapes server.ts's /metrics: up is 1, and tlschat's series are there", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const args = loopbackArgs(dir, "--metrics-port", "0");
    await withServerProcess(serverPermissions(dir), args, async (server) => {
      const target = metricsBase(server).slice("http://".length);
      await Deno.writeTextFile(
        `${dir}/prometheus.yml`,
        [
          "global:",
          "  scrape_interval: 1s",
          "scrape_configs:",
          "  - job_name: tlschat",
          "    static_configs:",
          `      - targets: ["${target}"]`,
          "",
        ].join("\n"),
      );
      await withPrometheus(dir, async (api) => {
        const query = async (expr: string) => {
          const { text } = await get(
            `${api}/api/v1/query?query=${encodeURIComponent(expr)}`,
          );
          const body = JSON.parse(text);
          return body.data?.result?.[0]?.value?.[1] as string | undefined;
        };
        await waitFor(
          async () => await query('up{job="tlschat"}') === "1",
          30_000,
        );
        assert.equal(await query("tlschat_build_info"), "1");
        assert.equal(await query("tlschat_members_online"), "0");
        // A scrape after a change sees it (a rendering serves for less
        // than Prometheus's interval).
        using _alice = await TestClient.join(server.port, "alice", {
          ca: (await testCertificates()).ca.cert,
        });
        await waitFor(
          async () => await query("tlschat_members_online") === "1",
          30_000,
        );
      });
    });
  });
});

/**
 * Asks `GET /readyz` (keep-alive) on a connection of its own from
 * 127.0.0.1; resolves to the first bytes of the answer ("" when closed
 * unanswered) and the connection, left open.
 */
async function askIdle(
  port: number,
): Promise<{ said: string; conn: Deno.Conn }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buffer = new Uint8Array(1024);
  const sent = await conn.write(
    new TextEncoder().encode("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"),
  ).then(() => true, () => false);
  const n = sent ? await conn.read(buffer).catch(() => null) : null;
  const said = n === null
    ? ""
    : new TextDecoder().decode(buffer.subarray(0, n));
  return { said, conn };
}

/**
 * A scraper at another address (python3, from 127.0.0.2): its answer,
 * the status line first (nothing when it was closed unanswered).
 */
const SCRAPER = `
import socket, sys
conn = socket.create_connection(("127.0.0.1", int(sys.argv[1])),
                                source_address=("127.0.0.2", 0))
conn.sendall(b"GET /metrics HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
said = b""
try:
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        said += chunk
except OSError:
    pass
print(said.decode())
`;

Deno.test(`server.ts --metrics-port holds at most ${SERVER_SETTINGS.metricsMaxPerIp} connections from one address: one holding them idle leaves the others to a scraper elsewhere`, async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const args = loopbackArgs(dir, "--metrics-port", "0");
    await withServerProcess(serverPermissions(dir), args, async (server) => {
      const port = Number(new URL(metricsBase(server)).port);
      const conns: Deno.Conn[] = [];
      try {
        // Every place of the port asked for from 127.0.0.1, each kept.
        let held = 0;
        for (let i = 0; i < SERVER_SETTINGS.metricsMaxConnections; i++) {
          const { said, conn } = await askIdle(port);
          conns.push(conn);
          if (said.startsWith("HTTP/1.1 200 ")) held++;
        }
        // Before, the 32 were all held and a scraper was closed unanswered.
        const { stdout } = await new Deno.Command("python3", {
          args: ["-c", SCRAPER, String(port)],
          stdout: "piped",
        }).output();
        const answer = new TextDecoder().decode(stdout);
        assert.equal(answer.split("\r\n")[0], "HTTP/1.1 200 OK");
        assert.equal(held, SERVER_SETTINGS.metricsMaxPerIp);
        // Before, the port's refusals were logged but counted nowhere.
        const refused = SERVER_SETTINGS.metricsMaxConnections - held;
        for (
          const line of [
            `tlschat_connections_refused_total{door="metrics",reason="ip-limit"} ${refused}`,
            'tlschat_connections_refused_total{door="metrics",reason="server-full"} 0',
            'tlschat_connections_refused_total{door="chat",reason="ip-limit"} 0',
          ]
        ) assert.ok(answer.includes(`\n${line}\n`), line);
        await server.output.waitFor(
          /INFO refused door=metrics addr=127\.0\.0\.1:\d+ reason=ip-limit/,
        );
      } finally {
        for (const conn of conns) conn.close();
      }
    });
  });
});

/**
 * Runs a real Prometheus on a free loopback port (it cannot take port 0:
 * another port is tried when the one picked was taken meanwhile) for the
 * body, given its API's base URL; shows its output on failure.
 */
async function withPrometheus(
  dir: string,
  body: (api: string) => Promise<void>,
): Promise<void> {
  for (let attempt = 1;; attempt++) {
    const port = freePort();
    const child = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/tsdb-${attempt}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let said = "";
    const reading = (async () => {
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) said += chunk;
    })();
    const api = `http://127.0.0.1:${port}`;
    try {
      const started = await waitForPrometheus(api, child.status);
      if (!started && /address already in use/.test(said) && attempt < 5) {
        continue;
      }
      assert.ok(started, `prometheus did not start:\n${said}`);
      await body(api);
      return;
    } catch (e) {
      if (e instanceof Error) e.message += `\n--- prometheus ---\n${said}`;
      throw e;
    } finally {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited already.
      }
      await child.status;
      await reading;
    }
  }
}

/** Whether Prometheus answers `/-/ready` before it exits (false if it does). */
async function waitForPrometheus(
  api: string,
  exited: Promise<Deno.CommandStatus>,
): Promise<boolean> {
  let gone = false;
  exited.then(() => gone = true);
  const until = Date.now() + 30_000;
  while (!gone && Date.now() < until) {
    try {
      const response = await fetch(`${api}/-/ready`);
      await response.body?.cancel();
      if (response.status === 200) return true;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}
