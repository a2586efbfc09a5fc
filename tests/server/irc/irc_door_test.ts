/**
 * Tests of the IRC door over real TLS, in process: an IRC client spoken by
 * hand registers, is in the default room with its names, and chats with a
 * native member both ways, in one order; refusals reach it as numerics.
 */

import assert from "node:assert/strict";
import { ENGINES, startServer, TestClient } from "../../_helpers.ts";

/** Registers on the IRC port as `nick`; returns the client after 422. */
async function ircJoin(
  port: number,
  nick: string,
  lines: string[] = [],
): Promise<TestClient> {
  const client = await TestClient.connect(port);
  for (const line of [...lines, `NICK ${nick}`, "USER u 0 * :Real Name"]) {
    await client.send(line);
  }
  await client.expect(/ 422 /);
  return client;
}

for (const engine of ENGINES) {
  Deno.test(`IRC door (${engine}): registration, the default room's names, PRIVMSG both ways with a native member`, async () => {
    await registerAndChat(engine);
  });
}

/** An IRC client and a native one chat both ways, with `engine`. */
async function registerAndChat(engine: (typeof ENGINES)[number]) {
  await using server = await startServer(engine, [], { irc: true });
  using bob = await TestClient.join(server.port, "bob");
  using irc = await ircJoin(server.ircPort, "j^doe");
  assert.match(irc.received[0]!, /^:tlschat 001 j\^doe :Welcome/);
  assert.ok(
    irc.received.some((l) =>
      / 005 .*CHANTYPES=# .*TOPICLEN=392 KICKLEN=359 CHANLIMIT=#:20 MAXLIST=b:100 /
        .test(l)
    ),
  );
  await irc.expect(/^:j\^doe!j\^doe@tlschat JOIN #lobby$/);
  assert.match(await irc.expect(/ 353 /), / 353 j\^doe = #lobby :bob j\^doe$/);
  await irc.expect(/ 366 j\^doe #lobby /);
  await bob.expect(/^JOIN j\.doe 2$/);
  await bob.send("hello irc");
  await irc.expect(/^:bob!bob@tlschat PRIVMSG #lobby :hello irc$/);
  await irc.send("PRIVMSG #lobby :\x02hi\x02 bob");
  await bob.expect(/^MSG j\.doe hi bob$/);
  await irc.send("PRIVMSG #lobby :\x01ACTION waves\x01");
  await bob.expect(/^ME j\.doe waves$/);
  await irc.send("PRIVMSG bob :psst");
  await bob.expect(/^PRIV j\.doe psst$/);
  await bob.send("/msg j.doe back");
  await irc.expect(/^:bob!bob@tlschat PRIVMSG j\^doe :back$/);
  await irc.send("FOO bar");
  await irc.expect(/ 421 j\^doe FOO :Unknown command$/);
  await irc.send("QUIT :bye now");
  assert.match((await irc.readToEnd()).at(-1)!, /^ERROR :Closing link/);
  await bob.expect(/^LEAVE j\.doe 1 quit bye now$/);
}

Deno.test("IRC door: combining marks are capped both ways by the server, and right-to-left text passes with no isolate added", async () => {
  await using server = await startServer("deno", [], { irc: true });
  using bob = await TestClient.join(server.port, "bob");
  using irc = await ircJoin(server.ircPort, "eve");
  await bob.expect(/^JOIN eve 2$/);
  const marks = "\u0336\u0317\u0301\u0300";
  const flood = (word: string) =>
    [...word].map((c) => c + marks.repeat(10)).join(""); // under 512 bytes
  const capped = (word: string) => [...word].map((c) => c + marks).join("");
  await irc.send(`PRIVMSG #lobby :${flood("zalgo")}`);
  await bob.expect(new RegExp(`^MSG eve ${capped("zalgo")}$`));
  await bob.send(flood("back"));
  await irc.expect(
    new RegExp(`^:bob!bob@tlschat PRIVMSG #lobby :${capped("back")}$`),
  );
  await bob.send("שלום עולם!");
  await irc.expect(/^:bob!bob@tlschat PRIVMSG #lobby :שלום עולם!$/);
  await irc.send(`QUIT :${flood("bye")}`);
  await bob.expect(new RegExp(`^LEAVE eve 1 quit ${capped("bye")}$`));
});

Deno.test("IRC door: a line over 512 bytes gets 417 and the connection goes on; one past --max-skip-bytes ends it", async () => {
  await using server = await startServer("node", [
    "--max-skip-bytes",
    "16384",
  ], { irc: true });
  using irc = await ircJoin(server.ircPort, "amy");
  await irc.send(`PRIVMSG #lobby :${"x".repeat(600)}`);
  await irc.expect(/^:tlschat 417 amy :Input line was too long$/);
  // Tags may take 8191 bytes more.
  await irc.send(`@+draft/x=${"y".repeat(4000)} PING :still`);
  await irc.expect(/^:tlschat PONG tlschat :still$/);
  await irc.send("z".repeat(20_000));
  const rest = await irc.readToEnd();
  assert.match(rest.at(-1)!, /^ERROR :Closing link: .*\(line-too-long\)$/);
});

Deno.test("IRC door: PASS gives the room password; without it, 464 and ERROR", async () => {
  await using server = await startServer("node", [], {
    irc: true,
    roomPassword: "s3cret pass",
  });
  using good = await ircJoin(server.ircPort, "amy", ["PASS :s3cret pass"]);
  await good.expect(/ 366 amy #lobby /);
  using bad = await TestClient.connect(server.ircPort);
  await bad.send("NICK eve");
  await bad.send("USER e 0 * :e");
  const rest = await bad.readToEnd();
  assert.match(rest.join("\n"), /^:tlschat 464 eve :Password incorrect/m);
  assert.match(rest.at(-1)!, /^ERROR :Closing link: Password incorrect$/);
});

Deno.test("IRC door: a connection over a cap is told why as ERROR; the session's PING is IRC's", async () => {
  await using server = await startServer("node", [
    "--max-per-ip",
    "1",
    "--idle-timeout",
    "1",
  ], { irc: true });
  using irc = await ircJoin(server.ircPort, "amy");
  using refused = await TestClient.connect(server.ircPort);
  const rest = await refused.readToEnd();
  assert.deepEqual(rest, [
    "ERROR :Closing link: Too many connections from 127.0.0.1: at most 1 (ip-limit)",
  ]);
  // Each PING answered with IRC's PONG, and nothing else said: amy stays
  // past the idle timeout (the next PING comes, she never left).
  for (let i = 0; i < 2; i++) {
    const ping = await irc.expect(/^:tlschat PING /);
    await irc.send(`PONG ${ping.split(" ").at(-1)}`);
  }
  assert.ok(!server.logs.lines.some((l) => /leave alias=amy/.test(l)));
});

Deno.test("IRC door: no nick passes for a member's: its `^` form is its alias (433), a look-alike is refused (433), `|` names no alias (432)", async () => {
  await using server = await startServer("node", [], { irc: true });
  using jdoe = await TestClient.join(server.port, "j.doe");
  using irc = await TestClient.connect(server.ircPort);
  await irc.send("USER u 0 * :Real Name");
  await irc.send("NICK J^DOE");
  await irc.expect(/^:tlschat 433 \S+ J\^DOE :.*"J\.DOE" is taken$/);
  await irc.send("NICK j_doe");
  await irc.expect(
    /^:tlschat 433 \S+ j_doe :.*looks like "j\.doe", who is here$/,
  );
  await irc.send("NICK j|doe");
  await irc.expect(
    /^:tlschat 432 \S+ j\|doe :Erroneous nickname: .* \^ \(for \.\)/,
  );
  // `jldoe` is no look-alike of `j.doe` for the server, nor of `j^doe`.
  await irc.send("NICK jldoe");
  await irc.expect(/^:tlschat 001 jldoe /);
  await jdoe.expect(/^JOIN jldoe 2$/);
  await irc.expect(/ 353 jldoe = #lobby :(j\^doe jldoe|jldoe j\^doe)$/);
});

Deno.test("IRC door: rooms as channels: create, key, topic, MODE, LIST, invite-only (473), INVITE (341), PART", async () => {
  await using server = await startServer("node", [], { irc: true });
  using amy = await ircJoin(server.ircPort, "amy");
  using bob = await ircJoin(server.ircPort, "bob");
  await amy.send("JOIN #ops");
  await amy.expect(/^:amy!amy@tlschat JOIN #ops$/);
  await amy.expect(/ 353 amy = #ops :@amy$/);
  await amy.send("TOPIC #ops :release day");
  await amy.expect(/^:amy!amy@tlschat TOPIC #ops :release day$/);
  await amy.send("MODE #ops +i");
  await amy.expect(/^:amy!amy@tlschat MODE #ops \+i$/);
  await amy.send("MODE #ops");
  await amy.expect(/^:tlschat 324 amy #ops :\+i$/);
  await bob.send("JOIN #ops");
  await bob.expect(/^:tlschat 473 bob #ops :#ops is invite-only/);
  await amy.send("INVITE bob #ops");
  await amy.expect(/^:tlschat 341 amy bob :#ops$/);
  await bob.expect(/^:amy!amy@tlschat INVITE bob #ops$/);
  await bob.send("JOIN #ops");
  await bob.expect(/^:tlschat 332 bob #ops :release day$/);
  await bob.expect(/ 353 bob = #ops :@amy bob$/);
  await bob.send("LIST");
  await bob.expect(/^:tlschat 322 bob #ops 2 :release day$/);
  await bob.expect(/^:tlschat 323 bob :End of \/LIST$/);
  await bob.send("PRIVMSG #ops :in ops");
  await amy.expect(/^:bob!bob@tlschat PRIVMSG #ops :in ops$/);
  await bob.send("PART #ops :later");
  await amy.expect(/^:bob!bob@tlschat PART #ops :later$/);
  await bob.expect(/^:bob!bob@tlschat PART #ops :later$/);
  await bob.send("PRIVMSG #ops :still here?");
  await bob.expect(/^:tlschat 442 bob #ops :You are not in #ops$/);
});

Deno.test("IRC door: the door paces an IRC client at the flood limits: lines wait, nobody is throttled or dropped", async () => {
  await using server = await startServer("node", [
    "--flood-rate",
    "5",
    "--flood-burst",
    "3",
  ], { irc: true });
  using amy = await ircJoin(server.ircPort, "amy");
  await amy.expect(/ 366 amy #lobby /);
  // A channel sync as irssi makes it, for five channels: 25 lines at once.
  const started = Date.now();
  for (let i = 1; i <= 5; i++) {
    await amy.send(`JOIN #c${i}`);
    await amy.send(`MODE #c${i}`);
    await amy.send(`WHO #c${i}`);
    await amy.send(`MODE #c${i} b`);
    await amy.send(`PING :c${i}`);
  }
  await amy.expect(/^:tlschat PONG tlschat :c5$/, 15_000);
  // 25 lines, 5 more (names asked on joining), 3 at once, 5 a second.
  assert.ok(Date.now() - started >= 4000, `${Date.now() - started} ms`);
  for (let i = 1; i <= 5; i++) {
    assert.ok(amy.received.some((l) => l.endsWith(`JOIN #c${i}`)), `#c${i}`);
  }
  // One line that makes many for the session (twelve targets): its lines
  // are handed on as their tokens come, never at once.
  await amy.send(`PRIVMSG ${Array(12).fill("#c1").join(",")} :to each`);
  await amy.send("PING :after");
  await amy.expect(/^:tlschat PONG tlschat :after$/, 15_000);
  const said = amy.received.join("\n");
  assert.doesNotMatch(said, /Slow down|ERROR/);
  assert.ok(!server.logs.lines.some((l) => /leave alias=amy/.test(l)));
  // Before registration the door's own answers are free, up to 100 lines.
  using early = await TestClient.connect(server.ircPort);
  for (let i = 0; i < 101; i++) await early.send("CAP LIST");
  assert.equal(
    (await early.readToEnd()).at(-1),
    "ERROR :Closing link: Too many lines before registration",
  );
});

Deno.test("IRC door: in rooms over --announce-limit (no native JOIN), an IRC client still gets its JOIN once, its topic, names and history; WHOIS knows who is on", async () => {
  await using server = await startServer("node", ["--announce-limit", "2"], {
    irc: true,
  });
  const natives: TestClient[] = [];
  for (const alias of ["ann", "ben", "cat"]) {
    const native = await TestClient.connect(server.port);
    natives.push(native);
    await native.expect(/^HELLO /);
    await native.send("/cap rooms");
    await native.send(alias);
    await native.send("/join #big");
    await native.expect(/^CURRENT #big$/);
  }
  try {
    await natives[0]!.send("#big /topic busy here");
    await natives[0]!.send("#big before amy came");
    await natives[0]!.expect(/^#big MSG ann before amy came$/);
    using amy = await ircJoin(server.ircPort, "amy");
    await amy.expect(/^:amy!amy@tlschat JOIN #lobby$/);
    await amy.expect(/^:tlschat NOTICE #lobby :Joins and leaves in #lobby /);
    await amy.expect(/ 353 amy = #lobby :/);
    await amy.expect(/ 366 amy #lobby /);
    await amy.send("JOIN #big");
    await amy.expect(/^:amy!amy@tlschat JOIN #big$/);
    await amy.expect(/^:tlschat NOTICE #big :Joins and leaves in #big /);
    await amy.expect(/^:tlschat 332 amy #big :busy here$/);
    await amy.expect(/^:ann!ann@tlschat PRIVMSG #big :before amy came$/);
    const names = await amy.expect(/ 353 /);
    assert.match(names, / 353 amy = #big :(?=.*\bann\b)(?=.*\bamy\b)/);
    await amy.expect(/ 366 amy #big /);
    await amy.send("WHOIS ANN");
    await amy.expect(/^:tlschat 311 amy ann ann tlschat \* :ann$/);
    await amy.expect(/^:tlschat 318 amy ANN :End of \/WHOIS list$/);
    await amy.send("WHOIS ghost");
    await amy.expect(/^:tlschat 401 amy ghost :No such nick$/);
    await amy.send("PING :done");
    await amy.expect(/ PONG tlschat :done$/);
    const joins = amy.received.filter((l) => / JOIN /.test(l));
    assert.deepEqual(joins, [
      ":amy!amy@tlschat JOIN #lobby",
      ":amy!amy@tlschat JOIN #big",
    ]);
  } finally {
    for (const native of natives) native[Symbol.dispose]();
  }
});

/** Connects with `rooms`, takes `alias` and joins (makes) `rooms`. */
async function joinRooms(
  port: number,
  alias: string,
  rooms: string[],
): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.expect(/^HELLO /);
  await client.send("/cap rooms");
  await client.send(alias);
  await client.expect(/^WELCOME /);
  for (const room of rooms) {
    await client.send(`/join ${room}`);
    await client.expect(new RegExp(`^${room} JOIN ${alias} `));
  }
  return client;
}

/** Connects with `rooms`, takes `alias` and joins (makes) `#t`. */
function joinRoomT(port: number, alias: string): Promise<TestClient> {
  return joinRooms(port, alias, ["#t"]);
}

Deno.test("IRC door: MODE #room gets that room's modes from it alone, also past the busiest rooms a list fits at once", async () => {
  // Half of an 8 KiB queue holds one ROOM line with a 3,000-byte topic: the
  // whole /rooms the door asked for stopped after #lobby and #big1, and
  // MODE #quiet (keyed, the least busy) was answered `324 +`.
  await using server = await startServer("node", ["--queue-bytes", "8192"], {
    irc: true,
  });
  using ann = await joinRooms(server.port, "ann", ["#big1", "#big2"]);
  using ben = await joinRooms(server.port, "ben", ["#big1", "#big2"]);
  for (const room of ["#big1", "#big2"]) {
    await ann.send(`${room} /topic ${"t".repeat(3000)}`);
    await ben.expect(new RegExp(`^${room} TOPIC ann `));
  }
  using amy = await ircJoin(server.ircPort, "amy");
  await amy.send("JOIN #quiet");
  await amy.expect(/^:amy!amy@tlschat JOIN #quiet$/);
  await amy.send("MODE #quiet +k sekrit");
  await amy.expect(/^:amy!amy@tlschat MODE #quiet \+k sekrit$/);
  await amy.send("MODE #quiet");
  await amy.expect(/^:tlschat 324 amy #quiet :\+k$/);
  await amy.send("MODE #big2");
  await amy.expect(/^:tlschat 324 amy #big2 :\+$/);
  await amy.send("LIST");
  await amy.expect(/^:tlschat 323 amy :End of \/LIST$/);
  assert.equal(amy.received.filter((l) => / 322 /.test(l)).length, 2);
});

Deno.test("IRC door: TOPICLEN is what an IRC client gets whole: a topic that long from the longest nick, in the longest channel, to the longest nick; one set over IRC is cut to it", async () => {
  await using server = await startServer("node", [], { irc: true });
  const channel = "#" + "c".repeat(32);
  const speaker = "8" + "s".repeat(31);
  using irc = await ircJoin(server.ircPort, "`9" + "n".repeat(31));
  const isupport = irc.received.find((l) => / 005 /.test(l))!;
  // The report: TOPICLEN=4096 (--max-line-bytes), topics cut near 470.
  const most = Number(/ TOPICLEN=(\d+) /.exec(isupport)?.[1]);
  assert.ok(most > 300 && most < 510, isupport);
  await irc.send(`JOIN ${channel}`);
  await irc.expect(new RegExp(` 366 \\S+ ${channel} `));
  using native = await joinRooms(server.port, speaker, [channel]);
  await irc.send(`MODE ${channel} +o \`${speaker}`);
  await native.expect(new RegExp(`^${channel} MOD op ${speaker} `));
  const topic = "t".repeat(most - 2) + "é";
  await native.send(`${channel} /topic ${topic}`);
  assert.equal(
    await irc.expect(/ TOPIC /),
    `:\`${speaker}!\`${speaker}@tlschat TOPIC ${channel} :${topic}`,
  );
  await irc.send(`TOPIC ${channel}`);
  assert.ok((await irc.expect(/ 332 /)).endsWith(` ${channel} :${topic}`));
  await irc.send(`TOPIC ${channel} :${"u".repeat(most + 40)}`);
  await native.expect(new RegExp(`^${channel} TOPIC 9n+ u{${most}}$`));
  const own = await irc.expect(/ TOPIC .* :u+$/);
  assert.ok(own.endsWith(` :${"u".repeat(most)}`));
  const sent = irc.received.map((l) => new TextEncoder().encode(l).length);
  assert.deepEqual(sent.filter((n) => n + 2 > 512), []);
});

Deno.test("IRC door: a native member's 3,000-byte topic, kick and quit reasons and 20 long aliases reach an IRC client in lines of at most 512 bytes", async () => {
  await using server = await startServer("node", [], { irc: true });
  using bob = await joinRoomT(server.port, "bob");
  const others: TestClient[] = [];
  try {
    for (let i = 10; i < 30; i++) {
      others.push(await joinRoomT(server.port, `Ab${"x".repeat(28)}${i}`));
    }
    await bob.send(`#t /topic ${"t".repeat(3000)}`);
    await bob.expect(/^#t TOPIC bob /);
    using irc = await ircJoin(server.ircPort, "amy");
    await irc.send("JOIN #t");
    await irc.expect(/ 366 amy #t /);
    await bob.send(`#t /me ${"é".repeat(300)}`);
    await bob.send(`#t /kick Ab${"x".repeat(28)}10 ${"r".repeat(3000)}`);
    await bob.send(`/quit ${"q".repeat(3000)}`);
    await irc.expect(/^:bob!bob@tlschat QUIT :quit: q+$/);
    const sent = irc.received.map((line) => new TextEncoder().encode(line));
    assert.deepEqual(
      sent.filter((line) => line.length + 2 > 512).map((l) => l.length),
      [],
    );
    const says = (pattern: RegExp) =>
      irc.received.filter((l) => pattern.test(l));
    assert.equal(says(/ 332 amy #t :t+$/).length, 1);
    assert.equal(
      says(new RegExp(`KICK #t Ab${"x".repeat(28)}10 :r+$`)).length,
      1,
    );
    assert.equal(says(/ 353 amy = #t :/).length, 3); // 21 names, then amy's
    // deno-lint-ignore no-control-regex -- CTCP is the point
    assert.equal(says(/PRIVMSG #t :\x01ACTION é+\x01$/).length, 2);
  } finally {
    for (const other of others) other[Symbol.dispose]();
  }
});

Deno.test("IRC door: nobody may be NickServ (or ChanServ...), so an IRC client's automatic 'PRIVMSG NickServ :IDENTIFY password' reaches no member", async () => {
  await using server = await startServer("deno", [], { irc: true });
  using mallory = await TestClient.connect(server.ircPort);
  await mallory.send("NICK NickServ");
  await mallory.send("USER u 0 * :Real Name");
  await mallory.expect(
    /^:tlschat 432 \* NickServ :Alias "NickServ" is reserved$/,
  );
  const native = await TestClient.connect(server.port);
  using _native = native;
  await native.send("chanserv");
  await native.expect(/^ERR alias-reserved /);
  using victim = await ircJoin(server.ircPort, "vic");
  await victim.send("PRIVMSG NickServ :IDENTIFY vic s3cret");
  await victim.expect(/^:tlschat 401 vic NickServ :.*"NickServ"/);
});
