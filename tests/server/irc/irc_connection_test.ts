/**
 * Tests of the IRC door's connection over a fake one, without sockets: the
 * capabilities asked first, lines the door asks of the session handed over
 * without waiting for the client, output held until registration ends (and
 * bounded), and the goodbye as `ERROR`.
 */

import assert from "node:assert/strict";
import { IrcConnection } from "../../../lib/server/irc/irc_connection.ts";
import { SharedLines } from "../../../lib/server/irc/shared_lines.ts";
import type { InboundLine } from "../../../lib/server/room/connection.ts";
import { FakeClock, FakeConnection, settle } from "../../_fakes.ts";
import { systemClock } from "../../../lib/clock.ts";

const encoder = new TextEncoder();
const line = (text: string) => encoder.encode(text + "\n");

/** An IRC connection over a fake, its reader, and a queue limit. */
function setup(queueBytes = 4096) {
  const inner = new FakeConnection();
  const irc = new IrcConnection(inner, {
    settings: {
      server: "tlschat",
      defaultRoom: "#lobby",
      announceLimit: 100,
      isupport: [],
      isAccount: (name) => name === "alice",
      holder: () => Promise.resolve(null),
    },
    queueBytes,
    floodRate: 0,
    floodBurst: 10,
    clock: systemClock,
  });
  const reader = irc.lines()[Symbol.asyncIterator]();
  const next = async () => {
    const got = await reader.next();
    assert.ok(!got.done);
    return [...got.value as Iterable<InboundLine>];
  };
  const sent = () => inner.sent.map((l) => l.replace(/^:tlschat /, ""));
  return { inner, irc, next, sent };
}

Deno.test("IrcConnection asks /cap first, and hands the session what it asks for without waiting for the client", async () => {
  const { inner, irc, next } = setup();
  assert.equal(irc.info.door, "irc");
  assert.deepEqual(await next(), ["/cap ids rooms seq notice"]);
  inner.receive("PASS :pw", "NICK bob", "USER u 0 * :Bob");
  assert.deepEqual(await next(), ["bob"]);
  const waiting = next();
  assert.equal(irc.send(line("PASSWORD room This room has a password")), true);
  assert.deepEqual(await waiting, ["/pass pw"]);
  await irc.close(line("BYE auth-failed Wrong room password"));
  assert.equal(
    inner.closedWith,
    "ERROR :Closing link: Wrong room password (auth-failed)\r",
  );
});

Deno.test("IrcConnection holds what comes after a SASL login until CAP END, then sends it after 001 to 422", async () => {
  const { inner, irc, next, sent } = setup();
  await next();
  inner.receive(
    "CAP LS 302",
    "NICK al",
    "USER u 0 * :Al",
    "CAP REQ :sasl",
    "AUTHENTICATE PLAIN",
    `AUTHENTICATE ${btoa("\0alice\0pw")}`,
  );
  assert.deepEqual(await next(), ["alice"]);
  const waiting = next();
  irc.send(line('PASSWORD account "alice" is a registered alias'));
  assert.deepEqual(await waiting, ["/pass pw"]);
  irc.send(line("WELCOME alice 1 Welcome"));
  irc.send(line("@seq=3;time=T #lobby JOIN alice 1"));
  assert.match(sent().at(-1)!, /^903 al :SASL authentication successful/);
  // The door asks for the room's names at once, while the JOIN is held.
  assert.deepEqual(await next(), ["#lobby /who"]);
  assert.ok(!sent().some((l) => l.includes("JOIN")));
  const before = inner.sent.length;
  inner.receive("CAP END");
  const reading = next().catch(() => null);
  let last = "";
  while (!last.includes("JOIN")) last = await inner.nextSent();
  const codes = sent().slice(before).map((l) => l.split(" ")[0]);
  assert.deepEqual(codes, [
    "001",
    "002",
    "003",
    "004",
    "005",
    "422",
    ":alice!alice@tlschat",
  ]);
  inner.end();
  await reading;
});

Deno.test("IrcConnection reports a full queue when what it holds before registration passes the limit", async () => {
  const { inner, irc, next } = setup(300);
  await next();
  inner.receive(
    "CAP REQ :sasl",
    "AUTHENTICATE EXTERNAL",
  );
  // No certificate: EXTERNAL fails; PLAIN then.
  inner.receive("AUTHENTICATE PLAIN", `AUTHENTICATE ${btoa("\0alice\0pw")}`);
  assert.deepEqual(await next(), ["alice"]);
  const waiting = next();
  irc.send(line('PASSWORD account "alice" is a registered alias'));
  await waiting;
  irc.send(line("WELCOME alice 1 Welcome"));
  irc.send(line("@seq=1;time=T #lobby JOIN alice 1"));
  assert.equal(
    irc.send(line(`#lobby HIST 1 T MSG bob ${"x".repeat(200)}`)),
    true,
  );
  assert.equal(
    irc.send(line(`#lobby HIST 2 T MSG bob ${"y".repeat(200)}`)),
    false,
  );
});

Deno.test("IrcConnection shares the translation of another member's message with the door's other connections, per variant, consecutive ones adjacent", async () => {
  const shared = new SharedLines();
  /** A registered IRC connection whose inner keeps the bytes it is sent. */
  const member = async (nick: string, caps: string) => {
    const inner = new FakeConnection();
    const kept: Uint8Array[] = [];
    const send = inner.send.bind(inner);
    inner.send = (bytes: Uint8Array) => (kept.push(bytes), send(bytes));
    const irc = new IrcConnection(inner, {
      settings: {
        server: "tlschat",
        defaultRoom: "#lobby",
        announceLimit: 100,
        isupport: [],
        isAccount: () => false,
        holder: () => Promise.resolve(null),
      },
      queueBytes: 4096,
      floodRate: 0,
      floodBurst: 10,
      clock: systemClock,
      shared,
    });
    const reader = irc.lines()[Symbol.asyncIterator]();
    await reader.next();
    inner.receive(
      `CAP REQ :${caps}`,
      "CAP END",
      `NICK ${nick}`,
      "USER u 0 * :x",
    );
    await reader.next();
    irc.send(line(`WELCOME ${nick} 3 Welcome`));
    kept.length = 0;
    return { irc, kept };
  };
  const amy = await member("amy", "server-time");
  const bea = await member("bea", "server-time");
  const cy = await member("cy", "batch");
  const said = line("@seq=9;time=T #lobby MSG bob hi all");
  for (const { irc } of [amy, bea, cy]) irc.send(said, { room: true });
  assert.equal(amy.kept.length, 1);
  assert.equal(bea.kept[0], amy.kept[0], "the same bytes, translated once");
  assert.notEqual(cy.kept[0], amy.kept[0], "another variant: no @time");
  assert.equal(
    new TextDecoder().decode(amy.kept[0]),
    "@time=T :bob!bob@tlschat PRIVMSG #lobby :hi all\r\n",
  );
  assert.equal(
    new TextDecoder().decode(cy.kept[0]),
    ":bob!bob@tlschat PRIVMSG #lobby :hi all\r\n",
  );
  // The next one is next to it in memory: the outbox writes both at once.
  const next = line("@seq=10;time=T #lobby MSG bob more");
  for (const { irc } of [amy, bea]) irc.send(next, { room: true });
  assert.equal(bea.kept[1], amy.kept[1]);
  assert.equal(amy.kept[1]!.buffer, amy.kept[0]!.buffer);
  assert.equal(
    amy.kept[1]!.byteOffset,
    amy.kept[0]!.byteOffset + amy.kept[0]!.length,
  );
  // A join changes each connection's state: never shared.
  const joined = line("@seq=11;time=T #lobby JOIN bob 4");
  for (const { irc } of [amy, bea]) irc.send(joined, { room: true });
  assert.notEqual(bea.kept[2], amy.kept[2]);
  // Nor what is said while one is in a history batch: its lines carry it.
  const dee = await member("dee", "server-time batch");
  const eve = await member("eve", "server-time batch");
  dee.irc.send(line("#lobby HIST 5 T MSG bob earlier"));
  const live = line("@seq=12;time=T #lobby MSG bob now");
  for (const { irc } of [dee, eve]) irc.send(live, { room: true });
  const text = (bytes?: Uint8Array) => new TextDecoder().decode(bytes);
  assert.match(text(dee.kept.at(-1)), /^@batch=h1;time=T :bob\S* PRIVMSG/);
  assert.equal(
    text(eve.kept.at(-1)),
    "@time=T :bob!bob@tlschat PRIVMSG #lobby :now\r\n",
  );
});

Deno.test("IrcConnection sends NAMES #lobby,#zz's answers in the order asked: #zz's (not joined) after #lobby's names", async () => {
  const { inner, irc, next, sent } = setup();
  await next();
  inner.receive("NICK bob", "USER u 0 * :Bob");
  assert.deepEqual(await next(), ["bob"]);
  irc.send(line("WELCOME bob 1 Welcome"));
  irc.send(line("@seq=3;time=T #lobby JOIN bob 1"));
  assert.deepEqual(await next(), ["#lobby /who"]);
  irc.send(line("#lobby WHO 1 bob"));
  inner.receive("NAMES #lobby,#zz");
  assert.deepEqual(await next(), ["#lobby /who"]);
  assert.equal(sent().filter((l) => l.includes("#zz")).length, 0);
  irc.send(line("#lobby WHO 2 amy bob"));
  assert.deepEqual(sent().slice(-3), [
    "353 bob = #lobby :amy bob\r",
    "366 bob #lobby :End of /NAMES list\r",
    "366 bob #zz :End of /NAMES list\r",
  ]);
});

Deno.test("IrcConnection charges the door's answers held behind a pending request a flood token each, as those sent at once: the next line waits", async () => {
  const clock = new FakeClock();
  const inner = new FakeConnection();
  const irc = new IrcConnection(inner, {
    settings: {
      server: "tlschat",
      defaultRoom: "#lobby",
      announceLimit: 100,
      isupport: [],
      isAccount: () => false,
      holder: () => Promise.resolve(null),
    },
    queueBytes: 4096,
    floodRate: 1,
    floodBurst: 10,
    clock,
  });
  const reader = irc.lines()[Symbol.asyncIterator]();
  const next = async () => {
    const got = await reader.next();
    assert.ok(!got.done);
    return [...got.value as Iterable<InboundLine>];
  };
  await next();
  inner.receive("NICK bob", "USER u 0 * :Bob");
  assert.deepEqual(await next(), ["bob"]);
  irc.send(line("WELCOME bob 1 Welcome"));
  irc.send(line("@seq=3;time=T #lobby JOIN bob 1"));
  assert.deepEqual(await next(), ["#lobby /who"]);
  // 9 tokens, 3 taken: NAMES #lobby takes 2, the ten answers held 10.
  const zz = Array.from({ length: 10 }, (_, i) => `#z${i}`).join(",");
  inner.receive("NAMES #lobby", `NAMES ${zz}`, "NAMES #lobby");
  assert.deepEqual(await next(), ["#lobby /who"]);
  let got = false;
  const waiting = next().then((lines) => (got = true, lines));
  await settle();
  assert.equal(got, false, "the third line waits for its token");
  await clock.advance(20_000);
  assert.deepEqual(await waiting, ["#lobby /who"]);
  await irc.close();
});
