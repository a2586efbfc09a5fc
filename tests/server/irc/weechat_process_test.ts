/**
 * The IRC door against a real IRC client: Debian's `weechat-headless`
 * (`_weechat.ts`) over TLS with certificate verification, logged in with
 * SASL PLAIN, in the default room with two terminal clients (`client.ts`):
 * the history on joining, and every line in one order for all three; and
 * its nicks refused before registration (`433 * nick`), each tried once.
 */

import assert from "node:assert/strict";
import { withIrcServer } from "./_irc_server.ts";
import { Weechat } from "./_weechat.ts";

Deno.test("weechat-headless joins over TLS with SASL, gets history, and sees the room's lines in the terminal clients' order", async () => {
  await withIrcServer("wee", "wee's password", async (at) => {
    const { server, dir, ircPort } = at;
    await using tom = at.member("tom");
    await using ann = at.member("ann");
    await tom.output.waitFor(/^-!- Welcome, tom!/);
    await ann.output.waitFor(/^-!- Welcome, ann!/);
    await tom.send("said before weechat");
    await ann.output.waitFor(/^<tom> said before weechat$/);
    await using wee = await Weechat.start({
      home: `${dir}/weechat`,
      ircPort,
      ca: `${dir}/ca.pem`,
      nick: "wee",
      sasl: { account: "wee", password: "wee's password" },
    });
    await wee.waitFor("#lobby", /^<tom> said before weechat$/);
    await server.output.waitFor(/INFO join alias=wee .*account=wee/);
    const said = /^<(tom|ann|wee)> (tom|ann|wee) \d$/;
    const order = (lines: string[]) => lines.filter((l) => said.test(l));
    for (let i = 1; i <= 4; i++) {
      await tom.send(`tom ${i}`);
      await ann.send(`ann ${i}`);
    }
    // Others' lines reach weechat in the terminal clients' order.
    const seen = await wee.waitFor(
      "#lobby",
      /^<(tom|ann)> (tom|ann) \d$/,
      8,
    );
    // Two senders: the server may order tom's last line after ann's, so
    // both last lines are awaited before the orders are compared.
    for (const last of [/^<tom> tom 4$/, /^<ann> ann 4$/]) {
      await tom.output.waitFor(last);
      await ann.output.waitFor(last);
    }
    assert.deepEqual(order(seen), order(tom.output.lines));
    assert.deepEqual(order(ann.output.lines), order(tom.output.lines));
    // Its own lines, through its FIFO, reach both in its order.
    for (let i = 1; i <= 3; i++) await wee.say("#lobby", `wee ${i}`);
    await tom.output.waitFor(/^<wee> wee 3$/);
    await ann.output.waitFor(/^<wee> wee 3$/);
    assert.deepEqual(order(ann.output.lines), order(tom.output.lines));
    assert.deepEqual(
      order(tom.output.lines).filter((l) => l.startsWith("<wee>")),
      ["<wee> wee 1", "<wee> wee 2", "<wee> wee 3"],
    );
    assert.match(
      await Deno.readTextFile(wee.logOf()),
      /SASL authentication successful/,
    );
    await wee.command("/quit");
    await tom.output.waitFor(/wee.*left/);
  });
});

Deno.test("weechat-headless whose first nicks are refused (433 * nick: one taken, one an account's) tries each once and registers under its third", async () => {
  await withIrcServer("wee", "wee's password", async (at) => {
    const { server, dir, ircPort } = at;
    await using tom = at.member("tom");
    await tom.output.waitFor(/^-!- Welcome, tom!/);
    await using wee = await Weechat.start({
      home: `${dir}/weechat`,
      ircPort,
      ca: `${dir}/ca.pem`,
      nick: "tom,wee,wee2",
    });
    await server.output.waitFor(/INFO join alias=wee2 /);
    await tom.output.waitFor(/wee2 joined/);
    await tom.send("hello wee2");
    await wee.waitFor("#lobby", /^<tom> hello wee2$/);
    const log = await Deno.readTextFile(wee.logOf());
    // Each refused (433 * nick) once: tom is taken, wee an account's.
    const refused = log.split("\n").filter((l) => / already in use/.test(l));
    assert.deepEqual(refused.map((l) => l.split("\t")[2]), [
      'irc: nickname "tom" is already in use, trying nickname "wee"',
      'irc: nickname "wee" is already in use, trying nickname "wee2"',
    ]);
    await wee.command("/quit");
    await tom.output.waitFor(/wee2.*left/);
  });
});
