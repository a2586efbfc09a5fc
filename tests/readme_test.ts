/**
 * Tests that the README stays true: every command in its shell blocks runs
 * as written in a fresh copy of the repository (servers on the README's own
 * ports, one at a time, until they log `listening`; clients against them;
 * the tools to completion), its openssl recipe makes certificates the
 * server can serve, its permission table matches `deno.json`, and its flag
 * tables match what `--help` prints.
 *
 * The README's ports are fixed (7443, 7444, ...; Redis on 6379): the test
 * fails at once, naming the port, when something else holds one.
 */

import assert from "node:assert/strict";
import {
  assertServesTls,
  LineLog,
  ROOT,
  runCommand,
  TerminalClient,
  withTempDir,
} from "./_helpers.ts";

const readme = await Deno.readTextFile(`${ROOT}README.md`);
const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as {
  tasks: Record<string, string>;
};

/** The marker of the openssl recipe, tested on its own below. */
const OPENSSL_MARKER = "<!-- openssl-dev-certs -->";

/** Every port the README's commands listen on. */
const README_PORTS = [7443, 7444, 7453, 7454, 7463, 7464, 6379, 9464];

/** A command of the README, and the variable assignments before it. */
interface Command {
  /** As written (continuation lines joined, comment dropped). */
  readonly script: string;
  /** With runs of spaces as one, to match and to name it. */
  readonly text: string;
  readonly prelude: string;
}

/** The commands of the README's `sh` blocks, in order (but the openssl recipe). */
function readmeCommands(): Command[] {
  const commands: Command[] = [];
  for (const block of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const before = readme.slice(0, block.index).trimEnd();
    if (before.endsWith(OPENSSL_MARKER)) continue;
    const assignments: string[] = [];
    for (const line of block[1]!.replace(/\\\n/g, " ").split("\n")) {
      const script = withoutComment(line).trim();
      if (script === "") continue;
      if (/^[A-Z_]+=/.test(script)) assignments.push(script);
      else {
        const text = script.replace(/\s+/g, " ");
        commands.push({ script, text, prelude: assignments.join("; ") });
      }
    }
  }
  return commands;
}

Deno.test("every documented way to start the server caps V8's young generation as deno task server does", () => {
  // Memory per idle member (docs/performance.md): the joins' garbage would
  // otherwise grow the young generation to 16 MB per semi-space.
  const flags = /--v8-flags=(\S+)/.exec(config.tasks.server!)?.[0];
  assert.ok(flags, "deno task server has --v8-flags");
  assert.match(flags, /--max-semi-space-size=\d+/);
  assert.ok(config.tasks["compile:server"]!.includes(flags), "compile:server");
  const launches = [
    ...readmeCommands()
      .filter((c) => /\b(server\.ts|chat-server\.js)\b/.test(c.script))
      .map((c) => `${c.prelude} ${c.script}`),
    // Commands in the text, such as the one for other addresses or files.
    ...[...readme.matchAll(/`(deno run [^`]*server\.ts[^`]*)`/g)].map((m) =>
      m[1]!
    ),
  ];
  assert.ok(launches.length >= 5, "the README's own server commands");
  for (const launch of launches) {
    assert.ok(launch.includes(flags), `${flags} in: ${launch}`);
  }
});

/** A shell line without its trailing `# comment` (quotes respected). */
function withoutComment(line: string): string {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== "") {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) {
      return line.slice(0, i);
    }
  }
  return line;
}

/** How the test runs one README command. */
type Step =
  /** A server: started, awaited until it listens, stopped by the next. */
  | { kind: "server"; name: string; web?: boolean; redis?: boolean }
  /** Run to completion (exit 0) with `stdin`; its output must match. */
  | { kind: "run"; stdin?: string; expect?: RegExp; against?: string }
  /** Run on a terminal: wait for each pattern, then type its keys. */
  | {
    kind: "terminal";
    dialog: ReadonlyArray<readonly [RegExp, string]>;
    against?: string;
  }
  | { kind: "skip"; why: string };

const PASSWORD = "a long shared passphrase";

/**
 * Every README command, in order, by how it begins, and how it is run.
 * A client runs against the server named by `against`, else the last one.
 */
const PLAN: ReadonlyArray<readonly [string, Step]> = [
  ["deno task server", { kind: "server", name: "open", web: true }],
  ["deno task test", { kind: "skip", why: "the suite this test is part of" }],
  ["deno task client", {
    kind: "terminal",
    dialog: [
      [/Alias: /, "dave\r"],
      [/dave> /, "hello from a terminal\r"],
      [/<dave> hello from a terminal/, "/quit\r"],
    ],
  }],
  ["deno task client --alias bob", {
    kind: "terminal",
    dialog: [[/bob> /, "hi\r"], [/<bob> hi/, "/quit\r"]],
  }],
  ["printf 'build finished\\n' | deno task client --alias ci-bot", {
    kind: "run",
    expect: /^<ci-bot> build finished$/m,
  }],
  ["seq 1 1000 | deno task client", {
    kind: "skip",
    why: "1,000 lines at 5 a second take 200 s; the pipe is run just above, " +
      "the pacing by tests/client/client_test.ts",
  }],
  ["deno task client --alias bob --room '#ops'", {
    kind: "terminal",
    dialog: [[/bob #ops> /, "hi\r"], [/#ops <bob> hi/, "/quit\r"]],
  }],
  ["printf '/join #ops\\ndeploy done\\n' | deno task client --alias ci-bot", {
    kind: "run",
    expect: /^#ops <ci-bot> deploy done$/m,
  }],
  ["mkdir -p data && printf", { kind: "run" }],
  ["chmod 600 data/room-password", { kind: "run" }],
  ["deno task server --password-file data/room-password", {
    kind: "server",
    name: "password",
  }],
  ["deno task client", {
    kind: "terminal",
    dialog: [
      [/Alias: /, "erin\r"],
      [/Password: /, `${PASSWORD}\r`],
      [/erin> /, "/quit\r"],
    ],
  }],
  ["printf 'hi\\n' | deno task client --alias bot --password-file", {
    kind: "run",
    expect: /^<bot> hi$/m,
  }],
  ["deno task users add alice", { kind: "run", stdin: "alice's secret\n" }],
  ["deno task users op alice", { kind: "run" }],
  ["deno task users add bob", { kind: "run", stdin: "bob's secret\n" }],
  ["deno task users list", { kind: "run", expect: /alice[\s\S]*bob/ }],
  ["deno task server --accounts-only", { kind: "server", name: "accounts" }],
  ["deno task certs client alice", {
    kind: "run",
    expect: /certs\/client-alice\.pem/,
  }],
  ["deno task users pin alice certs/client-alice.pem", {
    kind: "run",
    expect: /only, never with a password/,
  }],
  ["deno task server --client-ca certs/ca.pem --client-cert require", {
    kind: "server",
    name: "certificates",
  }],
  [
    "deno run --allow-net=localhost:7443 --allow-read=certs/ca.pem,certs/client-alice.pem",
    {
      kind: "run",
      stdin: "in by certificate\n",
      expect: /^<alice> in by certificate$/m,
    },
  ],
  ["deno task history export", { kind: "run", expect: /build finished/ }],
  ["deno task history export --since 2026-11-01", {
    kind: "run",
    expect: /in by certificate/,
  }],
  ["deno task history export --format text > room.log", { kind: "run" }],
  ["deno run --allow-net=chat.example:7443", {
    kind: "skip",
    why: "chat.example stands for another host",
  }],
  ["openssl s_client -quiet -connect localhost:7443", {
    kind: "run",
    against: "open",
    stdin: "frank\nby hand with openssl\n/quit\n",
    expect: /^MSG frank by hand with openssl$/m,
  }],
  ["ncat --ssl --ssl-verify --ssl-trustfile certs/ca.pem localhost 7443", {
    kind: "run",
    against: "open",
    stdin: "gina\nby hand with ncat\n/quit\n",
    expect: /^MSG gina by hand with ncat$/m,
  }],
  ["deno task server --room-create any", { kind: "server", name: "rooms" }],
  ["printf '/cap rooms\\nhal\\n/join #ops", {
    kind: "run",
    against: "rooms",
    expect: /^#ops MSG hal deploy done$/m,
  }],
  ["sudo apt-get install redis-server", {
    kind: "skip",
    why: "installs a package (the test starts its own redis-server on 6379)",
  }],
  ["redis-cli CONFIG SET appendonly yes", { kind: "run", against: "redis" }],
  ["deno task certs --san chat.example", { kind: "run" }],
  ["$RUN --allow-net=0.0.0.0:7443,0.0.0.0:7444,127.0.0.1:6379", {
    kind: "server",
    name: "cluster-1",
    redis: true,
  }],
  ["$RUN --allow-net=0.0.0.0:7453,0.0.0.0:7454,127.0.0.1:6379", {
    kind: "server",
    name: "cluster-2",
    redis: true,
  }],
  ["$RUN --allow-net=0.0.0.0:7463,0.0.0.0:7464,127.0.0.1:6379", {
    kind: "server",
    name: "cluster-3",
    redis: true,
  }],
  [
    "deno run --v8-flags=--max-semi-space-size=4 --allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE,REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS --allow-net=0.0.0.0:7443,0.0.0.0:7444,127.0.0.1:9464",
    { kind: "server", name: "metrics" },
  ],
  ["curl -s http://127.0.0.1:9464/metrics | promtool check metrics", {
    kind: "run",
  }],
  ["curl -s http://127.0.0.1:9464/readyz", { kind: "run", expect: /^ready$/m }],
  ["deno task bundle", { kind: "run" }],
  ["deno task compile", {
    kind: "skip",
    why: "deno compile downloads denort, which cannot be reached here",
  }],
  [
    "deno run --v8-flags=--max-semi-space-size=4 --allow-env=WS_NO_BUFFER_UTIL",
    {
      kind: "server",
      name: "bundle",
    },
  ],
  [
    "deno run --allow-net=localhost:7443 --allow-read=certs/ca.pem dist/chat-client.js",
    {
      kind: "run",
      stdin: "hello from the bundle\n",
      expect: /^<carol> hello from the bundle$/m,
    },
  ],
];

/** How long a command may take, or a server to start. */
const COMMAND_TIMEOUT_MS = 30_000;

/** How long a server may run at most, should the test hang. */
const SERVER_TIMEOUT_S = 300;

/**
 * Arguments of `bash` that run `script` in a process group of its own
 * under coreutils `timeout`: a signal to it, or the deadline, reaches
 * every process of the command (`deno task` and its child, each side of a
 * pipe), so none is left holding a port or an output pipe.
 */
function inGroup(script: string, seconds: number): string[] {
  return [
    "-c",
    `exec timeout -k 5 ${seconds} bash -c "$0"`,
    script,
  ];
}

/** A long-running README command (a server, Redis), in a shell. */
class Background implements AsyncDisposable {
  readonly output = new LineLog();
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<void>;

  constructor(script: string, cwd: string) {
    this.#child = new Deno.Command("bash", {
      args: inGroup(script, SERVER_TIMEOUT_S),
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const read = async (stream: ReadableStream<Uint8Array>) => {
      let partial = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop()!;
        for (const line of lines) this.output.push(line);
      }
      if (partial !== "") this.output.push(partial);
    };
    this.#reading = Promise.all([
      read(this.#child.stdout),
      read(this.#child.stderr),
    ]).then(() => {});
  }

  /** Resolves once a line matches; fails if the process exits first. */
  async ready(pattern: RegExp): Promise<void> {
    const exited = this.#child.status.then((status) => {
      throw new Error(`Exited (${status.code}) before printing ${pattern}`);
    });
    exited.catch(() => {}); // Only matters while starting.
    const started = new AbortController(); // no timer left behind
    try {
      await Promise.race([
        this.output.waitFor(pattern, {
          timeoutMs: COMMAND_TIMEOUT_MS,
          signal: started.signal,
        }),
        exited,
      ]);
    } finally {
      started.abort();
    }
  }

  /** Sends SIGTERM and resolves to the exit code. */
  async stop(): Promise<number> {
    this.#signal("SIGTERM");
    const { code } = await this.#child.status;
    await this.#reading;
    return code;
  }

  /**
   * Stops it however it went: SIGTERM first (`deno task` passes it on to
   * its child, where SIGKILL would leave the child running and holding
   * the README's ports), SIGKILL only if it is still there 10 s later.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    const timer = setTimeout(() => this.#signal("SIGKILL"), 10_000);
    this.#signal("SIGTERM");
    await this.#child.status;
    clearTimeout(timer);
    await this.#reading;
  }

  #signal(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // Exited already.
    }
  }
}

/** Runs a command in a shell to completion; returns its code and output. */
async function runShell(script: string, cwd: string, stdin: string) {
  const child = new Deno.Command("bash", {
    args: inGroup(script, COMMAND_TIMEOUT_MS / 1000),
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, out: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** Copies what a clone of the repository holds (tracked and new files). */
async function copyRepository(to: string): Promise<void> {
  const listed = await runShell(
    "git ls-files -z --cached --others --exclude-standard",
    ROOT,
    "",
  );
  assert.equal(listed.code, 0, `Cannot list the repository: ${listed.out}`);
  for (const file of listed.out.split("\0").filter((f) => f !== "")) {
    const target = `${to}/${file}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), {
      recursive: true,
    });
    try {
      await Deno.copyFile(`${ROOT}${file}`, target);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e; // deleted, uncommitted
    }
  }
}

/** Fails, naming the port, when one of the README's ports is taken. */
function assertPortsFree(): void {
  for (const port of README_PORTS) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
      assert.fail(
        `Port ${port} is in use: this test runs the README's commands on the README's ports (${
          README_PORTS.join(", ")
        }); stop what listens there and run it again`,
      );
    }
  }
}

/**
 * What runs in the copy: one README server at a time (by the name its step
 * gives it), and Redis on the README's port once a step needs it.
 */
class Stage implements AsyncDisposable {
  readonly #dir: string;
  readonly #clone: string;
  readonly #started = new Map<string, Command>();
  #server: { name: string; process: Background } | null = null;
  #redis: Background | null = null;

  constructor(dir: string, clone: string) {
    this.#dir = dir;
    this.#clone = clone;
  }

  /** Stops the running server, then starts `command` until it listens. */
  async start(name: string, command: Command): Promise<void> {
    await this.stop();
    this.#started.set(name, command);
    const process = new Background(
      `${command.prelude}\nexec ${command.script}`,
      this.#clone,
    );
    this.#server = { name, process };
    await process.ready(/ INFO listening /);
  }

  /** Makes the server started earlier as `name` the running one. */
  async use(name: string): Promise<void> {
    if (this.#server?.name === name) return;
    await this.start(name, this.#started.get(name)!);
  }

  /** Stops the running server, which must exit 0 (a graceful shutdown). */
  async stop(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    const code = await server.process.stop();
    assert.equal(code, 0, `${server.name}: ${server.process.output}`);
  }

  /** Starts a redis-server on 6379, with a config file to rewrite. */
  async redis(): Promise<void> {
    if (this.#redis !== null) return;
    await Deno.writeTextFile(`${this.#dir}/redis.conf`, "");
    this.#redis = new Background(
      `exec redis-server redis.conf --bind 127.0.0.1 --port 6379 --save ''`,
      this.#dir,
    );
    await this.#redis.ready(/Ready to accept connections/);
  }

  /** Adds the running server's output to an error's message. */
  annotate(e: unknown): unknown {
    if (e instanceof Error && this.#server !== null) {
      e.message +=
        `\n--- ${this.#server.name} server output ---\n${this.#server.process.output}`;
    }
    return e;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server?.process[Symbol.asyncDispose]();
    await this.#redis?.[Symbol.asyncDispose]();
  }
}

Deno.test("every README command runs as written in a fresh copy of the repository", async (t) => {
  const commands = readmeCommands();
  const unplanned = commands.slice(PLAN.length).map((c) => c.text);
  assert.deepEqual(unplanned, [], "README commands the test does not run");
  assert.equal(commands.length, PLAN.length, "PLAN names a command no more");
  assertPortsFree();
  await withTempDir(async (dir) => {
    const clone = `${dir}/tlschat`;
    await copyRepository(clone);
    await using stage = new Stage(dir, clone);
    for (const [index, [begins, step]] of PLAN.entries()) {
      const command = commands[index]!;
      assert.ok(
        command.text.startsWith(begins),
        `README command ${
          index + 1
        } is "${command.text}", the test expects "${begins}..."`,
      );
      // The commands build on one another: stop at the first that fails.
      const passed = await t.step({
        name: command.text.slice(0, 100),
        ignore: step.kind === "skip",
        fn: async () => {
          try {
            await runStep(step, command, clone, stage);
          } catch (e) {
            throw stage.annotate(e);
          }
        },
      });
      if (!passed && step.kind !== "skip") return;
    }
    await stage.stop();
    assert.match(
      await Deno.readTextFile(`${clone}/room.log`),
      /<ci-bot> build finished/,
    );
  });
});

/** Runs one README command in the copy as its step says. */
async function runStep(
  step: Step,
  command: Command,
  clone: string,
  stage: Stage,
): Promise<void> {
  if (step.kind === "skip") return;
  if (step.kind === "server") {
    if (step.redis) await stage.redis();
    await stage.start(step.name, command);
    if (step.web) await assertWebDoor(clone);
    return;
  }
  if (step.against === "redis") await stage.redis();
  else if (step.against !== undefined) await stage.use(step.against);
  if (step.kind === "run") {
    const { code, out } = await runShell(
      `${command.prelude}\n${command.script}`,
      clone,
      step.stdin ?? "",
    );
    assert.equal(code, 0, out);
    if (step.expect) assert.match(out, step.expect);
    return;
  }
  await using term = new TerminalClient([], [], "NO_COLOR=1", {
    shell: command.script,
    cwd: clone,
  });
  let at = 0;
  for (const [pattern, keys] of step.dialog) {
    at = await term.waitFor(pattern, at, COMMAND_TIMEOUT_MS);
    await term.type(keys);
  }
  assert.equal(await term.exited(), 0, term.text);
}

/** The web door of a README server answers on 7444 with the page. */
async function assertWebDoor(clone: string): Promise<void> {
  const ca = await Deno.readTextFile(`${clone}/certs/ca.pem`);
  using client = Deno.createHttpClient({ caCerts: [ca] });
  const page = await fetch("https://localhost:7444/", {
    client,
    signal: AbortSignal.timeout(COMMAND_TIMEOUT_MS),
  });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<!doctype html>/i);
}

Deno.test("a task run first in a fresh copy prints only its own output: no npm lifecycle-script warning", async () => {
  // irc-framework (the tests' IRC client) depends on core-js, whose
  // postinstall script only prints a banner; without a decision in
  // deno.json, Deno printed a "Warning: Ignored build scripts for packages:
  // npm:core-js" box before the first task of every new copy.
  await withTempDir(async (dir) => {
    await copyRepository(dir);
    // users add: the other commands refuse a data directory without a
    // database, which a fresh copy has not.
    const { code, out } = await runShell(
      "deno task users add alice",
      dir,
      "a long password\n",
    );
    assert.equal(code, 0, out);
    assert.match(out, /^Added alice$/m);
    assert.doesNotMatch(out, /Warning|build scripts|core-js/, out);
  });
});

Deno.test("every data directory the README's commands make is git-ignored, as the README says", async () => {
  // The cluster's servers each have their own (data-1, ...): a clone that
  // ran them must not show a database or its journal as a new file.
  const dirs = new Set(["data"]);
  for (const { script, prelude } of readmeCommands()) {
    for (
      const [, dir] of `${prelude} ${script}`.matchAll(/--data-dir (\S+)/g)
    ) {
      dirs.add(dir!);
    }
  }
  assert.ok(dirs.has("data-3"), "the README's cluster");
  for (const dir of dirs) {
    const { code } = await runShell(
      `git check-ignore -q '${dir}/chat.db'`,
      ROOT,
      "",
    );
    assert.equal(code, 0, `${dir}/ is not git-ignored`);
  }
});

Deno.test("README openssl recipe makes certificates that Deno serves and trusts", async () => {
  const block = new RegExp(`${OPENSSL_MARKER}\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\``)
    .exec(readme);
  assert.ok(block, "the README has the openssl recipe");
  await withTempDir(async (dir) => {
    const { code, stderr } = await new Deno.Command("bash", {
      args: ["-euo", "pipefail", "-c", block[1]!],
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const read = (name: string) => Deno.readTextFile(`${dir}/certs/${name}`);
    await assertServesTls(
      { cert: await read("server.pem"), key: await read("server-key.pem") },
      await read("ca.pem"),
    );
    for (const key of ["ca-key.pem", "server-key.pem"]) {
      assert.equal(
        (await Deno.stat(`${dir}/certs/${key}`)).mode! & 0o777,
        0o600,
      );
    }
  });
});

Deno.test("deno task compile carries the permissions of deno task server and client", () => {
  // The README says so, and a compiled binary cannot be given more flags:
  // a file or variable its task may use would be refused to the binary.
  for (const role of ["server", "client"]) {
    const task = config.tasks[role]!;
    const compiled = config.tasks[`compile:${role}`]!;
    for (const [flag] of task.matchAll(/--allow-[a-z]+(=\S+)?/g)) {
      const name = flag.split("=")[0]!;
      assert.ok(
        compiled.includes(flag) || compiled.split(" ").includes(name),
        `compile:${role} lacks ${flag}: ${compiled}`,
      );
    }
  }
});

Deno.test("README permission table matches the tasks, and only the browser tests use -A", () => {
  for (const [name, command] of Object.entries(config.tasks)) {
    // Playwright needs -A under Deno: the browser tests alone get it.
    const rest = command.replace(
      "deno test -A tests/browser/web_browser.ts",
      "",
    );
    assert.doesNotMatch(rest, /(^|\s)(-A|--allow-all)(\s|$)/, name);
  }
  const rows = [...readme.matchAll(/^\| `deno task (\w+)`\s*\| `([^`]+)`/gm)];
  assert.ok(rows.length >= 5, "the README lists the tasks' permissions");
  for (const [, task, flags] of rows) {
    const command = config.tasks[task!];
    assert.ok(command, `deno.json has task ${task}`);
    for (const flag of flags!.split(" ")) {
      assert.ok(command.includes(flag), `${task}: ${flag}`);
    }
  }
  assert.match(readme, /^deno task test /m, "the README's test command");
});

/** A flag table's rows: the flag as `--help` writes it, and its default. */
type FlagRows = [flag: string, defaultValue: string][];

/** The rows of the README's table after `heading` (a line starting it). */
function readmeFlags(heading: string): FlagRows {
  const after = readme.split(`\n${heading}`)[1] ?? "";
  const table = after.split("\n\n")[1] ?? "";
  return [...table.matchAll(/^\| `(--[^`]+)`\s*\| ([^|]*?)\s*\|/gm)]
    .map(([, flag, value]) => [flag!, value!.replace(/^`(.*)`$/, "$1")]);
}

/** The rows `--help` prints: "—" (or "off", a switch) when no default. */
async function helpFlags(script: string): Promise<FlagRows> {
  const { code, out } = await runCommand("deno", ["run", script, "--help"]);
  assert.equal(code, 0, out);
  return [...out.matchAll(/^ {2}(--\S+(?: \S+)?)(?: {2,}(.*))?$/gm)]
    .map(([, flag, help = ""]) => {
      const value = /\(default ([^)]*)\)$/.exec(help)?.[1];
      return [flag!, value ?? (flag!.includes(" ") ? "—" : "off")];
    });
}

Deno.test("README flag tables list what --help prints: every flag, its value and default, in order", async () => {
  for (
    const [heading, script] of [
      ["Server flags", "server.ts"],
      ["Client flags", "client.ts"],
    ]
  ) {
    const help = await helpFlags(script!);
    assert.ok(help.length > 5, `${script} --help lists its flags`);
    assert.deepEqual(readmeFlags(heading!), help, heading);
  }
});
