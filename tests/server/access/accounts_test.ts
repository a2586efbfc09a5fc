/**
 * Tests of who may join, without sockets: passwords and their hashes,
 * accounts, address ranges, bans and mutes, the login limiter, and the
 * gate's decisions, over a real SQLite database (in memory or on disk).
 */

import assert from "node:assert/strict";
import { ProtocolError } from "../../../lib/protocol.ts";
import { Accounts } from "../../../lib/server/access/accounts.ts";
import {
  addressGroup,
  inRange,
  parseAddressRange,
} from "../../../lib/address.ts";
import { Gate } from "../../../lib/server/access/gate.ts";
import { LoginLimiter } from "../../../lib/server/access/login_limiter.ts";
import {
  Moderation,
  readSharedSanctions,
  shareSanctions,
} from "../../../lib/server/access/moderation.ts";
import {
  BusyError,
  hashPassword,
  PasswordChecker,
  secretsEqual,
  verifyPassword,
} from "../../../lib/server/access/passwords.ts";
import { DATABASE_FILE, openStore } from "../../../lib/server/storage/store.ts";
import { FakeClock } from "../../_fakes.ts";
import { noLoginFailures } from "../../../lib/server/metrics/server_metrics.ts";
import { withTempDir } from "../../_helpers.ts";

const certificate = (
  subject: string,
  fingerprint = "AA:BB",
  verified = true,
) => ({
  subject,
  fingerprint,
  verified,
  error: verified ? null : "CERT_HAS_EXPIRED",
});

Deno.test("hashPassword() salts each hash and verifyPassword() checks it", async () => {
  const a = await hashPassword("correct horse");
  const b = await hashPassword("correct horse");
  assert.notEqual(a, b, "salted");
  assert.doesNotMatch(a, /correct/);
  assert.equal(await verifyPassword("correct horse", a), true);
  assert.equal(await verifyPassword("Correct horse", a), false);
  assert.equal(await verifyPassword("x", "plain text"), false);
  assert.equal(secretsEqual("room pass", "room pass"), true);
  assert.equal(secretsEqual("room pass", "room pas"), false);
});

Deno.test("PasswordChecker runs a few checks at once and refuses a flood", async () => {
  const checker = new PasswordChecker({ concurrent: 1, queued: 1 });
  const stored = await hashPassword("pw");
  const first = checker.check("pw", stored);
  const second = checker.check("nope", stored);
  await assert.rejects(() => checker.check("pw", stored), BusyError);
  assert.deepEqual(await Promise.all([first, second]), [true, false]);
  // No such account: a check all the same, and a failure.
  assert.equal(await checker.check("pw", null), false);
});

Deno.test("Accounts registers, finds (any case), lists, changes and deletes", async () => {
  using store = openStore(null);
  const accounts = new Accounts(store.db);
  await accounts.add("Alice", "password1");
  assert.equal(accounts.get("ALICE")?.alias, "Alice");
  await assert.rejects(() => accounts.add("alice", "x"), /already registered/);
  await assert.rejects(() => accounts.add("root", "x"), ProtocolError);
  const checker = new PasswordChecker();
  assert.equal(
    (await accounts.login("alice", "password1", checker))?.alias,
    "Alice",
  );
  assert.equal(await accounts.login("alice", "wrong", checker), null);
  assert.equal(await accounts.login("nobody1", "password1", checker), null);
  assert.equal(await accounts.setPassword("alice", "password2"), true);
  assert.equal(await accounts.login("alice", "password1", checker), null);
  assert.equal(accounts.setOperator("alice", true), true);
  assert.equal(accounts.get("alice")?.operator, true);
  assert.equal(accounts.setOperator("ghost", true), false);
  await accounts.add("bob", "password3");
  assert.deepEqual(accounts.list().map((a) => a.alias), ["Alice", "bob"]);
  assert.equal(accounts.remove("bob"), true);
  assert.equal(accounts.remove("bob"), false);
  assert.equal(accounts.count(), 1);
  // The hash, never the password, is in the database.
  const rows = store.db.prepare("SELECT hash FROM accounts").all();
  assert.doesNotMatch(JSON.stringify(rows), /password2/);
});

Deno.test("Accounts finds a look-alike and the account a certificate names", async () => {
  using store = openStore(null);
  const accounts = new Accounts(store.db);
  await accounts.add("Alice", "password1");
  await accounts.add("carol", "password1");
  assert.equal(accounts.lookalike("AIice")?.alias, "Alice");
  assert.equal(accounts.lookalike("Alice"), null, "itself is no look-alike");
  assert.equal(accounts.forCertificate(certificate("alice"))?.alias, "Alice");
  assert.equal(
    accounts.forCertificate(certificate("alice", "AA", false)),
    null,
  );
  assert.equal(accounts.forCertificate(certificate("zed")), null);
  // Only an alias-shaped CN names an account (no Kelvin sign for K).
  await accounts.add("karl", "password1");
  assert.equal(accounts.forCertificate(certificate("\u212Aarl")), null);
  assert.equal(accounts.forCertificate(certificate("karl"))?.alias, "karl");
  assert.equal(accounts.forCertificate(null), null);
  // A pinned certificate is the only one that logs in, whatever its CN.
  accounts.setFingerprint("carol", "CA:FE");
  assert.equal(accounts.forCertificate(certificate("carol", "AA:BB")), null);
  assert.equal(
    accounts.forCertificate(certificate("anything", "CA:FE"))?.alias,
    "carol",
  );
});

Deno.test("Accounts.add() refuses an alias that looks like another account, naming it", async () => {
  using store = openStore(null);
  const accounts = new Accounts(store.db);
  await accounts.add("alice", "password1");
  for (const alias of ["a1ice", "AIice", "al1ce", "alice_"]) {
    await assert.rejects(
      () => accounts.add(alias, "password2"),
      new TypeError(`Cannot add "${alias}": it looks like the account "alice"`),
    );
  }
  assert.equal(
    accounts.refusal("ALICE"),
    'Cannot add "ALICE": it is already registered',
  );
  assert.equal(accounts.refusal("bob"), null);
  assert.deepEqual(accounts.list().map((a) => a.alias), ["alice"]);
});

Deno.test("Accounts.pinRefusal() refuses a CA certificate, one pinned elsewhere, and another alias's without anyName", async () => {
  using store = openStore(null);
  const accounts = new Accounts(store.db);
  await accounts.add("alice", "password1");
  await accounts.add("bob", "password2");
  const role = (commonName: string | null, fingerprint = "AA:BB") => ({
    commonName,
    fingerprint,
    authority: false,
  });
  assert.equal(accounts.pinRefusal("bob", role("bob")), null);
  assert.equal(accounts.pinRefusal("BOB", role("Bob")), null, "any case");
  assert.equal(
    accounts.pinRefusal("bob", role("alice")),
    'Cannot pin this certificate to bob: it was issued to "alice" (its subject CN), not to bob; pass --any-name to pin it anyway',
  );
  assert.equal(accounts.pinRefusal("bob", role("alice"), true), null);
  assert.equal(
    accounts.pinRefusal("bob", role(null)),
    "Cannot pin this certificate to bob: its subject names no one (no CN); pass --any-name to pin it anyway",
  );
  const ca = { ...role("tlschat dev CA"), authority: true };
  for (const anyName of [false, true]) {
    assert.equal(
      accounts.pinRefusal("alice", ca, anyName),
      "Cannot pin this certificate to alice: it is a CA certificate (it signs certificates), not a client's",
    );
  }
  accounts.setFingerprint("alice", "AA:BB");
  assert.equal(accounts.pinRefusal("alice", role("alice")), null, "again");
  assert.equal(
    accounts.pinRefusal("bob", role("bob"), true),
    "Cannot pin this certificate to bob: it is pinned to alice already",
  );
});

Deno.test("Accounts refuses look-alikes that differ by punctuation, in a database from before too", async () => {
  await withTempDir(async (dir) => {
    {
      using store = openStore(dir);
      await new Accounts(store.db).add("carol", "password1");
      // As an older tlschat left it: skeletons with punctuation, version 2.
      store.db.exec(`UPDATE accounts SET skeleton = 'caro_l';
        DROP TRIGGER accounts_deleted; DROP TABLE logins;
        PRAGMA user_version = 2`);
    }
    using store = openStore(dir);
    const accounts = new Accounts(store.db);
    for (const alias of ["carol.", "_carol", "carol_", "Ca-r0l", "c.a.r.o.l"]) {
      assert.equal(accounts.lookalike(alias)?.alias, "carol", alias);
    }
    assert.equal(accounts.lookalike("carl"), null);
    await accounts.add("dave_", "password1");
    assert.equal(accounts.lookalike("dave")?.alias, "dave_");
  });
});

Deno.test("Accounts remembers the ten latest addresses of a login for 90 days, until the password changes", async () => {
  using store = openStore(null);
  const accounts = new Accounts(store.db);
  await accounts.add("bob", "password1");
  await accounts.add("amy", "password1");
  const day = 86_400_000;
  for (let i = 1; i <= 11; i++) accounts.remember("bob", `10.0.0.${i}`, i);
  accounts.remember("amy", "10.0.0.1", 1);
  assert.equal(accounts.knows("bob", "10.0.0.1", 20), false, "the oldest");
  assert.equal(accounts.knows("bob", "10.0.0.2", 20), true);
  assert.equal(accounts.knows("bob", "10.0.0.11", 20), true);
  assert.equal(accounts.knows("amy", "10.0.0.1", 20), true, "per account");
  assert.equal(accounts.knows("bob", "10.0.0.11", 11 + 90 * day), false);
  assert.equal(accounts.knows("bob", "10.0.0.11", 10 + 90 * day), true);
  await accounts.setPassword("bob", "password2");
  assert.equal(accounts.knows("bob", "10.0.0.11", 20), false, "new password");
  accounts.remove("amy");
  assert.equal(
    store.db.prepare("SELECT count(*) AS n FROM logins").get()?.n,
    0,
    "a deleted account's addresses go with it",
  );
});

Deno.test("Accounts.login() refuses a password to an account with a pinned certificate", async () => {
  using store = openStore(null);
  const accounts = new Accounts(store.db);
  const checker = new PasswordChecker();
  await accounts.add("carol", "password1");
  accounts.setFingerprint("carol", "CA:FE");
  assert.equal(await accounts.login("carol", "password1", checker), null);
  accounts.setFingerprint("carol", null);
  assert.equal(
    (await accounts.login("carol", "password1", checker))?.alias,
    "carol",
  );
});

Deno.test("Accounts prepares the lookups of a join once, however many joins ask", async () => {
  // Each statement holds native memory until the garbage collector gets
  // to it: prepared for every join, 1,000 joins cost about 4 KB each.
  using store = openStore(null);
  let prepared = 0;
  const db = new Proxy(store.db, {
    get(target, key) {
      if (key === "prepare") {
        return (sql: string) => {
          prepared++;
          return target.prepare(sql);
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const accounts = new Accounts(db);
  await accounts.add("alice", "password1");
  const before = prepared;
  for (let i = 0; i < 100; i++) {
    assert.equal(accounts.get(`guest${i}`), null);
    assert.equal(accounts.lookalike(`guest${i}`), null);
    assert.equal(accounts.get("ALICE")?.alias, "alice");
  }
  assert.ok(prepared - before <= 2, `${prepared - before} statements`);
});

Deno.test("parseAddressRange() and inRange() match IPv4, IPv6 and prefixes", () => {
  const cases: [string, string, boolean][] = [
    ["10.0.0.0/8", "10.200.3.4", true],
    ["10.0.0.0/8", "11.0.0.1", false],
    ["192.168.1.7", "192.168.1.7", true],
    ["192.168.1.7", "192.168.1.8", false],
    ["0.0.0.0/0", "8.8.8.8", true],
    ["2001:db8::/32", "2001:db8:1::5", true],
    ["2001:db8::/32", "2001:db9::1", false],
    ["::1", "::1", true],
    ["127.0.0.1", "::ffff:127.0.0.1", true],
    ["10.0.0.0/9", "10.127.255.255", true],
    ["10.0.0.0/9", "10.128.0.0", false],
  ];
  for (const [range, host, expected] of cases) {
    assert.equal(
      inRange(parseAddressRange(range)!, host),
      expected,
      `${range} ${host}`,
    );
  }
  for (
    const bad of ["bob", "10.0.0.0/33", "1.2.3", "300.1.1.1", "1::2::3", "::/x"]
  ) {
    assert.equal(parseAddressRange(bad), null, bad);
  }
  assert.equal(parseAddressRange("10.1.2.3/32")!.text, "10.1.2.3");
});

Deno.test("Moderation bans by account and address, ends them in time, and survives a reopen", async () => {
  await withTempDir(async (dir) => {
    const clock = new FakeClock();
    {
      using store = openStore(dir);
      const moderation = new Moderation(store.db, clock);
      moderation.add("ban", { account: "bob" }, {
        durationMs: 60_000,
        by: "op",
        reason: "spam",
      });
      moderation.add("ban", { range: parseAddressRange("10.0.0.0/8")! }, {
        durationMs: null,
        by: "op",
        reason: "",
        label: "guest7",
      });
      moderation.setTopic({ text: "Release day", by: "op" });
    }
    assert.equal((await Deno.stat(dir)).isDirectory, true);
    await Deno.stat(`${dir}/${DATABASE_FILE}`);
    using store = openStore(dir);
    const moderation = new Moderation(store.db, clock);
    assert.equal(moderation.topic?.text, "Release day");
    assert.equal(
      moderation.find("ban", { account: "BOB", host: "1.2.3.4" })?.reason,
      "spam",
    );
    assert.equal(
      moderation.find("ban", { account: null, host: "10.9.9.9" })?.label,
      "guest7",
    );
    assert.equal(
      moderation.find("ban", { account: null, host: "11.0.0.1" }),
      null,
    );
    assert.equal(
      moderation.find("mute", { account: "bob", host: "1.2.3.4" }),
      null,
    );
    await clock.advance(60_000);
    assert.equal(
      moderation.find("ban", { account: "bob", host: "1.2.3.4" }),
      null,
    );
    assert.equal(moderation.list("ban").length, 1, "the ended ban is gone");
    assert.equal(moderation.remove("ban", "guest7"), 1, "lifted by its label");
    assert.equal(moderation.list("ban").length, 0);
  });
});

Deno.test("Moderation shares its sanctions as JSON, and another takes them whole", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const clock = new FakeClock();
    using one = openStore(`${dir}/one`);
    using two = openStore(`${dir}/two`);
    const here = new Moderation(one.db, clock);
    const there = new Moderation(two.db, clock);
    there.add("mute", { account: "old" }, {
      durationMs: null,
      by: "op",
      reason: "",
    });
    here.add("ban", { range: parseAddressRange("10.0.0.0/8")! }, {
      durationMs: 60_000,
      by: "op",
      reason: "spam",
      label: "guest7",
    });
    here.add("mute", { account: "bob" }, {
      durationMs: null,
      by: "op",
      reason: "",
    });
    const shared = readSharedSanctions(shareSanctions(here.all()));
    assert.ok(shared);
    there.replaceAll(shared);
    const strip = (m: Moderation) => m.all().map(({ id: _, ...s }) => s);
    assert.deepEqual(strip(there), strip(here));
    assert.equal(there.find("mute", { account: "old", host: "1.2.3.4" }), null);
    assert.equal(
      there.find("ban", { account: null, host: "10.1.2.3" })?.label,
      "guest7",
    );
    // What came from Redis is input: anything but such a list is refused.
    for (
      const bad of [
        "not json",
        "{}",
        '[{"type":"ban"}]',
        '[{"type":"kill","kind":"account","target":"a","label":"a","until":null,"by":"op","reason":""}]',
        '[{"type":"ban","kind":"account","target":"a","label":"a","until":"soon","by":"op","reason":""}]',
        "[null]",
      ]
    ) assert.equal(readSharedSanctions(bad), null, bad);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Moderation keeps when each ban and mute and the topic were set: across a reopen, and shared whole with another server; an earlier release's topic stays undated", async () => {
  await withTempDir(async (dir) => {
    const clock = new FakeClock();
    const set = clock.now();
    {
      using store = openStore(`${dir}/one`);
      const moderation = new Moderation(store.db, clock);
      const ban = moderation.add("ban", { account: "bob" }, {
        durationMs: null,
        by: "op",
        reason: "spam",
      });
      assert.equal(ban.at, set);
      moderation.setTopic({ text: "Release day", by: "op", at: set - 5 });
    }
    await clock.advance(60_000);
    using store = openStore(`${dir}/one`);
    const moderation = new Moderation(store.db, clock);
    assert.equal(moderation.list("ban")[0]?.at, set, "its row's created");
    assert.deepEqual(moderation.topic, {
      text: "Release day",
      by: "op",
      at: set - 5,
    });
    // Another server takes them on (Redis): the time it was set, not now.
    using two = openStore(`${dir}/two`);
    const there = new Moderation(two.db, clock);
    there.replaceAll(readSharedSanctions(shareSanctions(moderation.all()))!);
    assert.equal(there.list("ban")[0]?.at, set);
    // Stored by an earlier release: no time, and none made up.
    store.db.prepare("UPDATE settings SET value = ? WHERE key = 'topic'")
      .run('{"text":"Old","by":"op"}');
    assert.deepEqual(moderation.topic, { text: "Old", by: "op" });
    for (const bad of ['"soon"', "null", "1e300"]) {
      assert.equal(
        readSharedSanctions(
          `[{"type":"ban","kind":"account","target":"a","label":"a","until":null,"by":"op","reason":"","at":${bad}}]`,
        ),
        null,
        bad,
      );
    }
  });
});

Deno.test("Moderation reads a ban whose row's created is no time (a data directory written by hand) as undated: the list it shares stays one another server takes, not refused whole", async () => {
  await withTempDir((dir) => {
    const clock = new FakeClock();
    {
      using store = openStore(`${dir}/one`);
      const moderation = new Moderation(store.db, clock);
      for (const account of ["bob", "cat", "dan"]) {
        moderation.add("ban", { account }, {
          durationMs: null,
          by: "op",
          reason: "spam",
        });
      }
      const set = store.db.prepare(
        "UPDATE sanctions SET created = ? WHERE target = ?",
      );
      set.run("soon", "bob");
      set.run(1e300, "cat");
    }
    using store = openStore(`${dir}/one`);
    const moderation = new Moderation(store.db, clock);
    assert.deepEqual(
      moderation.list("ban").map(({ target, at }) => ({ target, at })),
      [
        { target: "bob", at: undefined },
        { target: "cat", at: undefined },
        { target: "dan", at: clock.now() },
      ],
    );
    const shared = readSharedSanctions(shareSanctions(moderation.all()));
    assert.deepEqual(shared?.map((s) => s.target), ["bob", "cat", "dan"]);
    return Promise.resolve();
  });
});

Deno.test("openStore() explains a database it cannot use and changes nothing", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/${DATABASE_FILE}`,
      "not a database at all ".repeat(100),
    );
    assert.throws(
      () => openStore(dir),
      /Cannot (use|open) the database ".*chat\.db"/,
    );
    assert.match(
      await Deno.readTextFile(`${dir}/${DATABASE_FILE}`),
      /^not a database at all/,
    );
  });
  await withTempDir(async (dir) => {
    openStore(`${dir}/data`).close();
    assert.equal((await Deno.stat(`${dir}/data`)).mode! & 0o777, 0o700);
  });
});

Deno.test("LoginLimiter lets a burst through per address, then waits that double up to 64 times", async () => {
  const clock = new FakeClock();
  const limiter = new LoginLimiter(clock, {
    burst: 3,
    targetBurst: 1000,
    refillMs: 10_000,
  });
  // Attempts count from their start: parallel guesses cannot slip past.
  for (let i = 0; i < 3; i++) assert.equal(limiter.begin("10.0.0.1", "bob"), 0);
  assert.equal(limiter.begin("10.0.0.1", "amy"), 10_000, "any account");
  assert.equal(limiter.begin("10.0.0.1", null), 10_000, "the room too");
  assert.equal(limiter.begin("10.0.0.2", "bob"), 0, "another address");
  // IPv6 addresses count per /64.
  for (let i = 0; i < 3; i++) limiter.begin(`2001:db8::${i + 1}`, null);
  assert.equal(limiter.begin("2001:db8::ffff", null), 10_000);
  assert.equal(limiter.begin("2001:db8:0:1::1", null), 0);
  // Each failure past the burst doubles the wait, up to 64 times.
  const waits: number[] = [];
  for (let i = 0; i < 9; i++) {
    const waitMs = limiter.begin("10.0.0.1", "bob");
    waits.push(waitMs);
    await clock.advance(waitMs - 1);
    assert.equal(limiter.begin("10.0.0.1", "bob"), 1, "not a moment early");
    await clock.advance(1);
    assert.equal(limiter.begin("10.0.0.1", "bob"), 0);
  }
  assert.deepEqual(
    waits.map((ms) => ms / 10_000),
    [1, 2, 4, 8, 16, 32, 64, 64, 64],
  );
  // A success is no failure.
  limiter.begin("10.0.0.3", "bob");
  limiter.succeeded("10.0.0.3", "bob");
  assert.equal(limiter.begin("10.0.0.3", "bob"), 0);
  assert.equal(limiter.begin("10.0.0.3", "bob"), 0);
  assert.equal(limiter.begin("10.0.0.3", "bob"), 0);
  assert.equal(limiter.begin("10.0.0.3", "bob"), 10_000);
  // A day's worth of refills without a failure forgets the count.
  await clock.advance(1440 * 10_000);
  for (let i = 0; i < 3; i++) assert.equal(limiter.begin("10.0.0.1", "bob"), 0);
  assert.equal(limiter.begin("10.0.0.1", "bob"), 10_000);
});

Deno.test("LoginLimiter holds an account back only under a distributed attack, and never from an address that logged into it", () => {
  const clock = new FakeClock();
  const limiter = new LoginLimiter(clock, {
    burst: 2,
    targetBurst: 4,
    refillMs: 10_000,
  });
  limiter.begin("10.0.0.1", "bob");
  limiter.succeeded("10.0.0.1", "bob"); // bob's usual address
  // One stranger's guesses stop at its own limit: bob is not locked.
  assert.equal(limiter.begin("10.9.0.1", "bob"), 0);
  assert.equal(limiter.begin("10.9.0.1", "bob"), 0);
  assert.equal(limiter.begin("10.9.0.1", "bob"), 10_000);
  assert.equal(limiter.begin("10.0.0.2", "BOB"), 0, "bob, from a new address");
  limiter.succeeded("10.0.0.2", "BOB");
  // Strangers on more addresses fill the account's count...
  assert.equal(limiter.begin("10.9.0.2", "bob"), 0);
  assert.equal(limiter.begin("10.9.0.2", "bob"), 0);
  assert.equal(limiter.begin("10.9.0.3", "bob"), 10_000);
  assert.equal(limiter.begin("10.0.0.3", "bob"), 10_000, "new addresses wait");
  // ...but not for the addresses bob logged in from, nor other accounts.
  assert.equal(limiter.begin("10.0.0.1", "bob"), 0);
  assert.equal(limiter.begin("10.0.0.2", "bob"), 0);
  assert.equal(limiter.begin("10.9.0.3", "amy"), 0);
});

Deno.test("LoginLimiter remembers in the database where an account logged in, across a restart", async () => {
  await withTempDir(async (dir) => {
    const clock = new FakeClock();
    const limiter = (accounts: Accounts) =>
      new LoginLimiter(clock, {
        burst: 5,
        targetBurst: 2,
        refillMs: 60_000,
        known: accounts,
      });
    {
      using store = openStore(dir);
      const accounts = new Accounts(store.db);
      await accounts.add("bob", "password1");
      const before = limiter(accounts);
      assert.equal(before.begin("10.0.0.1", "bob"), 0);
      before.succeeded("10.0.0.1", "bob");
    }
    using store = openStore(dir);
    const after = limiter(new Accounts(store.db));
    // Five guesses from five other addresses (more than --account-attempts).
    const answers = [1, 2, 3, 4, 5].map((i) =>
      after.begin(`10.9.0.${i}`, "bob")
    );
    assert.deepEqual(answers, [0, 0, 60_000, 60_000, 60_000]);
    assert.equal(after.begin("10.0.0.1", "bob"), 0, "bob, as before");
    assert.equal(after.begin("10.0.0.2", "bob"), 60_000, "a new address");
  });
});

Deno.test("LoginLimiter slows a distributed room-password guesser, and never locks a guest out", async () => {
  const clock = new FakeClock();
  const limiter = new LoginLimiter(clock, {
    burst: 5,
    targetBurst: 20,
    refillMs: 60_000,
  });
  limiter.begin("10.1.0.1", null);
  limiter.succeeded("10.1.0.1", null); // a guest who gave the password
  // Six addresses try five guesses each at once: twenty are checked, then
  // the count is full and the others have one try each.
  const checked = (addresses: string[], tries: number) =>
    addresses.flatMap((address) =>
      Array.from({ length: tries }, () => limiter.begin(address, null))
    ).filter((waitMs) => waitMs === 0).length;
  const guessers = [1, 2, 3, 4, 5, 6].map((i) => `10.0.${i}.1`);
  assert.equal(checked(guessers, 5), 22);
  assert.equal(limiter.begin("10.2.0.1", null), 0, "a new guest's try");
  assert.equal(limiter.begin("10.2.0.1", null), 60_000, "then one at a time");
  limiter.begin("10.1.0.1", null); // the guest mistypes once
  assert.equal(limiter.begin("10.1.0.1", null), 0, "a known guest is not");
  // A minute later, one more try each would be allowed without the
  // attack: here the count fills again at once, and waits grow.
  await clock.advance(60_000);
  assert.equal(checked(guessers, 1), 3);
  assert.equal(limiter.begin("10.0.2.1", null), 15 * 60_000);
});

Deno.test("addressGroup() groups IPv6 by /64 and ranges compare canonically", () => {
  assert.equal(addressGroup("2001:db8:1:2::abcd")?.text, "2001:db8:1:2::/64");
  assert.equal(addressGroup("192.0.2.7")?.text, "192.0.2.7");
  assert.equal(addressGroup("::ffff:192.0.2.7")?.text, "192.0.2.7");
  assert.equal(addressGroup("bob"), null);
  const same: [string, string][] = [
    ["10.1.2.3/8", "10.0.0.0/8"],
    ["::ffff:10.0.0.1", "10.0.0.1"],
    ["2001:db8:0::/32", "2001:db8::/32"],
    ["2001:0db8::1", "2001:db8::1"],
  ];
  for (const [a, b] of same) {
    assert.equal(
      parseAddressRange(a)!.text,
      parseAddressRange(b)!.text,
      `${a} ${b}`,
    );
  }
});

Deno.test("Gate.claim() decides what an alias needs", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const accounts = new Accounts(store.db);
  await accounts.add("alice", "password1");
  const gate = (roomPassword: string | null, accountsOnly = false) =>
    new Gate({
      accounts,
      moderation: new Moderation(store.db, clock),
      limiter: new LoginLimiter(clock, { burst: 5, refillMs: 60_000 }),
      checker: new PasswordChecker(),
      roomPassword,
      accountsOnly,
    });
  const guest = {
    host: "10.0.0.1",
    certificate: null,
    account: null,
    roomPasswordGiven: false,
  };
  const open = gate(null);
  assert.deepEqual(open.claim("bob", guest), {
    need: "nothing",
    account: null,
  });
  assert.deepEqual(open.claim("Alice", guest), { need: "account" });
  assert.throws(
    () => open.claim("AIice", guest),
    /looks like "alice", a registered alias/,
  );
  assert.deepEqual(
    open.claim("alice", { ...guest, certificate: certificate("alice") }),
    { need: "nothing", account: accounts.get("alice") },
  );
  const locked = gate("secret");
  assert.equal(locked.auth, "room");
  assert.deepEqual(locked.claim("bob", guest), { need: "room" });
  assert.deepEqual(
    locked.claim("bob", { ...guest, roomPasswordGiven: true }),
    { need: "nothing", account: null },
  );
  assert.equal(locked.checkRoomPassword("secret", "10.0.0.1"), true);
  assert.equal(locked.checkRoomPassword("Secret", "10.0.0.1"), false);
  const members = gate(null, true);
  assert.equal(members.auth, "accounts");
  assert.deepEqual(members.claim("bob", guest), { need: "account" });
  assert.equal(await members.login("bob", "password1", "10.0.0.1"), null);
  assert.equal(
    (await members.login("alice", "password1", "10.0.0.1"))?.alias,
    "alice",
  );
});

Deno.test("Gate.login() checks at most two passwords at once per address", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const accounts = new Accounts(store.db);
  await accounts.add("alice", "password1");
  const gate = new Gate({
    accounts,
    moderation: new Moderation(store.db, clock),
    limiter: new LoginLimiter(clock, { burst: 100, refillMs: 60_000 }),
    checker: new PasswordChecker(),
    roomPassword: null,
    accountsOnly: false,
  });
  const attempts = [1, 2, 3].map(() =>
    gate.login("alice", "guess", "10.0.0.1").then(
      (account) => account,
      (error: ProtocolError) => error.code,
    )
  );
  const elsewhere = gate.login("alice", "password1", "10.0.0.2");
  assert.deepEqual(await Promise.all(attempts), [null, null, "busy"]);
  assert.equal((await elsewhere)?.alias, "alice");
  assert.equal(gate.failures["account-password"], 2);
  assert.equal(gate.failures.busy, 1);
});

Deno.test("Gate counts failed logins by reason in the failures it was given", () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const failures = noLoginFailures();
  const gate = new Gate({
    accounts: new Accounts(store.db),
    moderation: new Moderation(store.db, clock),
    limiter: new LoginLimiter(clock, { burst: 1, refillMs: 60_000 }),
    checker: new PasswordChecker(),
    roomPassword: "sesame",
    accountsOnly: false,
    failures,
  });
  assert.equal(gate.checkRoomPassword("wrong", "10.0.0.1"), false);
  assert.throws(
    () => gate.checkRoomPassword("sesame", "10.0.0.1"),
    ProtocolError,
  );
  assert.equal(gate.checkRoomKey("10.0.0.2", "#ops", () => false), false);
  assert.equal(gate.checkRoomPassword("sesame", "10.0.0.3"), true);
  assert.deepEqual(failures, {
    "room-password": 1,
    "account-password": 0,
    "room-key": 1,
    throttled: 1,
    busy: 0,
  });
});

Deno.test("Gate.login() under a flood: busy is said before the attempt counts, and an address that logged in before has its own queue", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const accounts = new Accounts(store.db);
  await accounts.add("bob", "password1");
  const limiter = new LoginLimiter(clock, {
    burst: 1,
    targetBurst: 100,
    refillMs: 60_000,
    known: accounts,
  });
  const gate = new Gate({
    accounts,
    moderation: new Moderation(store.db, clock),
    limiter,
    checker: new PasswordChecker({
      concurrent: 1,
      queued: 2,
      priorityQueued: 1,
    }),
    roomPassword: null,
    accountsOnly: false,
  });
  // bob's usual address.
  assert.equal(
    (await gate.login("bob", "password1", "10.0.0.1"))?.alias,
    "bob",
  );
  const outcome = (promise: Promise<unknown>) =>
    promise.then(() => "checked", (error: ProtocolError) => error.code);
  // Strangers fill the checks running and waiting...
  const flood = [2, 3, 4].map((i) =>
    outcome(gate.login("bob", "guess", `10.9.0.${i}`))
  );
  // ...so the next stranger is busy, and its attempt was not counted: with
  // a burst of 1, a counted one would make it wait afterwards.
  assert.equal(await outcome(gate.login("bob", "guess", "10.9.0.5")), "busy");
  // bob, from his usual address, is checked all the same, before the
  // strangers that wait.
  const bob = gate.login("bob", "password1", "10.0.0.1");
  assert.equal((await bob)?.alias, "bob");
  assert.deepEqual(await Promise.all(flood), ["checked", "checked", "checked"]);
  assert.equal(limiter.begin("10.9.0.5", "bob"), 0, "nothing was counted");
});

Deno.test("PasswordChecker serves checks with priority first, each queue with its own limit", async () => {
  const checker = new PasswordChecker({
    concurrent: 1,
    queued: 1,
    priorityQueued: 1,
  });
  const order: string[] = [];
  const run = (name: string, priority: boolean) =>
    checker.reserve(priority).check("pw", null).then(() => order.push(name));
  const first = run("first", false);
  // A place given up frees its turn.
  checker.reserve(false).cancel();
  const normal = run("normal", false);
  assert.throws(() => checker.reserve(false), BusyError);
  const known = run("known", true);
  assert.throws(() => checker.reserve(true), BusyError);
  await Promise.all([first, normal, known]);
  assert.deepEqual(order, ["first", "known", "normal"]);
});

Deno.test("LoginLimiter keeps a registered account's count apart: strangers filling the table do not reset it", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const accounts = new Accounts(store.db);
  await accounts.add("bob", "password1");
  const limiter = new LoginLimiter(clock, {
    burst: 5,
    targetBurst: 2,
    refillMs: 60_000,
    known: accounts,
    maxTracked: 10,
  });
  // A distributed guesser fills bob's count...
  for (const i of [1, 2]) assert.equal(limiter.begin(`10.9.0.${i}`, "bob"), 0);
  assert.equal(limiter.begin("10.9.0.3", "bob"), 60_000);
  // ...then fills the table with other addresses and names.
  for (let i = 0; i < 30; i++) limiter.begin(`10.8.0.${i}`, `nobody${i}`);
  assert.equal(limiter.begin("10.9.0.4", "bob"), 60_000, "bob's count held");
});

Deno.test("LoginLimiter counts room-password failures per IPv6 /48 too, with growing waits, and locks no one else out", async () => {
  const clock = new FakeClock();
  const limiter = new LoginLimiter(clock, {
    burst: 5,
    targetBurst: 20,
    refillMs: 60_000,
  });
  // A guest of the same /48 who gave the room password before.
  limiter.begin("2001:db8:1:ffff::1", null);
  limiter.succeeded("2001:db8:1:ffff::1", null);
  // One holder of a /48 tries once from each of 40 of its /64s.
  const from48 = (i: number) => `2001:db8:1:${i.toString(16)}::1`;
  const waits = Array.from(
    { length: 40 },
    (_, i) => limiter.begin(from48(i), null),
  );
  assert.equal(waits.filter((ms) => ms === 0).length, 20);
  assert.equal(waits.at(-1), 60_000);
  // The waits grow: one more try after the refill time, then twice as long.
  await clock.advance(60_000);
  assert.equal(limiter.begin(from48(100), null), 0);
  assert.equal(limiter.begin(from48(101), null), 120_000);
  // Nobody else is held back: another /48, an IPv4 guest, the known guest.
  assert.equal(limiter.begin("2001:db8:2::1", null), 0);
  assert.equal(limiter.begin("192.0.2.1", null), 0);
  assert.equal(limiter.begin("2001:db8:1:ffff::1", null), 0);
});

Deno.test("LoginLimiter counts account logins from unknown addresses per IPv6 /48 too, whatever the name, and never holds back the holder", () => {
  const clock = new FakeClock();
  const limiter = new LoginLimiter(clock, {
    burst: 5,
    targetBurst: 20,
    refillMs: 60_000,
  });
  // Bob logged in before from his /64 of the same /48.
  limiter.begin("2001:db8:7:ffff::1", "bob");
  limiter.succeeded("2001:db8:7:ffff::1", "bob");
  // A guesser rotates /64s of one /48 and invents a name each time (each
  // name's own count never fills).
  const waits = Array.from(
    { length: 40 },
    (_, i) => limiter.begin(`2001:db8:7:${i.toString(16)}::1`, `ghost${i}`),
  );
  assert.equal(waits.filter((ms) => ms === 0).length, 20);
  assert.equal(waits.at(-1), 60_000);
  // Bob from his known address, and anyone from another /48, go on.
  assert.equal(limiter.begin("2001:db8:7:ffff::1", "bob"), 0);
  assert.equal(limiter.begin("2001:db8:8::1", "carol"), 0);
});
