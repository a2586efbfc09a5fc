/**
 * Tests of the metrics listener over real loopback HTTP with a fake server
 * and backend (what each path answers, readiness, errors, the shared
 * probe, the lag sampler), of the backend's probe, and of what the room
 * counts (without sockets). Its connection limits: metrics_limits_test.ts.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../../lib/log.ts";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import {
  type MetricsListenerOptions,
  type MetricsServer,
  openMetricsListener,
  PROBE_CACHE_MS,
  sampleLag,
} from "../../../lib/server/metrics/metrics_http.ts";
import { Histogram } from "../../../lib/server/metrics/registry.ts";
import {
  type BackendProbe,
  ServerMetrics,
} from "../../../lib/server/metrics/server_metrics.ts";
import { DATABASE_FILE, openStore } from "../../../lib/server/storage/store.ts";
import { Room } from "../../../lib/server/room/room.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import { systemClock } from "../../../lib/clock.ts";
import { localBackend } from "../../../lib/server/backend.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import { Admission } from "../../../lib/server/doors/admission.ts";
import { SERVER_SETTINGS } from "../../../lib/server/config.ts";
import { withTempDir } from "../../_helpers.ts";

const silent = createLogger("error", () => {});

/** A server as the listener reads it, with its numbers settable. */
function fakeServer(): MetricsServer & { stopping: boolean } {
  return {
    metrics: new ServerMetrics(),
    stopping: false,
    connections: 3,
    admission: { stats: { accepted: 5 } },
    room: { size: 2, router: { rooms: { size: 1 } } },
  };
}

/** A backend whose probe says what `probe` holds, counting its calls. */
function fakeBackend(probe: { value: BackendProbe; calls?: number }) {
  return {
    probe: () => {
      probe.calls = (probe.calls ?? 0) + 1;
      return Promise.resolve(probe.value);
    },
  };
}

/** The listener on a free loopback port, with `options` over defaults. */
function openFake(
  options: Partial<MetricsListenerOptions> = {},
) {
  return openMetricsListener({
    hostname: "127.0.0.1",
    port: 0,
    admission: new Admission(
      { maxClients: 32, maxPerIp: 0, maxRefusals: 0 },
      silent,
    ),
    renderMs: SERVER_SETTINGS.metricsRenderMs,
    closeGraceMs: 2_000,
    requestTimeoutMs: 5_000,
    httpPipelined: 8,
    httpMaxHeaderBytes: SERVER_SETTINGS.httpMaxHeaderBytes,
    httpDiscardBytes: SERVER_SETTINGS.httpDiscardBytes,
    log: silent,
    server: fakeServer(),
    backend: fakeBackend({ value: HEALTHY }),
    engine: "node",
    clustered: false,
    certificateExpiresMs: null,
    ...options,
  });
}

const HEALTHY: BackendProbe = {
  unwritable: null,
  redis: null,
  databaseBytes: 8192,
  search: { waiting: 3, dropped: 1 },
};

async function get(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; type: string; text: string }> {
  const response = await fetch(url, init);
  return {
    status: response.status,
    type: response.headers.get("content-type") ?? "",
    text: await response.text(),
  };
}

Deno.test("openMetricsListener() answers /metrics, /readyz and /healthz on loopback", async () => {
  const server = fakeServer();
  const probe = { value: HEALTHY };
  await using listener = await openFake({
    server,
    backend: fakeBackend(probe),
    engine: "deno",
    certificateExpiresMs: 2_000_000_000_000,
  });
  const base = `http://127.0.0.1:${listener.addr.port}`;
  server.metrics.spoke("MSG", "irc");
  const metrics = await get(`${base}/metrics`);
  assert.equal(metrics.status, 200);
  assert.equal(metrics.type, "text/plain; version=0.0.4; charset=utf-8");
  for (
    const line of [
      'tlschat_messages_total{door="irc"} 1',
      'tlschat_connections{door="irc",engine="deno"} 0',
      'tlschat_connections{door="web",engine="node"} 0',
      "tlschat_connections_admitted 3",
      "tlschat_connections_accepted_total 5",
      'tlschat_connections_refused_total{door="chat",reason="ip-limit"} 0',
      'tlschat_connections_refused_total{door="metrics",reason="ip-limit"} 0',
      "tlschat_history_database_bytes 8192",
      "tlschat_database_writable 1",
      "tlschat_certificate_expiry_timestamp_seconds 2000000000",
    ]
  ) {
    assert.ok(metrics.text.includes(`\n${line}\n`), line);
  }
  assert.ok(!metrics.text.includes("tlschat_redis"), "no Redis: no series");
  assert.deepEqual(await get(`${base}/readyz`), {
    status: 200,
    type: "text/plain; charset=utf-8",
    text: "ready\n",
  });
  const health = await get(`${base}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(JSON.parse(health.text), {
    status: "ok",
    online: 2,
    connections: 3,
    rooms: 1,
    uptimeS: 0,
  });
  assert.equal((await get(`${base}/nothing`)).status, 404);
  const head = await get(`${base}/metrics`, { method: "HEAD" });
  assert.deepEqual([head.status, head.text], [200, ""]);
  const post = await fetch(`${base}/metrics`, { method: "POST" });
  await post.body?.cancel();
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
});

Deno.test("openMetricsListener() /readyz says 503 and why: database, Redis, shutdown", async () => {
  const server = fakeServer();
  const probe = { value: HEALTHY };
  let nowMs = 0;
  await using listener = await openFake({
    server,
    backend: fakeBackend(probe),
    now: () => nowMs,
  });
  const readyz = `http://127.0.0.1:${listener.addr.port}/readyz`;
  probe.value = { ...HEALTHY, unwritable: "history commits fail" };
  assert.deepEqual(await get(readyz), {
    status: 503,
    type: "text/plain; charset=utf-8",
    text: "not ready: history commits fail\n",
  });
  probe.value = {
    ...HEALTHY,
    redis: { down: "Redis did not answer", servers: 0, streamEntries: 0 },
  };
  nowMs += PROBE_CACHE_MS;
  assert.equal((await get(readyz)).text, "not ready: Redis did not answer\n");
  probe.value = HEALTHY;
  nowMs += PROBE_CACHE_MS;
  server.stopping = true;
  assert.equal((await get(readyz)).status, 503);
  const health = await get(`http://127.0.0.1:${listener.addr.port}/healthz`);
  assert.equal(health.status, 503);
  assert.equal(JSON.parse(health.text).status, "stopping");
});

Deno.test("openMetricsListener() names the flag when its address is taken", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await assert.rejects(
    openFake({ port: taken.addr.port }),
    /--metrics-port\): the address is in use/,
  );
});

Deno.test("openMetricsListener() asks the backend once for requests at the same time, and keeps the answer for PROBE_CACHE_MS", async () => {
  const gate = Promise.withResolvers<void>();
  // The listener reads the time once as it opens, then once per probe
  // and per rendering asked for: the first /metrics asks both, the other
  // two requests one each, so the 5th read says the three are all in.
  const allIn = Promise.withResolvers<void>();
  let reads = 0;
  let calls = 0;
  let nowMs = 0;
  await using listener = await openFake({
    backend: {
      probe: async () => {
        calls++;
        await gate.promise;
        return HEALTHY;
      },
    },
    now: () => {
      if (++reads === 5) allIn.resolve();
      return nowMs;
    },
  });
  const base = `http://127.0.0.1:${listener.addr.port}`;
  const asked = [
    get(`${base}/metrics`),
    get(`${base}/readyz`),
    get(`${base}/metrics`),
  ];
  await allIn.promise;
  gate.resolve();
  for (const { status } of await Promise.all(asked)) assert.equal(status, 200);
  assert.equal(calls, 1);
  nowMs += PROBE_CACHE_MS - 1;
  assert.equal((await get(`${base}/readyz`)).status, 200);
  assert.equal(calls, 1, "kept");
  nowMs += 1;
  assert.equal((await get(`${base}/readyz`)).status, 200);
  assert.equal(calls, 2, "asked again once it is old");
});

Deno.test("openMetricsListener() renders /metrics once for the scrapes within renderMs, and afresh after", async () => {
  let nowMs = 0;
  let renders = 0;
  let online = 2;
  // Each rendering reads the members online once.
  const server = {
    ...fakeServer(),
    room: {
      get size() {
        renders++;
        return online;
      },
      router: { rooms: { size: 1 } },
    },
  };
  const renderMs = 500;
  await using listener = await openFake({ server, renderMs, now: () => nowMs });
  const scrape = async () => {
    const { text } = await get(
      `http://127.0.0.1:${listener.addr.port}/metrics`,
    );
    return text.match(/^tlschat_members_online (\d+)$/m)?.[1];
  };
  // 20 scrapes, some at once: one rendering (before, 20).
  const first = await Promise.all(Array.from({ length: 10 }, scrape));
  online = 5;
  for (let i = 0; i < 10; i++) {
    nowMs = Math.round((i * (renderMs - 1)) / 9);
    first.push(await scrape());
  }
  assert.deepEqual(first, Array(20).fill("2"));
  assert.equal(renders, 1);
  // Once the interval is over, a scrape sees the values of its time.
  nowMs = renderMs + 1;
  assert.equal(await scrape(), "5");
  assert.equal(renders, 2);
});

Deno.test("openMetricsListener() renders /metrics and probes afresh when the clock was set back", async () => {
  let nowMs = 1_000_000;
  let online = 2;
  const server = {
    ...fakeServer(),
    room: {
      get size() {
        return online;
      },
      router: { rooms: { size: 1 } },
    },
  };
  const probe = { value: HEALTHY, calls: 0 };
  await using listener = await openFake({
    server,
    backend: fakeBackend(probe),
    now: () => nowMs,
  });
  const scrape = async () => {
    const { text } = await get(
      `http://127.0.0.1:${listener.addr.port}/metrics`,
    );
    return text.match(/^tlschat_members_online (\d+)$/m)?.[1];
  };
  assert.equal(await scrape(), "2");
  assert.equal(probe.calls, 1);
  // The wall clock is stepped back an hour (NTP, a resumed VM): before,
  // what was kept stayed "fresh" until the clock came back to it, an hour
  // of the same numbers and the same probe (/readyz blind as long).
  online = 5;
  nowMs -= 3_600_000;
  assert.equal(await scrape(), "5");
  assert.equal(probe.calls, 2);
});

Deno.test("sampleLag() records how late its timer fires while the loop is busy", async () => {
  const lag = new Histogram([0.05]);
  const stop = sampleLag(lag);
  try {
    // Busy for 0.8 s: the 0.5 s sample comes about 0.3 s late.
    const until = performance.now() + 800;
    while (performance.now() < until) { /* busy */ }
    await new Promise((resolve) => setTimeout(resolve, 600));
  } finally {
    stop();
  }
  assert.ok(lag.count >= 1, "sampled");
  assert.ok(lag.counts[1]! >= 1, `a late sample: ${lag.counts}`);
});

Deno.test("Room counts messages and actions by door once stored (a resent id once), deliveries sent (not to a member held away), announced moderation", async () => {
  const metrics = new ServerMetrics();
  const room = new Room({
    log: new MemoryLog(systemClock),
    announceLimit: 100,
    metrics,
  });
  const member = (id: string, door: "tls" | "websocket", away = false) => ({
    id,
    alias: "",
    operator: true,
    door,
    away,
    deliver: () => true,
    close: () => {},
  });
  const alice = member("a", "websocket");
  await room.join(alice, "alice");
  await room.join(member("b", "tls"), "bob");
  await room.join(member("c", "tls", true), "carol");
  const before = metrics.deliveries;
  room.speak("MSG", alice, "hi", "id-1");
  await room.settled();
  room.speak("MSG", alice, "hi", "id-1"); // resent: echoed, not stored
  room.speak("ME", alice, "waves");
  await room.settled();
  assert.equal(metrics.doors.websocket.messages, 1);
  assert.equal(metrics.doors.websocket.actions, 1);
  assert.equal(metrics.doors.tls.messages, 0);
  // Two lines to alice and bob; carol, held away, is not counted.
  assert.equal(metrics.deliveries - before, 4);
  room.announce({ type: "TOPIC", alias: "alice", text: "t" }, alice);
  room.announce(
    { type: "MOD", action: "kick", alias: "bob", by: "alice", text: "" },
    alice,
  );
  assert.equal(metrics.moderation.get("topic"), 1);
  assert.equal(metrics.moderation.get("kick"), 1);
  room.close();
});

Deno.test("localBackend().probe() says the database's size and when history commits fail; its SqliteLog times commits", async () => {
  using store = openStore(null);
  const metrics = new ServerMetrics();
  const backend = localBackend(
    store,
    parseServerArgs([]),
    systemClock,
    silent,
    metrics,
  );
  try {
    const healthy = await backend.probe();
    assert.equal(healthy.unwritable, null);
    assert.equal(healthy.redis, null);
    assert.ok(healthy.databaseBytes > 0);
    assert.deepEqual(healthy.search, { waiting: 0, dropped: 0 });
    const line = { type: "MSG", alias: "amy", text: "hi" } as const;
    backend.search.heard({ seq: 1, time: 1, line, origin: "1" });
    const searching = await backend.probe();
    assert.deepEqual(searching.search, { waiting: 1, dropped: 0 }, "its index");
    backend.log.append({ type: "MSG", alias: "amy", text: "hi" }, "1");
    await backend.log.settled();
    assert.equal(metrics.historyCommit.count, 1);
    store.db.exec("PRAGMA query_only = ON");
    backend.log.append({ type: "MSG", alias: "amy", text: "lost" }, "1");
    await backend.log.settled();
    assert.equal((await backend.probe()).unwritable, "history commits fail");
    store.db.exec("PRAGMA query_only = OFF");
    backend.log.append({ type: "MSG", alias: "amy", text: "again" }, "1");
    await backend.log.settled();
    assert.equal((await backend.probe()).unwritable, null);
  } finally {
    await backend.close();
    await backend.log.close();
  }
});

Deno.test("localBackend().probe() does not wait on the database's write lock (a users command holding it)", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir);
    const backend = localBackend(
      store,
      parseServerArgs([]),
      systemClock,
      silent,
    );
    const other = new DatabaseSync(join(dir, DATABASE_FILE));
    try {
      other.exec("BEGIN IMMEDIATE");
      const started = performance.now();
      assert.equal((await backend.probe()).unwritable, null);
      assert.ok(performance.now() - started < 100, "at once");
    } finally {
      other.exec("ROLLBACK");
      other.close();
      await backend.close();
      await backend.log.close();
    }
  });
});
