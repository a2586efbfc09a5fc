/**
 * The IRC door against a real IRC client: Debian's `weechat-headless`
 * (`_weechat.ts`) over TLS with certificate verification, logged in with
 * SASL PLAIN, in the default room with two terminal clients (`client.ts`):
 * the history on joining, and every line in one order for all three.
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
    await tom.output.waitFor(/^<ann> ann 4$/);
    await ann.output.waitFor(/^<ann> ann 4$/);
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
