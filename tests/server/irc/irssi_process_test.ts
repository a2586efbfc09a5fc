/**
 * The README's irssi recipe against a real `server.ts --irc-port 0`:
 * Debian's irssi 1.4 on a pseudo-terminal (util-linux `script`, the
 * tests' `TerminalClient`), over TLS verifying the CA, logged in with SASL
 * PLAIN as the README says (`/network add`, `/server add -tls -tls_cafile
 * -tls_verify`), chatting with a terminal client both ways. irssi sends
 * `NICK` and `USER` only after `CAP END` when it logs in with SASL; its
 * channel log (autolog, one file a channel) is waited on, woken by changes
 * in its folder; its own pacing is off (`cmd_queue_speed`), so each line
 * leaves it as it is typed. And irssi whose nick is taken (`433 * nick`
 * before registration) registering under its alternate nick.
 */

import assert from "node:assert/strict";
import { TerminalClient } from "../../_helpers.ts";
import { withIrcServer } from "./_irc_server.ts";

/** Waits until the file at `path` holds a line matching `pattern`. */
async function waitForLine(path: string, pattern: RegExp): Promise<void> {
  const read = async () => {
    try {
      return (await Deno.readTextFile(path)).split("\n");
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
  };
  const folder = path.slice(0, path.lastIndexOf("/"));
  using watcher = Deno.watchFs(folder);
  const timer = setTimeout(() => watcher.close(), 15_000);
  try {
    if ((await read()).some((line) => pattern.test(line))) return;
    for await (const _ of watcher) {
      if ((await read()).some((line) => pattern.test(line))) return;
    }
    assert.fail(
      `No line matching ${pattern} in ${path}:\n${(await read()).join("\n")}`,
    );
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("irssi joins with the README's recipe (TLS, CA checked, SASL PLAIN) and chats with a terminal client, `t.om` shown and named as `t^om`", async () => {
  await withIrcServer("alice", "alice's password", async (at) => {
    const { server, dir, ircPort } = at;
    // A dotted alias: irssi shows it as `t^om` (it was `t|om`, which
    // passes for `tlom`, an alias the server lets in beside `t.om`).
    await using tom = at.member("t.om");
    await tom.output.waitFor(/^-!- Welcome, t\.om!/);
    const home = `${dir}/irssi`;
    await Deno.mkdir(`${home}/logs`, { recursive: true });
    await Deno.writeTextFile(
      `${home}/startup`,
      [
        "/set autolog on",
        `/set autolog_path ${home}/logs/$$0.log`,
        // irssi paces what it sends itself: once it sent 5 commands (its
        // connect and registration send 9), one every 2.2 s. Its first
        // PRIVMSG then left ~4.9 s after it was typed, against a 5 s
        // deadline: it failed about one run in ten. Sent at once, the
        // lines below are what the door does with them, nothing else.
        "/set cmd_queue_speed 0",
        // The README's lines, with this test's CA and port.
        `/network add -sasl_mechanism PLAIN -sasl_username alice -sasl_password "alice's password" tlschat`,
        `/server add -tls -tls_cafile ${dir}/ca.pem -tls_verify -network tlschat localhost ${ircPort}`,
        "/connect tlschat",
      ].join("\n") + "\n",
    );
    await using irssi = new TerminalClient([], [], "NO_COLOR=1", {
      shell: `irssi --home=${home} -n alice`,
    });
    await server.output.waitFor(/INFO join alias=alice .*account=alice/);
    await tom.output.waitFor(/alice joined/);
    await irssi.type("/msg #lobby hello from irssi\r");
    await tom.output.waitFor(/^<alice> hello from irssi$/);
    await tom.send("hi irssi");
    await waitForLine(`${home}/logs/#lobby.log`, /< t\^om> hi irssi$/);
    await irssi.type("/msg t^om psst\r");
    await tom.output.waitFor(/^\[private\] <alice> psst$/);
    await irssi.type("/quit bye\r");
    await tom.output.waitFor(/alice left.*bye/);
    assert.equal(await irssi.exited(), 0);
  });
});

Deno.test("irssi whose nick is taken gets `433 * tom` and registers under its alternate nick", async () => {
  await withIrcServer("alice", "alice's password", async (at) => {
    const { server, dir, ircPort } = at;
    await using tom = at.member("tom");
    await tom.output.waitFor(/^-!- Welcome, tom!/);
    const home = `${dir}/irssi`;
    await Deno.mkdir(home, { recursive: true });
    await Deno.writeTextFile(
      `${home}/startup`,
      [
        "/set alternate_nick tom2",
        "/network add tlschat",
        `/server add -tls -tls_cafile ${dir}/ca.pem -tls_verify -network tlschat localhost ${ircPort}`,
        "/connect tlschat",
      ].join("\n") + "\n",
    );
    await using irssi = new TerminalClient([], [], "NO_COLOR=1", {
      shell: `irssi --home=${home} -n tom`,
    });
    await server.output.waitFor(/INFO join alias=tom2 /);
    await tom.output.waitFor(/tom2 joined/);
    await irssi.waitFor(/Welcome to the tlschat IRC door, tom2/);
    await irssi.type("/quit bye\r");
    await tom.output.waitFor(/tom2 left.*bye/);
    assert.equal(await irssi.exited(), 0);
  });
});

Deno.test("irssi whose JOIN the server refuses (a look-alike name: 479; past --room-creations: 437) drops that channel and closes its window, where the NOTICE the door gave left it joining", async () => {
  await withIrcServer("alice", "alice's password", async (at) => {
    const { dir, ircPort } = at;
    const home = `${dir}/irssi`;
    await Deno.mkdir(home, { recursive: true });
    await Deno.mkdir(`${home}/logs`);
    await Deno.writeTextFile(
      `${home}/startup`,
      [
        "/set cmd_queue_speed 0",
        // Lines typed at once are commands, not a paste to confirm.
        "/set paste_detect_time 0",
        // Each channel's log, to wait on (the screen shows one window).
        "/set autolog on",
        `/set autolog_path ${home}/logs/$$0.log`,
        // An account: guests may not create rooms (--room-create accounts).
        `/network add -sasl_mechanism PLAIN -sasl_username alice -sasl_password "alice's password" tlschat`,
        `/server add -tls -tls_cafile ${dir}/ca.pem -tls_verify -network tlschat localhost ${ircPort}`,
        "/connect tlschat",
      ].join("\n") + "\n",
    );
    await using irssi = new TerminalClient([], [], "NO_COLOR=1", {
      shell: `irssi --home=${home} -n alice`,
    });
    await waitForLine(`${home}/logs/#lobby.log`, /alice .* has joined #lobby/);
    await irssi.type("/join #ops\r");
    await waitForLine(`${home}/logs/#ops.log`, /alice .* has joined #ops/);
    await irssi.waitFor(/Join to #ops\S* was synced/, 0, 15_000);
    // Each refused JOIN's channel, joining, is dropped and its window
    // closed: irssi is back in #ops (its prompt). On the NOTICE the door
    // gave before, the window stayed, its channel joining for good.
    for (const channel of ["#o-ps", "#new"]) {
      const from = irssi.text.length;
      await irssi.type(`/join ${channel}\r`);
      const opened = await irssi.waitFor(new RegExp(`\\[${channel}\\] `), from);
      await irssi.waitFor(/\[#ops\] /, opened);
    }
    await irssi.type("/quit bye\r");
    assert.equal(await irssi.exited(), 0);
  }, ["--room-creations", "1"]);
});
