/**
 * The IRC door against a real IRC client library: bots built on npm
 * `irc-framework` (each a child process, `_irc_framework.ts`, trusting the
 * test CA through Deno's `--cert`) on a real `server.ts --irc-port 0`, with
 * the terminal client (`client.ts`) in the same room: registration with
 * SASL PLAIN (and a failed one going on as a guest), EXTERNAL with a client
 * certificate, history on JOIN in a batch with server-time, PRIVMSG both
 * ways, and the numerics of refusals (433, 475, 482, 421). And `server.ts`
 * refusing to start when the IRC door's port is taken.
 */

import assert from "node:assert/strict";
import {
  denoRun,
  LineLog,
  loopbackArgs,
  PipeClient,
  runCommand,
  serverPermissions,
  ServerProcess,
  withServerProcess,
  withTempDir,
} from "../../_helpers.ts";

const encoder = new TextEncoder();

/** A bot process: JSON commands in, JSON events out. */
class Bot implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** Every event, as its JSON line. */
  readonly events = new LineLog();
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #reading: Promise<void>;

  constructor(dir: string) {
    this.child = new Deno.Command("deno", {
      args: denoRun("tests/server/irc/_irc_framework.ts", [
        "--cert",
        `${dir}/ca.pem`,
        "--allow-net=127.0.0.1",
        `--allow-read=${dir}`,
      ], []),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#stdin = this.child.stdin.getWriter();
    const read = async (stream: ReadableStream<Uint8Array>) => {
      let partial = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop()!;
        for (const line of lines) this.events.push(line);
      }
    };
    this.#reading = Promise.all([
      read(this.child.stdout),
      read(this.child.stderr),
    ]).then(() => {});
  }

  /** Sends one command. */
  do(command: Record<string, unknown>): Promise<void> {
    return this.#stdin.write(encoder.encode(JSON.stringify(command) + "\n"));
  }

  /** Waits for a raw line from the server matching `pattern`. */
  async raw(pattern: RegExp): Promise<string> {
    const json = await this.events.waitFor(
      new RegExp(`^\\{"raw":".*${pattern.source}`),
    );
    return JSON.parse(json).raw;
  }

  /** Waits for the library's event `name`; returns it. */
  async event(name: string, count = 1): Promise<Record<string, unknown>> {
    return JSON.parse(
      await this.events.waitFor(new RegExp(`^\\{"event":"${name}"`), {
        count,
      }),
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Exited already.
    }
    await this.#stdin.close().catch(() => {});
    await this.child.status;
    await this.#reading;
  }
}

/** Runs `deno run` on a role with `args` in `dir`; fails on a non-zero exit. */
async function role(dir: string, script: string, args: string[], stdin = "") {
  const result = await runCommand(
    "deno",
    denoRun(script, [`--allow-read=${dir}`, `--allow-write=${dir}`], args),
    stdin,
  );
  assert.equal(result.code, 0, result.out);
}

/** A server process with its IRC door, accounts alice and opal, and certs. */
async function withIrcServer(
  body: (server: ServerProcess, dir: string, ircPort: number) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    await role(dir, "server.ts", ["certs", "--certs-dir", dir]);
    await role(dir, "server.ts", [
      "certs",
      "client",
      "opal",
      "--certs-dir",
      dir,
    ]);
    for (const alias of ["alice", "opal"]) {
      await role(
        dir,
        "users.ts",
        ["add", alias, "--data-dir", `${dir}/data`],
        `${alias}'s password\n`,
      );
    }
    await withServerProcess(
      ["--allow-net=127.0.0.1", `--allow-read=${dir}`, `--allow-write=${dir}`],
      loopbackArgs(
        dir,
        "--irc-port",
        "0",
        "--client-ca",
        `${dir}/ca.pem`,
        "--client-cert",
        "optional",
      ),
      async (server) => {
        const line = await server.output.waitFor(/INFO listening /);
        const ircPort = Number(/ irc=127\.0\.0\.1:(\d+)/.exec(line)![1]);
        await body(server, dir, ircPort);
      },
    );
  });
}

/** The terminal client in pipe mode, as `alias`. */
function terminal(dir: string, port: number, alias: string): PipeClient {
  return new PipeClient(
    [`--allow-net=127.0.0.1:${port}`, `--allow-read=${dir}/ca.pem`],
    [
      "--server",
      `127.0.0.1:${port}`,
      "--ca",
      `${dir}/ca.pem`,
      "--alias",
      alias,
    ],
  );
}

Deno.test("irc-framework logs in with SASL PLAIN, gets history on JOIN, and chats with a terminal client", async () => {
  await withIrcServer(async (server, dir, ircPort) => {
    await using tom = terminal(dir, server.port, "tom");
    await tom.output.waitFor(/^-!- Welcome, tom!/);
    await tom.send("said before 1");
    await tom.send("said before 2");
    await tom.output.waitFor(/^<tom> said before 2$/);
    await using alice = new Bot(dir);
    await alice.do({
      op: "connect",
      port: ircPort,
      nick: "alice",
      echo: true,
      account: { account: "alice", password: "alice's password" },
    });
    assert.equal((await alice.event("loggedin")).account, "alice");
    assert.equal((await alice.event("registered")).nick, "alice");
    await alice.raw(/:alice!alice@tlschat JOIN #lobby/);
    // History: in a chathistory batch, each line with its time.
    const open = await alice.raw(/BATCH \+\S+ chathistory #lobby/);
    const ref = /BATCH \+(\S+)/.exec(open)![1];
    const first = await alice.raw(
      /@batch=\S+;time=\S+ :tom!tom@tlschat PRIVMSG #lobby :said before 1/,
    );
    assert.ok(first.startsWith(`@batch=${ref};time=20`), first);
    await alice.raw(new RegExp(`BATCH -${ref}`));
    await alice.raw(/ 353 alice = #lobby :(alice tom|tom alice)/);
    // Both ways, in one order.
    await alice.do({ op: "say", target: "#lobby", text: "hello from irc" });
    await tom.output.waitFor(/^<alice> hello from irc$/);
    await tom.send("hello irc");
    // History's two lines, its own echo (echo-message), then tom's.
    const heard = await alice.event("privmsg", 4);
    assert.equal(heard.message, "hello irc");
    assert.equal(heard.nick, "tom");
    assert.equal(typeof heard.time, "number");
    const own = await alice.event("privmsg", 3);
    assert.deepEqual([own.nick, own.message], ["alice", "hello from irc"]);
    await alice.do({ op: "say", target: "tom", text: "psst" });
    await tom.output.waitFor(/psst/);
    await alice.do({ op: "quit", text: "bye" });
    await alice.event("close");
    await tom.output.waitFor(/alice.*(left|quit).*bye/);
  });
});

Deno.test("irc-framework: SASL EXTERNAL with a client certificate, a failed SASL goes on as a guest, refusals as numerics", async () => {
  await withIrcServer(async (_server, dir, ircPort) => {
    await using opal = new Bot(dir);
    await opal.do({
      op: "connect",
      port: ircPort,
      nick: "opal",
      external: {
        certificate: await Deno.readTextFile(`${dir}/client-opal.pem`),
        private_key: await Deno.readTextFile(`${dir}/client-opal-key.pem`),
      },
    });
    assert.equal((await opal.event("loggedin")).account, "opal");
    await opal.event("registered");
    // Opal (an account) creates a room with a key.
    await opal.do({ op: "join", channel: "#keyed" });
    await opal.raw(/:opal!opal@tlschat JOIN #keyed/);
    await opal.do({ op: "raw", line: "MODE #keyed +k sekrit" });
    await opal.raw(/:opal!opal@tlschat MODE #keyed \+k sekrit/);
    await using mallory = new Bot(dir);
    await mallory.do({
      op: "connect",
      port: ircPort,
      nick: "mallory",
      account: { account: "alice", password: "wrong" },
    });
    await mallory.event("sasl failed");
    await mallory.raw(/ 904 /);
    assert.equal((await mallory.event("registered")).nick, "mallory");
    await mallory.do({ op: "join", channel: "#keyed" });
    await mallory.raw(/ 475 mallory #keyed :/);
    await mallory.do({ op: "join", channel: "#keyed", key: "sekrit" });
    await mallory.raw(/:mallory!mallory@tlschat JOIN #keyed/);
    await opal.raw(/:mallory!mallory@tlschat JOIN #keyed/);
    await mallory.do({ op: "raw", line: "KICK #keyed opal :no" });
    await mallory.raw(/ 482 mallory #keyed :/);
    await mallory.do({ op: "raw", line: "NICK opal" });
    await mallory.raw(/ 433 mallory opal :/);
    await mallory.do({ op: "raw", line: "FROB x" });
    await mallory.raw(/ 421 mallory FROB :Unknown command/);
    await opal.do({ op: "raw", line: "KICK #keyed mallory :out" });
    await mallory.raw(/:opal!opal@tlschat KICK #keyed mallory :out/);
  });
});

Deno.test("server.ts exits 1 naming --irc-port when the IRC door's address is in use", async () => {
  await withTempDir(async (dir) => {
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const busy = await new Deno.Command("deno", {
      args: denoRun("server.ts", serverPermissions(dir), [
        ...loopbackArgs(dir),
        "--irc-port",
        String(taken.addr.port),
      ]),
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(10_000),
    }).output();
    assert.equal(busy.code, 1, "exits 1 within 10 s");
    assert.match(
      new TextDecoder().decode(busy.stderr),
      new RegExp(
        `Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port} \\(--irc-port, the IRC door\\): the address is in use`,
      ),
    );
  });
});
