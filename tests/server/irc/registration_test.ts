/**
 * Tests of registration on the IRC door without sockets: capability
 * negotiation, NICK/USER/PASS onto the session's login dialogue, SASL PLAIN
 * and EXTERNAL, the numerics of refusals, and 001 to 005 at the end.
 */

import assert from "node:assert/strict";
import { parseIrcLine } from "../../../lib/server/irc/parse.ts";
import {
  completeRegistration,
  registrationCommand,
  registrationLine,
} from "../../../lib/server/irc/registration.ts";
import { parseServerLine } from "../../../lib/server_lines.ts";
import type { IrcState } from "../../../lib/server/irc/state.ts";
import { ircState, type Recorded, recorder } from "./_sink.ts";

/** A client line handled by registration (true when it was its). */
function client(state: IrcState, sink: Recorded, line: string): boolean {
  return registrationCommand(state, parseIrcLine(line)!, sink);
}

/** A session line handled by registration, then registration completed. */
function session(state: IrcState, sink: Recorded, line: string): void {
  assert.ok(registrationLine(state, parseServerLine(line)!, sink), line);
  completeRegistration(state, sink);
}

const v = (sink: Recorded) => sink.irc_.map((l) => l.replace(/^:tlschat /, ""));

Deno.test("registration: CAP LS 302 lists sasl's mechanisms, REQ is all or nothing, END sends the alias", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "CAP LS 302");
  assert.deepEqual(v(sink), [
    "CAP * LS :server-time message-tags echo-message batch sasl=PLAIN,EXTERNAL",
  ]);
  client(state, sink, "NICK j^doe");
  client(state, sink, "USER u 0 * :Jo");
  assert.deepEqual(sink.native_, [], "nothing before CAP END");
  client(state, sink, "CAP REQ :server-time bogus");
  client(state, sink, "CAP REQ :server-time batch");
  assert.deepEqual(v(sink).slice(1), [
    "CAP j^doe NAK :server-time bogus",
    "CAP j^doe ACK :server-time batch",
  ]);
  assert.deepEqual([...state.caps], ["server-time", "batch"]);
  client(state, sink, "CAP END");
  assert.deepEqual(sink.native_, ["j.doe"]);
  sink.clear();
  session(state, sink, "WELCOME j.doe 1 Welcome");
  assert.deepEqual(v(sink).map((l) => l.split(" ")[0]), [
    "001",
    "002",
    "003",
    "004",
    "005",
    "422",
  ]);
  assert.equal(
    v(sink)[4],
    "005 j^doe CHANTYPES=# PREFIX=(o)@ CASEMAPPING=ascii NICKLEN=33 CHANNELLEN=33 TOPICLEN=392 KICKLEN=359 CHANLIMIT=#:20 CHANMODES=b,k,,i NETWORK=tlschat TARGMAX=JOIN:,KICK:,NAMES:,NOTICE:,PART:,PRIVMSG:,WHOIS:1 :are supported by this server",
  );
  assert.equal(state.registered, true);
  assert.equal(client(state, sink, "JOIN #x"), false, "for inbound.ts now");
});

Deno.test("registration: without CAP, NICK and USER send the alias; other commands get 451, bad nicks 431 and 432", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "JOIN #lobby");
  client(state, sink, "NICK");
  client(state, sink, "NICK [bot]");
  client(state, sink, "NICK TLSchat"); // the server's own name
  client(state, sink, "USER u");
  assert.deepEqual(v(sink).map((l) => l.split(" ")[0]), [
    "451",
    "431",
    "432",
    "432",
    "461",
  ]);
  client(state, sink, "NICK `2bob");
  client(state, sink, "USER u 0 * :x");
  assert.deepEqual(sink.native_, ["2bob"]);
  sink.clear();
  // Taken: 433, then the client's next nick goes.
  session(state, sink, 'ERR alias-taken Alias "2bob" is taken');
  assert.deepEqual(v(sink), ['433 * `2bob :Alias "2bob" is taken']);
  client(state, sink, "NICK bob2");
  assert.deepEqual(sink.native_, ["bob2"]);
});

Deno.test("registration: PASS answers the room password; without it, 464 and the connection ends", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "PASS s3cret");
  client(state, sink, "NICK bob");
  client(state, sink, "USER u 0 * :x");
  session(state, sink, "PASSWORD room This room has a password");
  assert.deepEqual(sink.native_, ["bob", "/pass s3cret"]);
  session(state, sink, "ERR password-wrong Wrong room password: one more try");
  session(state, sink, "PASSWORD room This room has a password");
  assert.match(v(sink).join("\n"), /^464 bob :Wrong room password/m);
  assert.match(v(sink).at(-1)!, /^464 bob :Password incorrect/);
  assert.deepEqual(sink.closed, ["Password incorrect"]);
});

Deno.test("registration: a registered nick without SASL takes PASS as its password, or gets 433", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "NICK alice");
  client(state, sink, "USER u 0 * :x");
  session(state, sink, 'PASSWORD account "alice" is a registered alias');
  assert.match(
    v(sink)[0]!,
    /^433 \* alice :Nickname is a registered account/,
  );
  const withPass = ircState();
  const other = recorder();
  client(withPass, other, "PASS pw");
  client(withPass, other, "NICK alice");
  client(withPass, other, "USER u 0 * :x");
  session(withPass, other, 'PASSWORD account "alice" is a registered alias');
  assert.deepEqual(other.native_, ["alice", "/pass pw"]);
});

Deno.test("registration: SASL PLAIN logs in before CAP END (900, 903), the welcome held until then", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "CAP LS 302");
  client(state, sink, "NICK someone");
  client(state, sink, "USER u 0 * :x");
  client(state, sink, "CAP REQ sasl");
  client(state, sink, "AUTHENTICATE PLAIN");
  assert.equal(sink.irc_.at(-1), "AUTHENTICATE +");
  client(state, sink, `AUTHENTICATE ${btoa("\0alice\0pw")}`);
  assert.deepEqual(sink.native_, ["alice"]);
  session(state, sink, 'PASSWORD account "alice" is a registered alias');
  assert.deepEqual(sink.native_, ["alice", "/pass pw"]);
  sink.clear();
  session(state, sink, "WELCOME alice 1 Welcome");
  assert.deepEqual(v(sink), [
    "900 someone alice!alice@tlschat alice :You are now logged in as alice",
    "903 someone :SASL authentication successful",
  ]);
  assert.equal(state.registered, false, "CAP END has not come");
  client(state, sink, "CAP END");
  completeRegistration(state, sink);
  assert.match(v(sink)[2]!, /^001 alice :Welcome/);
});

Deno.test("registration: a SASL payload of 400-byte chunks is joined (ended by a shorter one, or +), and bounded", () => {
  for (
    const [password, chunks] of [["p".repeat(594), 2], [
      "q".repeat(293),
      1,
    ]] as const
  ) {
    const state = ircState();
    const sink = recorder();
    client(state, sink, "CAP LS 302");
    client(state, sink, "CAP REQ sasl");
    client(state, sink, "AUTHENTICATE PLAIN");
    const payload = btoa(`\0alice\0${password}`);
    const parts = payload.match(/.{1,400}/g)!;
    assert.equal(parts.filter((p) => p.length === 400).length, chunks);
    for (const part of parts) client(state, sink, `AUTHENTICATE ${part}`);
    if (parts.at(-1)!.length === 400) client(state, sink, "AUTHENTICATE +");
    assert.deepEqual(sink.native_, ["alice"], `${password.length} bytes`);
    session(state, sink, 'PASSWORD account "alice" is a registered alias');
    assert.deepEqual(sink.native_, ["alice", `/pass ${password}`]);
  }
  const state = ircState();
  const sink = recorder();
  client(state, sink, "CAP LS 302");
  client(state, sink, "CAP REQ sasl");
  client(state, sink, "AUTHENTICATE PLAIN");
  for (let i = 0; i < 4; i++) {
    client(state, sink, `AUTHENTICATE ${"A".repeat(400)}`);
  }
  assert.match(
    sink.irc_.at(-1)!,
    / 904 /,
    "four chunks and still more: refused",
  );
  assert.deepEqual(sink.native_, []);
});

Deno.test("registration: SASL fails with 904 for an unknown account, a wrong password, EXTERNAL without a certificate", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "CAP REQ sasl");
  client(state, sink, "AUTHENTICATE PLAIN");
  client(state, sink, `AUTHENTICATE ${btoa("\0nobody\0pw")}`);
  assert.deepEqual(sink.native_, [], "the session is not asked");
  assert.match(v(sink).at(-1)!, /^904 /);
  client(state, sink, "AUTHENTICATE PLAIN");
  client(state, sink, `AUTHENTICATE ${btoa("alice\0alice\0bad")}`);
  session(state, sink, 'PASSWORD account "alice" is a registered alias');
  session(state, sink, "ERR login-failed Wrong alias or password");
  assert.match(v(sink).at(-1)!, /^904 /);
  assert.equal(state.sasl, null);
  client(state, sink, "AUTHENTICATE EXTERNAL");
  assert.match(v(sink).at(-1)!, /^904 /);
  client(state, sink, "AUTHENTICATE SCRAM-SHA-256");
  assert.match(v(sink).at(-2)!, /^908 \* PLAIN,EXTERNAL /);
  client(state, sink, "AUTHENTICATE PLAIN");
  client(state, sink, "AUTHENTICATE *");
  assert.match(v(sink).at(-1)!, /^906 /);
});

Deno.test("registration: SASL EXTERNAL sends the certificate's account, which logs in with no password", () => {
  const state = ircState({}, "opal");
  const sink = recorder();
  client(state, sink, "CAP REQ sasl");
  client(state, sink, "AUTHENTICATE EXTERNAL");
  client(state, sink, "AUTHENTICATE +");
  assert.deepEqual(sink.native_, ["opal"]);
  session(state, sink, "WELCOME opal 1 Welcome");
  assert.match(v(sink).at(-1)!, /^903 /);
  // A certificate that does not log in: the session asks for a password.
  const other = ircState({}, "opal");
  const sink2 = recorder();
  client(other, sink2, "CAP REQ sasl");
  client(other, sink2, "AUTHENTICATE EXTERNAL");
  client(other, sink2, "AUTHENTICATE +");
  session(other, sink2, 'PASSWORD account "opal" is a registered alias');
  assert.match(v(sink2).at(-1)!, /^904 /);
  assert.deepEqual(sink2.native_, ["opal"], "no password sent");
});

Deno.test("registration: a refused PASS for an account, or an alias refused for another reason, ends the connection; flood does not fail SASL", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "PASS wrong");
  client(state, sink, "NICK alice");
  client(state, sink, "USER u 0 * :x");
  session(state, sink, 'PASSWORD account "alice" is a registered alias');
  session(state, sink, "ERR login-failed Wrong alias or password");
  assert.deepEqual(v(sink), ["464 alice :Wrong alias or password"]);
  assert.deepEqual(sink.closed, ["Wrong alias or password"]);
  const busy = ircState();
  const other = recorder();
  client(busy, other, "NICK bob");
  client(busy, other, "USER u 0 * :x");
  session(busy, other, "ERR unavailable Not joined: try again");
  assert.deepEqual(other.closed, ["Not joined: try again"]);
  const sasl = ircState();
  const third = recorder();
  client(sasl, third, "CAP REQ sasl");
  client(sasl, third, "AUTHENTICATE PLAIN");
  client(sasl, third, `AUTHENTICATE ${btoa("\0alice\0pw")}`);
  session(sasl, third, "ERR flood Slow down");
  assert.notEqual(sasl.sasl, null);
  assert.deepEqual(third.closed, []);
});

Deno.test("registration: CAP END aborts a SASL exchange that never gave credentials (906), and the nick goes on", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "CAP LS 302");
  client(state, sink, "CAP REQ sasl");
  client(state, sink, "NICK bob");
  client(state, sink, "USER u 0 * :x");
  client(state, sink, "AUTHENTICATE PLAIN");
  client(state, sink, "CAP END");
  assert.match(v(sink).at(-1)!, /^906 bob :SASL authentication aborted$/);
  assert.deepEqual(sink.native_, ["bob"]);
});

Deno.test("registration: a client that logs in with SASL and sends NICK and USER only after CAP END (irssi) registers once they came", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "CAP LS 302");
  client(state, sink, "CAP REQ :sasl");
  client(state, sink, "AUTHENTICATE PLAIN");
  client(state, sink, `AUTHENTICATE ${btoa("\0alice\0pw")}`);
  session(state, sink, 'PASSWORD account "alice" is a registered alias');
  session(state, sink, "WELCOME alice 1 Welcome");
  client(state, sink, "CAP END");
  completeRegistration(state, sink);
  assert.equal(state.registered, false, "no NICK nor USER yet");
  client(state, sink, "NICK alice");
  client(state, sink, "USER u 0 * :x");
  completeRegistration(state, sink);
  assert.equal(state.registered, true);
  assert.deepEqual(sink.native_, ["alice", "/pass pw"], "no second alias");
  assert.ok(!v(sink).some((l) => l.startsWith("462")));
});

Deno.test("registration: a refused alias goes again only on a new NICK, not on PING, PONG, CAP, USER, PASS, a bad NICK or CAP END", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "NICK bob");
  client(state, sink, "USER u 0 * :x");
  session(state, sink, 'ERR alias-taken Alias "bob" is taken');
  assert.deepEqual(v(sink), ['433 * bob :Alias "bob" is taken']);
  sink.clear();
  for (
    const line of [
      "PING x",
      "PONG y",
      "CAP LIST",
      "USER u 0 * :again",
      "NICK [bad]",
      "PASS pw",
      "WHO bob",
      "CAP LS 302",
      "CAP END",
    ]
  ) client(state, sink, line);
  assert.deepEqual(sink.native_, [], "the refused alias is not sent again");
  assert.deepEqual(v(sink).map((l) => l.split(" ").slice(0, 2).join(" ")), [
    "PONG tlschat",
    "CAP *",
    "432 *",
    "451 *",
    "CAP *",
  ], "the client has no nick: `*`");
  client(state, sink, "NICK bob2");
  assert.deepEqual(sink.native_, ["bob2"]);
  // The same nick again is the client's asking for it again.
  session(state, sink, 'ERR alias-taken Alias "bob2" is taken');
  client(state, sink, "NICK bob2");
  assert.deepEqual(sink.native_, ["bob2", "bob2"]);
});

Deno.test("registration: an account's 433 is answered with PASS (the nick goes again, then its password), while PING or USER send nothing", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "NICK alice");
  client(state, sink, "USER u 0 * :x");
  session(state, sink, 'PASSWORD account "alice" is a registered alias');
  assert.match(v(sink).at(-1)!, /^433 \* alice :Nickname is a registered/);
  client(state, sink, "PING x");
  client(state, sink, "PONG x");
  client(state, sink, "USER u 0 * :x");
  client(state, sink, "CAP END");
  assert.deepEqual(sink.native_, ["alice"]);
  client(state, sink, "PASS pw");
  assert.deepEqual(sink.native_, ["alice", "alice"]);
  session(state, sink, 'PASSWORD account "alice" is a registered alias');
  assert.deepEqual(sink.native_, ["alice", "alice", "/pass pw"]);
  session(state, sink, "WELCOME alice 1 Welcome");
  assert.match(v(sink).at(-6)!, /^001 alice /);
  // After a taken alias, PASS only keeps the password for the next nick.
  const taken = ircState();
  const other = recorder();
  client(taken, other, "NICK bob");
  client(taken, other, "USER u 0 * :x");
  session(taken, other, 'ERR alias-taken Alias "bob" is taken');
  client(taken, other, "PASS pw");
  assert.deepEqual(other.native_, ["bob"]);
  client(taken, other, "NICK alice");
  session(taken, other, 'PASSWORD account "alice" is a registered alias');
  assert.deepEqual(other.native_, ["bob", "alice", "/pass pw"]);
});

Deno.test("registration: a NICK given while the alias waits for its answer goes once that alias is refused, which names the nick it was for", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "NICK bob");
  client(state, sink, "USER u 0 * :x");
  client(state, sink, "NICK amy");
  assert.deepEqual(sink.native_, ["bob"], "one alias at a time");
  session(state, sink, 'ERR alias-taken Alias "bob" is taken');
  assert.deepEqual(v(sink), ['433 * bob :Alias "bob" is taken']);
  assert.deepEqual(sink.native_, ["bob", "amy"]);
  session(state, sink, "WELCOME amy 1 Welcome");
  assert.match(v(sink)[1]!, /^001 amy /);
});

Deno.test("registration: SASL's alias refused is 904 and a NOTICE, not a 433 for the client's nick, which goes after CAP END", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "CAP LS 302");
  client(state, sink, "NICK bob");
  client(state, sink, "USER u 0 * :x");
  client(state, sink, "CAP REQ sasl");
  client(state, sink, "AUTHENTICATE PLAIN");
  client(state, sink, `AUTHENTICATE ${btoa("\0alice\0pw")}`);
  session(state, sink, 'PASSWORD account "alice" is a registered alias');
  sink.clear();
  session(state, sink, 'ERR alias-taken Alias "alice" is taken');
  assert.deepEqual(v(sink), [
    "904 bob :SASL authentication failed",
    'NOTICE bob :Alias "alice" is taken',
  ]);
  client(state, sink, "CAP END");
  assert.deepEqual(sink.native_, ["bob"]);
});

Deno.test("registration: CAP without a subcommand and PING without a token get 461 (not a 410 with an empty parameter, nor an empty PONG)", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "CAP");
  client(state, sink, "CAP :");
  client(state, sink, "PING");
  client(state, sink, "PING :");
  client(state, sink, "CAP FOO");
  assert.deepEqual(v(sink), [
    "461 * CAP :Not enough parameters",
    "461 * CAP :Not enough parameters",
    "461 * PING :Not enough parameters",
    "PONG tlschat :",
    "410 * FOO :Invalid CAP command",
  ]);
  state.registered = true;
  client(state, sink, "PING");
  assert.equal(v(sink).at(-1), "461 * PING :Not enough parameters");
});

Deno.test("registration: AUTHENTICATE without the sasl capability fails with 904 (no 907), and once registered 904 for a guest (907 says it logged in)", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "CAP LS 302");
  client(state, sink, "AUTHENTICATE PLAIN");
  assert.match(v(sink).at(-1)!, /^904 \* :SASL authentication failed/);
  assert.equal(state.sasl, null);
  assert.deepEqual(sink.native_, [], "the session is not asked");
  client(state, sink, "NICK bob");
  client(state, sink, "USER u 0 * :Bob");
  client(state, sink, "CAP END");
  session(state, sink, "WELCOME bob 1 Welcome");
  client(state, sink, "AUTHENTICATE PLAIN");
  assert.equal(
    v(sink).at(-1),
    "904 bob :SASL authentication failed: registration is over",
  );
});

Deno.test("registration: before registration a command the door serves gets 451, one it does not know 421 (as Ergo and InspIRCd answer), and neither sends the alias", () => {
  const state = ircState();
  const sink = recorder();
  for (
    const line of [
      "JOIN #lobby",
      "PRIVMSG #lobby :hi",
      "WHOIS bob",
      "FOO bar",
      "USERHOST bob",
      "001 x",
      "GET / HTTP/1.1",
    ]
  ) client(state, sink, line);
  assert.deepEqual(v(sink), [
    "451 * :You have not registered",
    "451 * :You have not registered",
    "451 * :You have not registered",
    "421 * FOO :Unknown command",
    "421 * USERHOST :Unknown command",
    "421 * 001 :Unknown command",
    "421 * GET :Unknown command",
  ]);
  assert.deepEqual(sink.native_, []);
});

Deno.test("registration: NICK and USER after CAP END, while SASL waits for its credentials, end registration: 906, and the nick goes (IRCv3 SASL 3.1)", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "CAP LS 302");
  client(state, sink, "CAP REQ sasl");
  client(state, sink, "CAP END");
  client(state, sink, "AUTHENTICATE PLAIN");
  assert.equal(sink.irc_.at(-1), "AUTHENTICATE +", "not over: no NICK yet");
  client(state, sink, "NICK bob");
  assert.deepEqual(sink.native_, []);
  client(state, sink, "USER u 0 * :x");
  assert.equal(v(sink).at(-1), "906 bob :SASL authentication aborted");
  assert.equal(state.sasl, null);
  assert.deepEqual(sink.native_, ["bob"], "registered as a guest");
  session(state, sink, "WELCOME bob 1 Welcome");
  assert.equal(state.registered, true);
});

Deno.test("registration: AUTHENTICATE once the nick's alias went is refused (904), so no second alias reaches the session and the guest's welcome claims no login", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "CAP LS 302");
  client(state, sink, "CAP REQ sasl");
  client(state, sink, "NICK bob");
  client(state, sink, "USER u 0 * :x");
  client(state, sink, "CAP END");
  assert.deepEqual(sink.native_, ["bob"]);
  client(state, sink, "AUTHENTICATE PLAIN");
  client(state, sink, `AUTHENTICATE ${btoa("\0alice\0pw")}`);
  assert.deepEqual(sink.native_, ["bob"], "alice is not said in the room");
  session(state, sink, "WELCOME bob 1 Welcome");
  const said = v(sink).slice(2); // CAP LS, ACK
  assert.deepEqual(said.slice(0, 2), [
    "904 bob :SASL authentication failed: registration is over",
    "904 bob :SASL authentication failed: registration is over",
  ]);
  assert.ok(!said.some((l) => /^90[03] /.test(l)), said.join("\n"));
  assert.match(said[2]!, /^001 bob /);
});

Deno.test("registration: AUTHENTICATE after logging in (SASL, or PASS with the account's password) is 907", () => {
  const state = ircState();
  const sink = recorder();
  client(state, sink, "CAP REQ sasl");
  client(state, sink, "AUTHENTICATE PLAIN");
  client(state, sink, `AUTHENTICATE ${btoa("\0alice\0pw")}`);
  session(state, sink, 'PASSWORD account "alice" is a registered alias');
  session(state, sink, "WELCOME alice 1 Welcome");
  client(state, sink, "AUTHENTICATE PLAIN");
  assert.equal(v(sink).at(-1), "907 alice :You have already authenticated");
  client(state, sink, "CAP END");
  client(state, sink, "NICK alice");
  client(state, sink, "USER u 0 * :x");
  completeRegistration(state, sink);
  client(state, sink, "AUTHENTICATE PLAIN");
  assert.equal(v(sink).at(-1), "907 alice :You have already authenticated");
  const withPass = ircState();
  const other = recorder();
  client(withPass, other, "CAP REQ sasl");
  client(withPass, other, "PASS pw");
  client(withPass, other, "NICK alice");
  client(withPass, other, "USER u 0 * :x");
  client(withPass, other, "CAP END");
  session(withPass, other, 'PASSWORD account "alice" is a registered alias');
  session(withPass, other, "WELCOME alice 1 Welcome");
  client(withPass, other, "AUTHENTICATE PLAIN");
  assert.equal(v(other).at(-1), "907 alice :You have already authenticated");
});

Deno.test("registration: where only accounts may join (the greeting's auth=accounts), a nick's 433 says so, not that the nick is a registered account", () => {
  const state = ircState();
  const sink = recorder();
  session(
    state,
    sink,
    "HELLO tlschat/1 tlschat rate=5,burst=10,line=4096,auth=accounts Welcome",
  );
  client(state, sink, "NICK guesty");
  client(state, sink, "USER u 0 * :x");
  session(state, sink, 'PASSWORD account "guesty" is a registered alias');
  assert.deepEqual(v(sink), [
    "433 * guesty :Only accounts may join: log in with SASL (or PASS) as your account",
  ]);
});

Deno.test("registration: SASL PLAIN with an authzid other than its authcid, or more fields than three, fails (904) and asks the session nothing", () => {
  for (
    const payload of [
      "opal\0alice\0pw", // log in as alice to act as opal
      "\0alice\0pw\0more",
      "\0alice\0",
    ]
  ) {
    const state = ircState();
    const sink = recorder();
    client(state, sink, "CAP REQ sasl");
    client(state, sink, "AUTHENTICATE PLAIN");
    client(state, sink, `AUTHENTICATE ${btoa(payload)}`);
    assert.deepEqual(sink.native_, [], JSON.stringify(payload));
    assert.match(v(sink).at(-1)!, /^904 \* :SASL authentication failed$/);
  }
  const state = ircState();
  const sink = recorder();
  client(state, sink, "CAP REQ sasl");
  client(state, sink, "AUTHENTICATE PLAIN");
  client(state, sink, `AUTHENTICATE ${btoa("Alice\0alice\0pw")}`);
  assert.deepEqual(sink.native_, ["alice"], "the same alias, in another case");
});
