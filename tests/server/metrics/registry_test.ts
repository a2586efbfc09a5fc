/**
 * Tests of the metrics registry and its rendering, without sockets: the
 * text exposition format (escaping, histograms, special values), the label
 * sets fixed at registration, and the server's registry as `promtool`
 * reads it.
 */

import assert from "node:assert/strict";
import {
  escapeHelp,
  escapeLabelValue,
  formatValue,
  Histogram,
  Registry,
} from "../../../lib/server/metrics/registry.ts";
import {
  LOGIN_FAILURE_REASONS,
  MODERATION_KINDS,
  ServerMetrics,
  serverRegistry,
} from "../../../lib/server/metrics/server_metrics.ts";

Deno.test("Registry.render() reads counters and gauges when rendering", () => {
  const state = { lines: 0, online: 3 };
  const registry = new Registry();
  registry.counter("t_lines_total", "Lines.", () => state.lines);
  registry.gauge("t_online", "Online.", () => state.online);
  state.lines += 5;
  state.online = 2;
  assert.equal(
    registry.render(),
    [
      "# HELP t_lines_total Lines.",
      "# TYPE t_lines_total counter",
      "t_lines_total 5",
      "# HELP t_online Online.",
      "# TYPE t_online gauge",
      "t_online 2",
      "",
    ].join("\n"),
  );
});

Deno.test("Registry.render() escapes help texts and label values", () => {
  const registry = new Registry();
  registry.gauge("t_g", 'A \\ back\nslash "quoted"', [
    [{ name: 'a"b\\c\nd' }, () => 1],
  ]);
  assert.equal(
    registry.render(),
    '# HELP t_g A \\\\ back\\nslash "quoted"\n# TYPE t_g gauge\n' +
      't_g{name="a\\"b\\\\c\\nd"} 1\n',
  );
  assert.equal(escapeHelp("a\\b\nc"), "a\\\\b\\nc");
  assert.equal(escapeLabelValue('"\\\n'), '\\"\\\\\\n');
});

Deno.test("formatValue() writes infinities and NaN as the format spells them", () => {
  assert.equal(formatValue(Infinity), "+Inf");
  assert.equal(formatValue(-Infinity), "-Inf");
  assert.equal(formatValue(NaN), "NaN");
  assert.equal(formatValue(0.25), "0.25");
  assert.equal(formatValue(12), "12");
});

Deno.test("Histogram.observe() counts into the first bucket that holds the value; render() is cumulative", () => {
  const histogram = new Histogram([0.1, 1]);
  for (const value of [0.05, 0.1, 0.5, 3]) histogram.observe(value);
  assert.deepEqual(histogram.counts, [2, 1, 1]);
  const registry = new Registry();
  registry.histogram("t_seconds", "Time.", [[{ step: "a" }, histogram]]);
  assert.equal(
    registry.render(),
    [
      "# HELP t_seconds Time.",
      "# TYPE t_seconds histogram",
      't_seconds_bucket{step="a",le="0.1"} 2',
      't_seconds_bucket{step="a",le="1"} 3',
      't_seconds_bucket{step="a",le="+Inf"} 4',
      't_seconds_sum{step="a"} 3.65',
      't_seconds_count{step="a"} 4',
      "",
    ].join("\n"),
  );
});

Deno.test("Histogram refuses bounds that are not finite and increasing", () => {
  assert.throws(() => new Histogram([1, 1]), RangeError);
  assert.throws(() => new Histogram([1, Infinity]), RangeError);
});

Deno.test("Registry refuses bad names, counters without _total, taken names and mixed label sets", () => {
  const registry = new Registry();
  const one = () => 1;
  assert.throws(() => registry.counter("t_lines", "x", one), /_total/);
  assert.throws(() => registry.gauge("t-bad", "x", one), /invalid/);
  registry.gauge("t_ok", "x", one);
  assert.throws(() => registry.gauge("t_ok", "x", one), /taken/);
  assert.throws(
    () =>
      registry.gauge("t_mixed", "x", [[{ a: "1" }, one], [{ b: "1" }, one]]),
    /different labels/,
  );
  assert.throws(
    () =>
      registry.gauge("t_twice", "x", [[{ a: "1" }, one], [{ a: "1" }, one]]),
    /twice/,
  );
  assert.throws(
    () => registry.gauge("t_reserved", "x", [[{ __a: "1" }, one]]),
    /not a valid name/,
  );
  assert.throws(
    () => registry.histogram("t_h", "x", [[{ le: "1" }, new Histogram([1])]]),
    /reserved/,
  );
  assert.throws(() => registry.gauge("t_none", "x", []), /no series/);
});

/** The server's registry over fixed sources (`clustered`: with Redis). */
function fakeRegistry(metrics: ServerMetrics, clustered = true) {
  return serverRegistry(metrics, {
    engine: "node",
    clustered,
    online: () => 2,
    rooms: () => 1,
    admitted: () => 3,
    accepted: () => 7,
    probe: () => ({
      unwritable: null,
      redis: { down: null, servers: 2, streamEntries: 40 },
      databaseBytes: 4096,
      search: { waiting: 7, dropped: 2 },
    }),
    certificateExpiresMs: () => 1_800_000_000_000,
    lag: new Histogram([0.01]),
  });
}

Deno.test("ServerMetrics: what owners increment shows under its name and fixed labels", () => {
  const metrics = new ServerMetrics();
  metrics.spoke("MSG", "websocket");
  metrics.spoke("ME", "tls");
  metrics.doors.tls.connections++;
  metrics.loginFailures["room-key"]++;
  metrics.moderated("kick");
  metrics.moderated("something-new");
  metrics.historyCommit.observe(0.002);
  const text = fakeRegistry(metrics).render();
  for (
    const line of [
      'tlschat_messages_total{door="web"} 1',
      'tlschat_actions_total{door="tls"} 1',
      'tlschat_connections{door="tls",engine="node"} 1',
      'tlschat_connections{door="web",engine="node"} 0',
      'tlschat_connections{door="irc",engine="node"} 0',
      'tlschat_login_failures_total{reason="room-key"} 1',
      'tlschat_moderation_actions_total{kind="kick"} 1',
      'tlschat_moderation_actions_total{kind="other"} 1',
      'tlschat_history_commit_seconds_count{step="turn"} 1',
      "tlschat_members_online 2",
      "tlschat_cluster_servers 2",
      "tlschat_redis_up 1",
      "tlschat_search_index_waiting_lines 7",
      "tlschat_search_index_dropped_lines_total 2",
      "tlschat_certificate_expiry_timestamp_seconds 1800000000",
    ]
  ) {
    assert.ok(text.includes(`\n${line}\n`), `missing: ${line}\n${text}`);
  }
  // Every label value is one of a fixed set: nothing a client says.
  const series = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
  assert.equal(
    series.filter((l) => l.startsWith("tlschat_login_failures_total")).length,
    LOGIN_FAILURE_REASONS.length,
  );
  assert.equal(
    series.filter((l) => l.startsWith("tlschat_moderation_actions_total"))
      .length,
    MODERATION_KINDS.length,
  );
});

Deno.test("serverRegistry() of a server alone has no Redis series at all", () => {
  const text = fakeRegistry(new ServerMetrics(), false).render();
  for (
    const name of [
      "tlschat_redis_up",
      "tlschat_redis_command_seconds",
      "tlschat_cluster_servers",
      "tlschat_redis_stream_entries",
    ]
  ) {
    assert.ok(!text.includes(name), name);
  }
  assert.ok(text.includes("\ntlschat_database_writable 1\n"));
});

Deno.test("serverRegistry() renders what promtool check metrics accepts", async () => {
  const metrics = new ServerMetrics();
  metrics.spoke("MSG", "tls");
  metrics.redisCommand.observe(0.0003);
  const text = fakeRegistry(metrics).render();
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const said = new TextDecoder().decode(stdout) +
    new TextDecoder().decode(stderr);
  assert.equal(code, 0, said);
  assert.equal(said.trim(), "", said);
});
