/**
 * Debian's `weechat-headless` (weechat 3.8) as a test's IRC client: started
 * through `bash` (the tests' `--allow-run` list) with its settings given on
 * the command line, over TLS trusting the test CA, driven through its FIFO,
 * and waited for on its channel log (`logger.file.flush_delay 0`: written at
 * once), woken by changes in the log's folder rather than by sleeps.
 */

import assert from "node:assert/strict";

/** How weechat connects. */
export interface WeechatOptions {
  /** Its home directory (created). */
  readonly home: string;
  readonly ircPort: number | string;
  /** The CA file it trusts. */
  readonly ca: string;
  readonly nick: string;
  /** SASL PLAIN as this account, with this password. */
  readonly sasl?: { readonly account: string; readonly password: string };
}

/** A running weechat on server `tl`. */
export class Weechat implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  #home: string;

  private constructor(child: Deno.ChildProcess, home: string) {
    this.child = child;
    this.#home = home;
  }

  /** Starts weechat and connects it. */
  static async start(options: WeechatOptions): Promise<Weechat> {
    const { home, ircPort, ca, nick, sasl } = options;
    await Deno.mkdir(`${home}/logs`, { recursive: true });
    const setup = [
      `/set weechat.network.gnutls_ca_user ${ca}`,
      `/set fifo.file.path ${home}/fifo`,
      "/set logger.file.flush_delay 0",
      `/server add tl 127.0.0.1/${ircPort} -ssl`,
      "/set irc.server.tl.ssl_verify on",
      `/set irc.server.tl.nicks ${nick}`,
      // Its own pacing off (a line every 2 s by default): the server paces.
      "/set irc.server.tl.anti_flood_prio_high 0",
      ...(sasl
        ? [
          "/set irc.server.tl.sasl_mechanism plain",
          `/set irc.server.tl.sasl_username ${sasl.account}`,
          `/set irc.server.tl.sasl_password "${sasl.password}"`,
        ]
        : []),
      "/connect tl",
    ].join(";");
    const child = new Deno.Command("bash", {
      args: ["-c", 'exec weechat-headless --dir "$0" -r "$1"', home, setup],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    return new Weechat(child, home);
  }

  /** The log of channel `channel`, or of the server buffer. */
  logOf(channel = "server"): string {
    const name = channel === "server" ? "irc.server.tl" : `irc.tl.${channel}`;
    return `${this.#home}/logs/${name}.weechatlog`;
  }

  /** Says `text` in `channel` (through the FIFO, as typed there). */
  say(channel: string, text: string): Promise<void> {
    return Deno.writeTextFile(
      `${this.#home}/fifo`,
      `irc.tl.${channel} *${text}\n`,
    );
  }

  /** Runs a command in the server buffer (`/quit`). */
  command(command: string): Promise<void> {
    return Deno.writeTextFile(
      `${this.#home}/fifo`,
      `irc.server.tl *${command}\n`,
    );
  }

  /**
   * Waits until `channel`'s log holds `count` chat lines matching
   * `pattern`; returns its chat lines (`<nick> text`).
   */
  async waitFor(
    channel: string,
    pattern: RegExp,
    count = 1,
  ): Promise<string[]> {
    const path = this.logOf(channel);
    using watcher = Deno.watchFs(`${this.#home}/logs`);
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

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // It quit.
    }
    await this.child.status;
  }
}

/** The chat lines of a weechat channel log (`date time\tnick\ttext`). */
export async function chatLog(path: string): Promise<string[]> {
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
