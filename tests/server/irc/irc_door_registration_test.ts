/**
 * Tests of registration on the IRC door over real TLS, in process: what an
 * IRC client that has not registered yet may send (PING, PONG, CAP, a
 * second USER, a bad NICK, PASS, another command) after the session
 * refused its nick, and the account's 433 answered with PASS.
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "../../_helpers.ts";

/** Sends `lines`, then a PING, and returns what came until its PONG. */
async function sendAll(irc: TestClient, lines: string[]): Promise<string[]> {
  const from = irc.received.length;
  for (const line of [...lines, "PING :done"]) await irc.send(line);
  await irc.expect(/^:tlschat PONG tlschat :done$/);
  return irc.received.slice(from);
}

Deno.test("IRC door: after a 433 before registration, nothing but a new NICK sends the nick again (no second 433)", async () => {
  await using server = await startServer("node", [], { irc: true });
  using _bob = await TestClient.join(server.port, "bob");
  using irc = await TestClient.connect(server.ircPort);
  await irc.send("NICK bob");
  await irc.send("USER u 0 * :Real Name");
  await irc.expect(/^:tlschat 433 \* bob :.*"bob" is taken$/);
  const got = await sendAll(irc, [
    "PING :a",
    "PONG :b",
    "CAP LIST",
    "USER u 0 * :again",
    "NICK [x]",
    "PASS pw",
    "WHO bob",
    "CAP LS 302",
    "CAP END",
  ]);
  assert.deepEqual(got.map((l) => l.split(" ")[1]), [
    "PONG",
    "CAP",
    "432",
    "451",
    "CAP",
    "PONG",
  ]);
  await irc.send("NICK amy");
  await irc.expect(/^:tlschat 001 amy /);
});

Deno.test("IRC door: an account's 433 answered with PASS logs in; PING and USER before it ask nothing", async () => {
  await using server = await startServer("node", [], { irc: true });
  await server.server.gate.accounts.add("alice", "alice's password");
  using irc = await TestClient.connect(server.ircPort);
  await irc.send("NICK alice");
  await irc.send("USER u 0 * :Real Name");
  await irc.expect(/^:tlschat 433 \* alice :Nickname is a registered/);
  const got = await sendAll(irc, ["PING :a", "USER u 0 * :again"]);
  assert.deepEqual(got.map((l) => l.split(" ")[1]), ["PONG", "PONG"]);
  await irc.send("PASS :alice's password");
  await irc.expect(/^:tlschat 001 alice /);
  await server.logs.waitFor(/INFO login alias=alice /);
});

Deno.test("IRC door: between SASL's 903 and 001, PING and CAP are answered at once, not held with the session's lines until 001", async () => {
  await using server = await startServer("node", [], { irc: true });
  await server.server.gate.accounts.add("alice", "pw");
  using irc = await TestClient.connect(server.ircPort);
  await irc.send("CAP LS 302");
  await irc.send("CAP REQ :sasl");
  await irc.expect(/ CAP \* ACK :?sasl$/);
  await irc.send("AUTHENTICATE PLAIN");
  await irc.expect(/^AUTHENTICATE \+$/);
  await irc.send(`AUTHENTICATE ${btoa("\0alice\0pw")}`);
  await irc.expect(/ 903 /);
  for (const line of ["PING :mid", "CAP REQ :server-time", "CAP END"]) {
    await irc.send(line);
  }
  await irc.send("NICK alice");
  await irc.send("USER u 0 * :Real Name");
  await irc.expect(/ 422 /);
  const got = irc.received.slice(
    irc.received.findIndex((l) => / 903 /.test(l)),
  );
  const at = (pattern: RegExp) => got.findIndex((l) => pattern.test(l));
  const welcome = at(/ 001 alice /);
  assert.ok(at(/^:tlschat PONG tlschat :mid$/) > 0, got.join("\n"));
  assert.ok(at(/^:tlschat PONG tlschat :mid$/) < welcome, got.join("\n"));
  assert.ok(at(/ CAP \S+ ACK :?server-time$/) > 0, got.join("\n"));
  assert.ok(at(/ CAP \S+ ACK :?server-time$/) < welcome, got.join("\n"));
});

Deno.test("IRC door: NICK and USER after CAP END, while SASL waits for credentials, abort it (906) and register the guest, not leave it waiting", async () => {
  await using server = await startServer("node", [], { irc: true });
  using irc = await TestClient.connect(server.ircPort);
  for (const line of ["CAP LS 302", "CAP REQ :sasl", "CAP END"]) {
    await irc.send(line);
  }
  await irc.send("AUTHENTICATE PLAIN");
  await irc.expect(/^AUTHENTICATE \+$/);
  await irc.send("NICK bob");
  await irc.send("USER u 0 * :Real Name");
  await irc.expect(/^:tlschat 906 bob :SASL authentication aborted$/);
  await irc.expect(/^:tlschat 001 bob /);
  await server.logs.waitFor(/INFO join alias=bob /);
  await irc.send("AUTHENTICATE PLAIN");
  await irc.expect(/^:tlschat 904 bob :SASL authentication failed: regis/);
});

Deno.test("IRC door: a PASS the login limits hold back ends the link, saying how long to wait", async () => {
  await using server = await startServer("node", ["--login-attempts", "1"], {
    irc: true,
  });
  await server.server.gate.accounts.add("alice", "alice's password");
  const attempt = async (password: string) => {
    using irc = await TestClient.connect(server.ircPort);
    await irc.send(`PASS :${password}`);
    await irc.send("NICK alice");
    await irc.send("USER u 0 * :Real Name");
    return await irc.readToEnd();
  };
  const wrong = await attempt("a wrong one");
  assert.match(wrong.at(-1) ?? "", /^ERROR :Closing link: /);
  assert.ok(wrong.some((l) => / 464 /.test(l)), wrong.join("\n"));
  const held = await attempt("alice's password"); // right, but held back
  assert.match(
    held.at(-1) ?? "",
    /^ERROR :Closing link: Too many failed logins: try again in 60 s \(too-many-attempts\)$/,
  );
  assert.ok(!held.some((l) => / 001 /.test(l)), held.join("\n"));
});
