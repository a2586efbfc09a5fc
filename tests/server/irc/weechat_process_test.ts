/**
 * The IRC door against a real IRC client: Debian's `weechat-headless`
 * (weechat 3.8), over TLS with certificate verification, logged in with
 * SASL PLAIN, in the default room with two terminal clients (`client.ts`):
 * the history on joining, and every line in one order for all three.
 * WeeChat is driven through its FIFO and waited for on its log file (one
 * file a channel, written at once with `logger.file.flush_delay 0`); it is
 * started through `bash` (the tests' `--allow-run` list).
 */

import assert from "node:assert/strict";
import {
  denoRun,
  loopbackArgs,
  PipeClient,
  runCommand,
  withServerProcess,
  withTempDir,
} from "../../_helpers.ts";

/** The chat lines of a weechat channel log (`date time\tnick\ttext`). */
async function chatLog(path: string): Promise<string[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return text.split("\n").map((line) => line.split("\t"))
    .filter((fields) =>
      fields.length === 3 && !/^(--|-->|<--|=!=)$/.test(fields[1]!)
    )
    .map(([, nick, said]) => `<${nick}> ${said}`);
}

/**
 * Waits until the log at `path` holds `count` lines matching `pattern`;
 * returns its chat lines. Woken by changes in its folder, no sleeps.
 */
async function waitForLog(
  path: string,
  pattern: RegExp,
  count = 1,
): Promise<string[]> {
  const folder = path.slice(0, path.lastIndexOf("/"));
  using watcher = Deno.watchFs(folder);
  const timer = setTimeout(() => watcher.close(), 15_000);
  try {
    const enough = async () => {
      const lines = await chatLog(path);
      return lines.filter((line) => pattern.test(line)).length >= count
        ? lines
        : null;
    };
    let lines = await enough();
    if (lines) return lines;
    for await (const _ of watcher) {
      if ((lines = await enough())) return lines;
    }
    assert.fail(
      `No ${count} lines matching ${pattern} in ${path}:\n${
        (await chatLog(path)).join("\n")
      }`,
    );
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("weechat-headless joins over TLS with SASL, gets history, and sees the room's lines in the terminal clients' order", async () => {
  await withTempDir(async (dir) => {
    const perms = [`--allow-read=${dir}`, `--allow-write=${dir}`];
    const run = async (script: string, args: string[], stdin = "") => {
      const result = await runCommand(
        "deno",
        denoRun(script, perms, args),
        stdin,
      );
      assert.equal(result.code, 0, result.out);
    };
    await run("server.ts", ["certs", "--certs-dir", dir]);
    await run(
      "users.ts",
      ["add", "wee", "--data-dir", `${dir}/data`],
      "wee's password\n",
    );
    await withServerProcess(
      ["--allow-net=127.0.0.1", ...perms],
      loopbackArgs(dir, "--irc-port", "0"),
      async (server) => {
        const listening = await server.output.waitFor(/INFO listening /);
        const ircPort = / irc=127\.0\.0\.1:(\d+)/.exec(listening)![1];
        const member = (alias: string) =>
          new PipeClient(
            [
              `--allow-net=127.0.0.1:${server.port}`,
              `--allow-read=${dir}/ca.pem`,
            ],
            [
              "--server",
              `127.0.0.1:${server.port}`,
              "--ca",
              `${dir}/ca.pem`,
              "--alias",
              alias,
            ],
          );
        await using tom = member("tom");
        await using ann = member("ann");
        await tom.output.waitFor(/^-!- Welcome, tom!/);
        await ann.output.waitFor(/^-!- Welcome, ann!/);
        await tom.send("said before weechat");
        await ann.output.waitFor(/^<tom> said before weechat$/);
        const home = `${dir}/weechat`;
        await Deno.mkdir(`${home}/logs`, { recursive: true });
        const setup = [
          `/set weechat.network.gnutls_ca_user ${dir}/ca.pem`,
          `/set fifo.file.path ${home}/fifo`,
          "/set logger.file.flush_delay 0",
          `/server add tl 127.0.0.1/${ircPort} -ssl`,
          "/set irc.server.tl.ssl_verify on",
          "/set irc.server.tl.nicks wee",
          // Its own pacing off (2 s a line by default): the server paces.
          "/set irc.server.tl.anti_flood_prio_high 0",
          "/set irc.server.tl.sasl_mechanism plain",
          "/set irc.server.tl.sasl_username wee",
          '/set irc.server.tl.sasl_password "wee\'s password"',
          "/connect tl",
        ].join(";");
        const weechat = new Deno.Command("bash", {
          args: ["-c", 'exec weechat-headless --dir "$0" -r "$1"', home, setup],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn();
        try {
          const log = `${home}/logs/irc.tl.#lobby.weechatlog`;
          const serverLog = `${home}/logs/irc.server.tl.weechatlog`;
          await waitForLog(log, /^<tom> said before weechat$/);
          await server.output.waitFor(/INFO join alias=wee .*account=wee/);
          const said = /^<(tom|ann|wee)> (tom|ann|wee) \d$/;
          for (let i = 1; i <= 4; i++) {
            await tom.send(`tom ${i}`);
            await ann.send(`ann ${i}`);
          }
          // Others' lines reach weechat in the terminal clients' order.
          const seen = await waitForLog(log, /^<(tom|ann)> (tom|ann) \d$/, 8);
          await tom.output.waitFor(/^<ann> ann 4$/);
          await ann.output.waitFor(/^<ann> ann 4$/);
          const order = (lines: string[]) => lines.filter((l) => said.test(l));
          assert.deepEqual(order(seen), order(tom.output.lines));
          assert.deepEqual(order(ann.output.lines), order(tom.output.lines));
          // Its own lines, through its FIFO, reach both in its order.
          for (let i = 1; i <= 3; i++) {
            await Deno.writeTextFile(
              `${home}/fifo`,
              `irc.tl.#lobby *wee ${i}\n`,
            );
          }
          await tom.output.waitFor(/^<wee> wee 3$/);
          await ann.output.waitFor(/^<wee> wee 3$/);
          assert.deepEqual(order(ann.output.lines), order(tom.output.lines));
          assert.deepEqual(
            order(tom.output.lines).filter((l) => l.startsWith("<wee>")),
            ["<wee> wee 1", "<wee> wee 2", "<wee> wee 3"],
          );
          assert.match(
            await Deno.readTextFile(serverLog),
            /SASL authentication successful/,
          );
          await Deno.writeTextFile(`${home}/fifo`, "*/quit\n");
          await tom.output.waitFor(/wee.*left/);
        } finally {
          try {
            weechat.kill("SIGKILL");
          } catch {
            // It quit.
          }
          await weechat.status;
        }
      },
    );
  });
});
