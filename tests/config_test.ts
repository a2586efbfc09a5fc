/** Tests of command-line parsing into resolved configs. */

import assert from "node:assert/strict";
import { parseClientArgs } from "../lib/client/config.ts";
import { SERVER_SETTINGS } from "../lib/server/config.ts";
import { parseServerArgs } from "../lib/server/server_args.ts";
import { SERVER_FLAGS } from "../lib/server/server_flags.ts";

Deno.test("parseServerArgs() resolves the documented defaults", () => {
  const config = parseServerArgs([]);
  assert.deepEqual(
    { ...config },
    {
      command: "serve",
      clientCertFor: null,
      help: false,
      hostname: "0.0.0.0",
      port: 7443,
      webPort: 7444,
      ircPort: null,
      ircHost: "0.0.0.0",
      webOrigins: [],
      metricsPort: null,
      metricsHost: "127.0.0.1",
      certFile: null,
      keyFile: null,
      certsDir: "certs",
      sans: [],
      newCa: false,
      name: "tlschat",
      dataDir: "data",
      history: 50,
      durability: "normal",
      historyKeepDays: 30,
      historyKeepRows: 100_000,
      historyTombstones: 100_000,
      historyFlushMs: 200,
      searchPendingBytes: 64 * 2 ** 20,
      searchResults: 50,
      searchTimeoutMs: 5000,
      searchRate: 10,
      resumeLines: 10_000,
      resumeRate: 12_000,
      passwordFile: null,
      accountsOnly: false,
      clientCa: null,
      clientCert: "optional",
      trustedProxies: [],
      loginAttempts: 5,
      loginRefillMs: 60_000,
      accountAttempts: 20,
      maxLineBytes: 4096,
      maxSkipBytes: 65_536,
      maxInputBytes: 65_536,
      maxClients: 10_000,
      maxPerIp: 20,
      maxRefusals: 64,
      maxUnreleased: 256,
      floodRate: 5,
      floodBurst: 10,
      queueBytes: 262_144,
      stallTimeoutMs: 2000,
      handshakeTimeoutMs: 10_000,
      aliasTimeoutMs: 60_000,
      idleTimeoutMs: 300_000,
      resumeGraceMs: 30_000,
      closeGraceMs: 2000,
      shutdownGraceMs: 3000,
      announceLimit: 100,
      defaultRoom: "#lobby",
      roomCreate: null,
      maxRooms: 1000,
      maxRoomsPerMember: 20,
      roomGraceMs: 600_000,
      roomCreations: 10,
      maxRoomEntries: 100,
      logLevel: "info",
      tlsEngine: "node",
      redis: null,
      cluster: "tlschat",
      redisStreamEntries: 100_000,
      redisTimeoutMs: 5000,
      redisRetryMs: 15_000,
      heartbeatMs: 1000,
      lostAfterMs: 5000,
      httpRequestTimeoutMs: 10_000,
      roomPasswordTries: 2,
      roomReasonBytes: 512,
      roomRecordBytes: 65_536,
      loginFailures: 3,
      maxHttpRequestTimeoutMs: 30_000,
      httpKeepAliveMs: 5000,
      httpPipelined: 8,
      httpMaxHeaderBytes: 16_384,
      httpDiscardBytes: 1_048_576,
      metricsMaxConnections: 32,
      metricsMaxPerIp: 4,
      metricsRenderMs: 500,
      historyFlushLines: 256,
      redisConnectTimeoutMs: 5000,
      redisStartTries: 5,
      redisReconnectMaxMs: 2000,
      redisBatchLines: 1000,
      redisLineIdsKept: 100_000,
      redisHeldFailures: 1000,
      redisReadCount: 1000,
      redisReadBlockMs: 1000,
    },
  );
});

Deno.test("parseServerArgs() derives the web port's HTTP request deadline from --handshake-timeout, at most 30 s", () => {
  const at = (seconds: string) =>
    parseServerArgs(["--handshake-timeout", seconds]).httpRequestTimeoutMs;
  assert.equal(at("0.25"), 250);
  assert.equal(at("30"), 30_000);
  assert.equal(at("60"), 30_000);
});

Deno.test("parseServerArgs() reads every flag", () => {
  const config = parseServerArgs([
    "certs",
    "--host",
    "::1",
    "--port",
    "0",
    "--cert",
    "c.pem",
    "--key",
    "k.pem",
    "--certs-dir",
    "/tmp/x",
    "--san",
    "a.example",
    "--san",
    "10.0.0.1",
    "--new-ca",
    "--name",
    "room-1",
    "--max-line-bytes",
    "100",
    "--max-skip-bytes",
    "1000",
    "--max-input-bytes",
    "2000",
    "--max-clients",
    "5",
    "--max-per-ip",
    "0",
    "--max-refusals",
    "3",
    "--max-unreleased",
    "9",
    "--flood-rate",
    "0.5",
    "--flood-burst",
    "3",
    "--queue-bytes",
    "1000",
    "--stall-timeout",
    "0.5",
    "--handshake-timeout",
    "0.25",
    "--alias-timeout",
    "2",
    "--idle-timeout",
    "0",
    "--close-grace",
    "0.5",
    "--shutdown-grace",
    "4",
    "--announce-limit",
    "7",
    "--max-room-entries",
    "12",
    "--log-level",
    "debug",
    "--tls-engine",
    "deno",
    "--history",
    "20",
    "--durability",
    "full",
    "--history-keep-days",
    "7",
    "--history-keep-rows",
    "500",
    "--history-tombstones",
    "0",
  ]);
  assert.equal(config.command, "certs");
  assert.equal(config.history, 20);
  const web = parseServerArgs([
    "--web-port",
    "0",
    "--web-origin",
    "https://chat.example",
    "--web-origin",
    "https://chat.example:8443",
    "--web-origin",
    "HTTPS://Chat.Example:443",
  ]);
  assert.equal(web.webPort, 0);
  // As browsers send them: lower case, no default port.
  assert.deepEqual(web.webOrigins, [
    "https://chat.example",
    "https://chat.example:8443",
    "https://chat.example",
  ]);
  for (
    const bad of [
      "chat.example",
      "https://chat.example/",
      "*",
      "http://chat.example",
      "https://",
    ]
  ) {
    assert.throws(
      () => parseServerArgs(["--web-origin", bad]),
      /Cannot use --web-origin/,
    );
  }
  assert.equal(config.durability, "full");
  assert.equal(config.historyKeepDays, 7);
  assert.equal(config.historyKeepRows, 500);
  assert.equal(config.historyTombstones, 0);
  assert.throws(
    () => parseServerArgs(["--history-tombstones", "1000001"]),
    RangeError,
  );
  assert.equal(config.maxRoomEntries, 12);
  assert.throws(() => parseServerArgs(["--history", "501"]), RangeError);
  assert.throws(() => parseServerArgs(["--max-room-entries", "0"]), RangeError);
  assert.throws(() => parseServerArgs(["--durability", "disk"]), TypeError);
  const cluster = parseServerArgs([
    "--redis",
    "rediss://:secret@redis.example:6380/2",
    "--cluster",
    "lobby-2",
    "--redis-timeout",
    "0.5",
    "--redis-retry",
    "2",
    "--redis-stream-entries",
    "300",
    "--heartbeat",
    "0.2",
    "--lost-after",
    "1",
  ]);
  assert.equal(cluster.redis, "rediss://:secret@redis.example:6380/2");
  assert.equal(cluster.cluster, "lobby-2");
  assert.equal(cluster.redisStreamEntries, 300);
  assert.deepEqual(
    [
      cluster.redisTimeoutMs,
      cluster.redisRetryMs,
      cluster.heartbeatMs,
      cluster.lostAfterMs,
    ],
    [500, 2000, 200, 1000],
  );
  // A live server is never counted lost between two of its heartbeats.
  assert.throws(
    () => parseServerArgs(["--heartbeat", "2", "--lost-after", "3"]),
    /Cannot use a --lost-after below twice --heartbeat/,
  );
  for (const flag of ["--redis-timeout", "--heartbeat"]) {
    assert.throws(
      () => parseServerArgs([flag, "0"]),
      new RegExp(`Cannot use ${flag} below 0.01 seconds`),
    );
  }
  for (const bad of ["127.0.0.1:6379", "http://redis.example"]) {
    assert.throws(
      () => parseServerArgs(["--redis", bad]),
      /Cannot use --redis/,
    );
  }
  for (const bad of ["", "a}b", "with space", "x".repeat(65)]) {
    assert.throws(
      () => parseServerArgs(["--cluster", bad]),
      /Cannot use --cluster/,
    );
  }
  // Trusted proxies: addresses or ranges, in canonical form.
  assert.deepEqual(
    parseServerArgs([
      "--trusted-proxy",
      "10.0.0.5",
      "--trusted-proxy",
      "2001:DB8::1/64",
    ]).trustedProxies.map((range) => range.text),
    ["10.0.0.5", "2001:db8::/64"],
  );
  assert.equal(
    parseServerArgs(["certs", "client", "alice"]).clientCertFor,
    "alice",
  );
  assert.equal(config.hostname, "::1");
  assert.equal(config.port, 0);
  assert.equal(config.certFile, "c.pem");
  assert.equal(config.keyFile, "k.pem");
  assert.equal(config.certsDir, "/tmp/x");
  assert.deepEqual(config.sans, ["a.example", "10.0.0.1"]);
  assert.equal(config.newCa, true);
  assert.equal(config.name, "room-1");
  assert.equal(config.maxLineBytes, 100);
  assert.equal(config.maxSkipBytes, 1000);
  assert.equal(config.maxInputBytes, 2000);
  assert.equal(config.maxClients, 5);
  assert.equal(config.maxPerIp, 0);
  assert.equal(config.maxRefusals, 3);
  assert.equal(config.maxUnreleased, 9);
  assert.equal(config.floodRate, 0.5);
  assert.equal(config.floodBurst, 3);
  assert.equal(config.queueBytes, 1000);
  assert.equal(config.stallTimeoutMs, 500);
  assert.equal(config.handshakeTimeoutMs, 250);
  assert.equal(config.aliasTimeoutMs, 2000);
  assert.equal(config.idleTimeoutMs, 0);
  assert.equal(config.closeGraceMs, 500);
  assert.equal(config.shutdownGraceMs, 4000);
  assert.equal(config.announceLimit, 7);
  assert.equal(config.logLevel, "debug");
  assert.equal(config.tlsEngine, "deno");
});

Deno.test("parseServerArgs() opens the IRC door only with --irc-port, on --host unless --irc-host", () => {
  assert.equal(parseServerArgs([]).ircPort, null);
  const open = parseServerArgs(["--host", "::1", "--irc-port", "0"]);
  assert.deepEqual([open.ircPort, open.ircHost], [0, "::1"]);
  const apart = parseServerArgs([
    "--irc-port",
    "6697",
    "--irc-host",
    "127.0.0.1",
  ]);
  assert.deepEqual([apart.ircPort, apart.ircHost], [6697, "127.0.0.1"]);
  // SASL EXTERNAL needs client certificates: not with the deno engine.
  assert.throws(
    () =>
      parseServerArgs([
        "--irc-port",
        "6697",
        "--tls-engine",
        "deno",
        "--client-ca",
        "ca.pem",
      ]),
    /Cannot use --client-ca with --tls-engine deno/,
  );
});

Deno.test("parseServerArgs() rejects bad values with clear errors", () => {
  const cases: [string[], ErrorConstructor, RegExp][] = [
    [
      ["--port", "65536"],
      RangeError,
      /--port: 65536 is out of range \(0 to 65535\)/,
    ],
    [["--port", "http"], TypeError, /--port: "http" is not a number/],
    [
      ["--irc-port", "70000"],
      RangeError,
      /--irc-port: 70000 is out of range \(0 to 65535\)/,
    ],
    [["--max-clients", "0"], RangeError, /--max-clients/],
    [["--max-line-bytes", "10"], RangeError, /--max-line-bytes/],
    [["--account-attempts", "0"], RangeError, /--account-attempts/],
    [
      ["--queue-bytes", "100"],
      RangeError,
      /--queue-bytes: 100 is out of range \(8192/,
    ],
    [["--flood-burst", "1.5"], TypeError, /not a whole number/],
    [
      ["--handshake-timeout", "0"],
      RangeError,
      /silent connections would pile up/,
    ],
    [
      ["--stall-timeout", "0"],
      RangeError,
      /would hold the room up for good/,
    ],
    [
      ["--log-level", "loud"],
      TypeError,
      /"loud" is not one of debug, info, warn, error/,
    ],
    [["--tls-engine", "openssl"], TypeError, /--tls-engine/],
    [["--cert", "c.pem"], TypeError, /--cert without --key/],
    [["--name", "two words"], TypeError, /--name/],
    [["--san", ""], TypeError, /--san: "" is not a DNS name or an IP address/],
    [
      ["--san", "chat example"],
      TypeError,
      /--san: "chat example" is not a DNS name/,
    ],
    [["--san", "300.1.1.1"], TypeError, /--san/],
    [["--max-skip-bytes", "10"], RangeError, /--max-skip-bytes/],
    [["--client-cert", "maybe"], TypeError, /--client-cert/],
    // Two doors on one address: the second was said to be "in use", as if
    // another server held it.
    [
      ["--web-port", "7443"],
      TypeError,
      /Cannot use --web-port 7443: --port listens there/,
    ],
    [
      ["--irc-port", "7444"],
      TypeError,
      /Cannot use --irc-port 7444: --web-port listens there/,
    ],
    // Without a CA, nothing was asked: the server started open to all.
    [
      ["--client-cert", "require"],
      TypeError,
      /Cannot use --client-cert require without --client-ca: no certificate would be asked for, and anyone would join/,
    ],
    [
      ["--client-ca", "ca.pem", "--tls-engine", "deno"],
      TypeError,
      /Cannot use --client-ca with --tls-engine deno: Deno\.listenTls cannot ask for client certificates/,
    ],
    [
      ["--trusted-proxy", "10.0.0.5", "--tls-engine", "deno"],
      TypeError,
      /Cannot use --trusted-proxy with --tls-engine deno: Deno\.listenTls cannot read a PROXY header/,
    ],
    [
      ["--trusted-proxy", "balancer.example"],
      TypeError,
      /Cannot use --trusted-proxy "balancer\.example": give an address or a range/,
    ],
    [["--trusted-proxy", "10.0.0.0/33"], TypeError, /--trusted-proxy/],
    [["certs", "client"], TypeError, /certs client ALIAS/],
    [
      ["certs", "client", "x y"],
      TypeError,
      /^Cannot issue a client certificate: Alias "x y" is not allowed: use letters/,
    ],
    [["--bogus"], TypeError, /Cannot parse arguments: .*bogus/],
    [["serve", "extra"], TypeError, /unexpected "serve extra"/],
  ];
  for (const [args, kind, message] of cases) {
    assert.throws(
      () => parseServerArgs(args),
      (e) => e instanceof kind && message.test((e as Error).message),
      args.join(" "),
    );
  }
});

Deno.test("parseClientArgs() takes --room as often as given, case-folded, and refuses a bad name", () => {
  assert.deepEqual(
    parseClientArgs(["--room", "#Ops", "--room", "#dev_2"]).rooms,
    ["#ops", "#dev_2"],
  );
  for (const bad of ["ops", "#", "#no.dots", `#${"x".repeat(33)}`]) {
    assert.throws(
      () => parseClientArgs(["--room", bad]),
      new TypeError(
        `Cannot use --room "${bad}": a room is # then 1 to 32 letters, digits, "-" and "_"`,
      ),
      bad,
    );
  }
});

Deno.test("parseClientArgs() resolves defaults and flags", () => {
  assert.deepEqual({ ...parseClientArgs([]) }, {
    help: false,
    hostname: "localhost",
    port: 7443,
    servers: [{ hostname: "localhost", port: 7443 }],
    reconnect: true,
    caFile: "certs/ca.pem",
    caExplicit: false,
    alias: null,
    passwordFile: null,
    certFile: null,
    keyFile: null,
    history: false,
    rooms: [],
  });
  const config = parseClientArgs([
    "--host",
    "chat.example",
    "--port",
    "8443",
    "--ca",
    "x.pem",
    "--alias",
    "bob",
  ]);
  assert.equal(config.hostname, "chat.example");
  assert.equal(config.port, 8443);
  assert.equal(config.caFile, "x.pem");
  assert.equal(config.caExplicit, true);
  assert.equal(config.alias, "bob");
  assert.throws(() => parseClientArgs(["--port", "0"]), RangeError);
  // The dev CA is for the loopback names a dev certificate covers only.
  for (const host of ["localhost", "127.0.0.1", "::1"]) {
    assert.equal(parseClientArgs(["--host", host]).caFile, "certs/ca.pem");
  }
  assert.equal(parseClientArgs(["--host", "chat.example"]).caFile, null);
  assert.throws(() => parseClientArgs(["stray"]), TypeError);
  assert.throws(() => parseClientArgs(["--cert", "c.pem"]), TypeError);
  const mtls = parseClientArgs([
    "--cert",
    "c.pem",
    "--key",
    "k.pem",
    "--password-file",
    "pw",
  ]);
  assert.deepEqual(
    [mtls.certFile, mtls.keyFile, mtls.passwordFile],
    ["c.pem", "k.pem", "pw"],
  );
});

Deno.test("parseClientArgs() takes --server lists, repeated, and --no-reconnect", () => {
  const config = parseClientArgs([
    "--server",
    "127.0.0.1:7000,localhost",
    "--server",
    "[::1]:7001",
    "--no-reconnect",
  ]);
  assert.deepEqual(config.servers, [
    { hostname: "127.0.0.1", port: 7000 },
    { hostname: "localhost", port: 7443 },
    { hostname: "::1", port: 7001 },
  ]);
  assert.equal(config.hostname, "127.0.0.1");
  assert.equal(config.reconnect, false);
  assert.equal(config.caFile, "certs/ca.pem"); // every one a loopback name
  const remote = parseClientArgs(["--server", "a.example:1,localhost:2"]);
  assert.equal(remote.caFile, null);
  for (const bad of ["a:b", "a:0", "a:1,,b", "[::1:7"]) {
    assert.throws(() => parseClientArgs(["--server", bad]), Error, bad);
  }
});

/**
 * Config fields whose name is not the flag's in camelCase (plus `Ms` for a
 * flag in seconds), and why: these are the only ones.
 */
const RENAMED: Readonly<Record<string, string>> = {
  host: "hostname", // as Deno.listen names it
  "web-origin": "webOrigins", // repeatable: a list
  san: "sans", // repeatable: a list
  "trusted-proxy": "trustedProxies", // repeatable: a list
  cert: "certFile", // a file name, not a certificate
  key: "keyFile", // a file name, not a key
};

Deno.test("parseServerArgs() keeps one name from flag to field: each flag's field, then SERVER_SETTINGS, then fields derived from them", () => {
  const config = parseServerArgs([]);
  const fields = new Set(Object.keys(config));
  const named: string[] = [];
  for (const [flag, spec] of Object.entries(SERVER_FLAGS)) {
    const camel = flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    const field = RENAMED[flag] ??
      ("value" in spec && spec.value === "S" ? `${camel}Ms` : camel);
    assert.ok(fields.has(field), `--${flag} is config.${field}`);
    named.push(field);
  }
  named.push(...Object.keys(SERVER_SETTINGS));
  // Not a flag of their own: the command and what the config derives.
  named.push("command", "clientCertFor", "httpRequestTimeoutMs");
  assert.deepEqual([...fields].sort(), [...new Set(named)].sort());
  for (const [name, value] of Object.entries(SERVER_SETTINGS)) {
    assert.equal(config[name as keyof typeof SERVER_SETTINGS], value, name);
  }
});

Deno.test("parseServerArgs() reads the rooms flags and refuses bad ones", () => {
  const config = parseServerArgs([
    "--default-room",
    "#Main",
    "--room-create",
    "operators",
    "--max-rooms",
    "50",
    "--max-rooms-per-member",
    "5",
    "--room-grace",
    "30",
    "--room-creations",
    "2",
  ]);
  assert.equal(config.defaultRoom, "#main");
  assert.equal(config.roomCreate, "operators");
  assert.equal(config.maxRooms, 50);
  assert.equal(config.maxRoomsPerMember, 5);
  assert.equal(config.roomGraceMs, 30_000);
  assert.equal(config.roomCreations, 2);
  assert.throws(
    () => parseServerArgs(["--default-room", "lobby"]),
    /Cannot use --default-room "lobby"/,
  );
  assert.throws(
    () => parseServerArgs(["--room-create", "guests"]),
    /Cannot use --room-create: "guests" is not one of any, accounts, operators/,
  );
  assert.throws(() => parseServerArgs(["--max-rooms", "0"]), RangeError);
  assert.throws(
    () => parseServerArgs(["--max-rooms-per-member", "0"]),
    RangeError,
  );
  assert.throws(() => parseServerArgs(["--room-grace=-1"]), RangeError);
});

Deno.test("parseServerArgs reads --resume-grace in seconds; 0 turns holding off", () => {
  assert.equal(parseServerArgs([]).resumeGraceMs, 30_000);
  assert.equal(parseServerArgs(["--resume-grace", "5"]).resumeGraceMs, 5000);
  assert.equal(parseServerArgs(["--resume-grace", "0"]).resumeGraceMs, 0);
  assert.throws(() => parseServerArgs(["--resume-grace=-1"]), RangeError);
});

Deno.test("parseServerArgs() reads --metrics-port (none by default; 0 picks one) and --metrics-host (loopback by default)", () => {
  const none = parseServerArgs([]);
  assert.equal(none.metricsPort, null);
  assert.equal(none.metricsHost, "127.0.0.1");
  const on = parseServerArgs([
    "--metrics-port",
    "9464",
    "--metrics-host",
    "0.0.0.0",
  ]);
  assert.equal(on.metricsPort, 9464);
  assert.equal(on.metricsHost, "0.0.0.0");
  assert.equal(parseServerArgs(["--metrics-port", "0"]).metricsPort, 0);
  assert.throws(() => parseServerArgs(["--metrics-port", "65536"]), RangeError);
  assert.throws(() => parseServerArgs(["--metrics-port", "x"]));
});
