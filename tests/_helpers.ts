/**
 * Test helpers: certificates generated once per test module, an in-process
 * server on a real TLS listener (port 0, either engine), a line-oriented TLS
 * test client (directly, or behind a PROXY protocol header as a load
 * balancer sends it), a WebSocket spoken by hand, and child-process runners
 * for `server.ts` and `client.ts` that attach the child's output to a
 * failing assertion.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type CertificatePair,
  generateCa,
  issueServerCertificate,
} from "../lib/cert_authority.ts";
import { connectToServer, ServerConnection } from "../lib/client/connection.ts";
import { createLogger } from "../lib/log.ts";
import { type ChatServer, serveChat } from "../lib/server/chat_server.ts";
import type { ServerConfig } from "../lib/server/config.ts";
import { parseServerArgs } from "../lib/server/server_args.ts";
import { TLS_ENGINES, type TlsEngine } from "../lib/server/server_flags.ts";
import type { Store } from "../lib/server/storage/store.ts";
import { openWebDoor, webLimits } from "../lib/server/doors/web_door.ts";
import { type Clock, systemClock } from "../lib/clock.ts";
import { listenTls } from "../lib/server/doors/transport.ts";

/** Both TLS engines: server tests run once per engine. */
export const ENGINES: readonly TlsEngine[] = TLS_ENGINES;

/** Root of the repository. */
export const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** How long a test waits for an expected event before failing. */
export const WAIT_MS = 5000;

/** A test CA and a server certificate for localhost, 127.0.0.1 and ::1. */
export interface TestCertificates {
  readonly ca: CertificatePair;
  readonly server: CertificatePair;
}

let certificates: Promise<TestCertificates> | undefined;

/** Certificates generated once per test module (per process). */
export function testCertificates(): Promise<TestCertificates> {
  certificates ??= (async () => {
    const ca = await generateCa("tlschat test CA");
    const server = await issueServerCertificate(ca, [
      "localhost",
      "127.0.0.1",
      "::1",
    ]);
    return { ca, server };
  })();
  return certificates;
}

/** Writes the test certificates into `dir` in the server's layout. */
export async function writeTestCertificates(dir: string): Promise<void> {
  const { ca, server } = await testCertificates();
  await Deno.writeTextFile(`${dir}/ca.pem`, ca.cert);
  await Deno.writeTextFile(`${dir}/server.pem`, server.cert);
  await Deno.writeTextFile(`${dir}/server-key.pem`, server.key, {
    mode: 0o600,
  });
}

/** An in-process server with its captured log lines. */
export interface TestServer extends AsyncDisposable {
  readonly server: ChatServer;
  readonly port: number;
  /** The web door's port, when started with `web`. */
  readonly webPort: number;
  /** The IRC door's port, when started with `irc`. */
  readonly ircPort: number;
  readonly hostname: string;
  readonly logs: LineLog;
  readonly config: ServerConfig;
}

/** Options of {@linkcode startServer} that are not flags. */
export interface StartServerOptions {
  /** The room password (the role reads it from --password-file). */
  readonly roomPassword?: string | null;
  /** Ask for client certificates signed by this CA (node engine). */
  readonly clientCa?: { readonly ca: string; readonly require: boolean };
  /** A data directory's store; default: a fresh one in memory. */
  readonly store?: Store;
  /** Also open the web door (HTTPS and WebSocket) on a free port. */
  readonly web?: { readonly origins?: readonly string[] };
  /** Also open the IRC door on a free port. */
  readonly irc?: boolean;
  /**
   * The server's clock (a `FakeClock`: its time moves only when the test
   * says, for outcomes that depend on time). @default {systemClock}
   */
  readonly clock?: Clock;
}

/**
 * Starts a server on 127.0.0.1 port 0 with the given extra flags (flood
 * control and the per-IP cap are off unless flags turn them on).
 */
export async function startServer(
  engine: TlsEngine,
  flags: string[] = [],
  options: StartServerOptions = {},
): Promise<TestServer> {
  const { server: pair } = await testCertificates();
  const config: ServerConfig = {
    ...parseServerArgs([
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--flood-rate",
      "0",
      "--max-per-ip",
      "0",
      "--log-level",
      "debug",
      "--tls-engine",
      engine,
      "--shutdown-grace",
      "1",
      ...flags,
    ]),
  };
  const listen = (port: number) =>
    listenTls({
      hostname: config.hostname,
      port,
      cert: pair.cert,
      key: pair.key,
      engine,
      maxInputBytes: config.maxInputBytes,
      clientCa: options.clientCa ?? null,
      trustedProxies: config.trustedProxies,
    });
  const listener = await listen(config.port);
  const irc = options.irc ? await listen(0) : undefined;
  const logs = new LineLog();
  const log = createLogger(config.logLevel, (line) => logs.push(line));
  const server = serveChat(listener, {
    config,
    log,
    roomPassword: options.roomPassword ?? null,
    store: options.store,
    irc,
    clock: options.clock,
  });
  const web = options.web === undefined ? null : await openWebDoor({
    hostname: config.hostname,
    port: 0,
    cert: pair.cert,
    key: pair.key,
    hsts: false,
    origins: options.web.origins ?? [],
    ...webLimits(config),
    clientCa: options.clientCa ?? null,
    admission: server.admission,
    clock: options.clock ?? systemClock,
    log,
    admit: (connection, entry) => server.admit(connection, entry),
    health: () => ({
      status: server.stopping ? "stopping" : "ok",
      online: server.room.size,
    }),
  });
  return {
    server,
    logs,
    config,
    port: server.addr.port,
    webPort: web?.addr.port ?? 0,
    ircPort: irc?.addr.port ?? 0,
    hostname: config.hostname,
    [Symbol.asyncDispose]: async () => {
      await server.close();
      await web?.close();
    },
  };
}

/**
 * Lines that arrive over time (a server's log, a child's output), with
 * waiting for a line that matches: each new line wakes the waiters, so
 * nothing polls or sleeps.
 */
export class LineLog {
  readonly lines: string[] = [];
  #waiters = new Set<() => boolean>();

  /** Adds a line and wakes the waiters it satisfies. */
  push(line: string): void {
    this.lines.push(line);
    for (const waiter of this.#waiters) {
      if (waiter()) this.#waiters.delete(waiter);
    }
  }

  /**
   * Resolves with the first line (past or future) matching `pattern`, or
   * with the `count`th one; rejects once `signal` aborts (its timer gone).
   */
  async waitFor(
    pattern: RegExp,
    options: { count?: number; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<string> {
    const { count = 1, timeoutMs = WAIT_MS, signal } = options;
    const found = () =>
      this.lines.filter((line) => pattern.test(line))[count - 1];
    const now = found();
    if (now !== undefined) return now;
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    const waiter = () => {
      const line = found();
      if (line !== undefined) resolve(line);
      return line !== undefined;
    };
    this.#waiters.add(waiter);
    const timer = setTimeout(() => {
      this.#waiters.delete(waiter);
      reject(
        new Error(
          `No ${
            count === 1 ? "line" : `${count} lines`
          } matching ${pattern} within ${timeoutMs} ms:\n${
            this.lines.join("\n")
          }`,
        ),
      );
    }, timeoutMs);
    const abort = () => {
      this.#waiters.delete(waiter);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", abort);
    try {
      return await promise;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
    }
  }

  /** Every line, newline-separated. */
  toString(): string {
    return this.lines.join("\n");
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A chat connection for tests: the client's own {@linkcode ServerConnection}
 * (unpaced), with reading under deadlines and a record of every line.
 */
export class TestClient implements Disposable {
  readonly server: ServerConnection;
  /** Every line received so far, in order. */
  readonly received: string[] = [];
  #pending: Promise<string | null> | null = null;
  #ended = false;

  private constructor(server: ServerConnection) {
    this.server = server;
  }

  /** The TLS connection under it (to close it abruptly). */
  get conn(): Deno.TlsConn {
    return this.server.conn;
  }

  /**
   * Connects to a test server and completes the handshake, trusting `ca`
   * (default: the test CA).
   */
  static async connect(
    port: number,
    hostname = "127.0.0.1",
    ca?: string,
    identity?: { cert: string; key: string },
  ): Promise<TestClient> {
    const pem = ca ?? (await testCertificates()).ca.cert;
    return new TestClient(
      await connectToServer({
        hostname,
        port,
        ca: { file: null, pem },
        identity: identity ?? null,
      }),
    );
  }

  /**
   * Connects, reads the greeting and joins as `alias`, giving `password`
   * when the server asks for one.
   */
  static async join(
    port: number,
    alias: string,
    options: {
      hostname?: string;
      ca?: string;
      password?: string;
      identity?: { cert: string; key: string };
    } = {},
  ): Promise<TestClient> {
    const client = await TestClient.connect(
      port,
      options.hostname,
      options.ca,
      options.identity,
    );
    await client.expect(/^HELLO /);
    await client.send(alias);
    if (options.password !== undefined) {
      await client.expect(/^PASSWORD /);
      await client.send(`/pass ${options.password}`);
    }
    await client.expect(new RegExp(`^WELCOME ${alias} `));
    return client;
  }

  /**
   * Connects as a load balancer does: TCP, then `header` (a PROXY protocol
   * header naming some client), then the TLS handshake.
   */
  static async viaProxy(
    port: number,
    header: string | Uint8Array,
  ): Promise<TestClient> {
    return new TestClient(
      new ServerConnection(await connectTls(port, header)),
    );
  }

  /** Sends one line (LF appended) or raw bytes. */
  send(line: string | Uint8Array): Promise<void> {
    return this.server.send(line);
  }

  /** Next line, or null at the end of the stream; fails after `timeoutMs`. */
  async readLine(timeoutMs = WAIT_MS): Promise<string | null> {
    if (this.#ended) return null;
    this.#pending ??= this.server.readLine();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const line = await Promise.race([this.#pending, timeout]);
    clearTimeout(timer);
    if (line === "timeout") {
      assert.fail(
        `No line within ${timeoutMs} ms; received so far:\n${
          this.received.join("\n")
        }`,
      );
    }
    this.#pending = null;
    if (line === null) {
      this.#ended = true;
      return null;
    }
    this.received.push(line);
    return line;
  }

  /** Reads lines until one matches; returns it. Fails at the end of stream. */
  async expect(pattern: RegExp, timeoutMs = WAIT_MS): Promise<string> {
    while (true) {
      const line = await this.readLine(timeoutMs);
      if (line === null) {
        assert.fail(
          `Connection ended before a line matching ${pattern}; received:\n${
            this.received.join("\n")
          }`,
        );
      }
      if (pattern.test(line)) return line;
    }
  }

  /** Reads until the server closes the connection; returns the rest. */
  async readToEnd(timeoutMs = WAIT_MS): Promise<string[]> {
    const rest: string[] = [];
    while (true) {
      const line = await this.readLine(timeoutMs);
      if (line === null) return rest;
      rest.push(line);
    }
  }

  [Symbol.dispose](): void {
    this.server.close();
  }
}

/** Output of a finished child process. */
export interface ProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `deno run` arguments for a role script (relative to the repository, or an
 * absolute path) with the given permissions.
 */
export function denoRun(
  script: string,
  permissions: string[],
  args: string[],
): string[] {
  const path = script.startsWith("/") ? script : `${ROOT}${script}`;
  return ["run", "--quiet", ...permissions, path, ...args];
}

/**
 * A running `server.ts` child: resolves once it logged "listening". Its
 * output is collected; {@linkcode ServerProcess.annotate} attaches it to an
 * error.
 */
export class ServerProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  port = 0;
  /** Everything the server printed, line by line (stdout and stderr). */
  readonly output = new LineLog();
  #reading: Promise<void>;

  private constructor(child: Deno.ChildProcess) {
    this.child = child;
    this.#reading = this.#collect();
  }

  /** Starts `server.ts` with the permissions and arguments given. */
  static async start(
    permissions: string[],
    args: string[],
    options: { cwd?: string; script?: string } = {},
  ): Promise<ServerProcess> {
    const child = new Deno.Command("deno", {
      args: denoRun(options.script ?? "server.ts", permissions, args),
      cwd: options.cwd ?? ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const server = new ServerProcess(child);
    // The wait for "listening" ends with the start, whichever way: its
    // timer left running would fail the next test (a leak).
    const started = new AbortController();
    try {
      const exited = child.status.then(() => {
        throw new Error("Server exited before listening");
      });
      exited.catch(() => {}); // Only matters while starting.
      const line = await Promise.race([
        server.output.waitFor(/INFO listening /, {
          timeoutMs: 15_000,
          signal: started.signal,
        }),
        exited,
      ]);
      server.port = Number(/port=(\d+)/.exec(line)![1]);
    } catch (e) {
      await server[Symbol.asyncDispose]();
      throw server.annotate(e);
    } finally {
      started.abort();
    }
    return server;
  }

  /** Adds the server's output to an error's message. */
  annotate(error: unknown): unknown {
    if (error instanceof Error) {
      error.message += `\n--- server output ---\n${this.output}`;
    }
    return error;
  }

  async #collect(): Promise<void> {
    const read = async (stream: ReadableStream<Uint8Array>) => {
      let partial = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop()!;
        for (const line of lines) this.output.push(line);
      }
      if (partial !== "") this.output.push(partial);
    };
    await Promise.all([read(this.child.stdout), read(this.child.stderr)]);
  }

  /** Waits for the process to exit; returns its status. */
  async exited(): Promise<Deno.CommandStatus> {
    const status = await this.child.status;
    await this.#reading;
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Exited already.
    }
    await this.exited();
  }
}

/** The ports {@linkcode freePort} handed out in this process. */
const handedOut = new Set<number>();

/**
 * A port free now on 127.0.0.1, for a server a test must know the port of
 * before it starts (`--web-port 0` means "off"), drawn below the kernel's
 * range for ephemeral ports (32768 up): between this call and the server's
 * bind, no port-0 bind or outgoing connection elsewhere on the machine can
 * be given it, only another explicit bind. A port is never handed out
 * twice in a process: two drawn before either is bound (a server's chat
 * and web ports) could otherwise be the same, both free when asked.
 */
export function freePort(): number {
  for (let tries = 0; tries < 100; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    try {
      using _listener = Deno.listen({ hostname: "127.0.0.1", port });
      handedOut.add(port);
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error("No free port between 20000 and 32000");
}

/**
 * Server flags: 127.0.0.1, port 0, dev certificates in `dir`, data in
 * `dir/data`, no web door (`--web-port` in `more` opens one), then `more`.
 */
export function loopbackArgs(dir: string, ...more: string[]): string[] {
  return [
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--certs-dir",
    dir,
    "--data-dir",
    `${dir}/data`,
    "--web-port",
    "0",
    ...more,
  ];
}

/** Permissions of a server process whose files all live in `dir`. */
export function serverPermissions(dir: string): string[] {
  return [
    "--allow-net=127.0.0.1",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
  ];
}

/** Runs a server process for the body; on failure, shows its output. */
export async function withServerProcess(
  permissions: string[],
  args: string[],
  body: (server: ServerProcess) => Promise<void>,
  options: { cwd?: string } = {},
): Promise<void> {
  await using server = await ServerProcess.start(permissions, args, options);
  try {
    await body(server);
  } catch (e) {
    throw server.annotate(e);
  }
}

/** Runs `client.ts` to completion with stdin text; returns its output. */
export async function runClient(
  permissions: string[],
  args: string[],
  stdin: string,
  env: Record<string, string> = { NO_COLOR: "1" },
  script = "client.ts",
): Promise<ProcessResult> {
  const child = new Deno.Command("deno", {
    args: denoRun(script, permissions, args),
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

/**
 * `client.ts` in pipe mode, fed stdin a line at a time: what it prints is
 * collected as it comes ({@linkcode PipeClient.output}, stdout and stderr).
 */
export class PipeClient implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly output = new LineLog();
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #reading: Promise<void>;

  /** Starts `client.ts` with the permissions and arguments given. */
  constructor(permissions: string[], args: string[]) {
    this.child = new Deno.Command("deno", {
      args: denoRun("client.ts", permissions, args),
      cwd: ROOT,
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
        for (const line of lines) this.output.push(line);
      }
      if (partial !== "") this.output.push(partial);
    };
    this.#reading = Promise.all([
      read(this.child.stdout),
      read(this.child.stderr),
    ]).then(() => {});
  }

  /** Types one line on its stdin. */
  send(line: string): Promise<void> {
    return this.#stdin.write(encoder.encode(line + "\n"));
  }

  /** Ends its stdin and waits for it to exit; returns its exit code. */
  async finish(): Promise<number> {
    await this.#stdin.close().catch(() => {});
    const { code } = await this.child.status;
    await this.#reading;
    return code;
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

// deno-lint-ignore no-control-regex -- removing terminal codes is the point
const TERMINAL_CODES = /\x1b\[[0-9;?]*[A-Za-z]|\r/g;

/**
 * `client.ts` on a real pseudo-terminal (util-linux `script`), driven by
 * writing keystrokes and waiting for output.
 */
export class TerminalClient implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** Raw terminal output, escape codes included. */
  raw = "";
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #changed = Promise.withResolvers<void>();
  #reading: Promise<void>;

  /**
   * Starts the client in a 100x30 terminal; `env` is prefixed to its
   * command. With `options.shell`, runs that shell command (in
   * `options.cwd`) instead.
   */
  constructor(
    permissions: string[],
    args: string[],
    env = "NO_COLOR=1",
    options: { shell?: string; cwd?: string } = {},
  ) {
    const command = options.shell ??
      ["deno", ...denoRun("client.ts", permissions, args)]
        .map((word) => `'${word}'`).join(" ");
    const child = new Deno.Command("script", {
      args: [
        "-qfec",
        `stty cols 100 rows 30; exec env ${env} TERM=xterm ${command}`,
        "/dev/null",
      ],
      cwd: options.cwd ?? ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    this.#writer = child.stdin.getWriter();
    this.#reading = (async () => {
      for await (
        const chunk of child.stdout.pipeThrough(new TextDecoderStream())
      ) {
        this.raw += chunk;
        this.#changed.resolve();
        this.#changed = Promise.withResolvers();
      }
      this.#changed.resolve();
    })();
    child.stderr.cancel();
  }

  /** Output with cursor and colour codes removed. */
  get text(): string {
    return this.raw.replace(TERMINAL_CODES, "");
  }

  /** Types keys into the terminal. */
  async type(keys: string): Promise<void> {
    await this.#writer.write(encoder.encode(keys));
  }

  /**
   * Waits until the visible text after offset `from` matches; returns the
   * offset after the match, to wait for what comes next.
   */
  async waitFor(
    pattern: RegExp,
    from = 0,
    timeoutMs = WAIT_MS,
  ): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const rest = this.text.slice(from);
      const match = pattern.exec(rest);
      if (match) return from + match.index + match[0].length;
      const left = deadline - Date.now();
      if (left <= 0) {
        assert.fail(
          `Terminal never showed ${pattern}; it shows:\n${this.text}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#changed.promise,
        new Promise((resolve) => timer = setTimeout(resolve, left)),
      ]);
      clearTimeout(timer);
    }
  }

  /** Waits for the client to exit; returns its exit code. */
  async exited(): Promise<number> {
    const { code } = await this.child.status;
    await this.#reading;
    return code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#writer.close().catch(() => {});
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Exited already.
    }
    await this.exited();
  }
}

/** Runs `body` with a fresh temporary directory, removed afterwards. */
export async function withTempDir<T>(
  body: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs `body` with the test CA in a file and client.ts's permissions and
 * flags for 127.0.0.1:`port` (then `extra` flags).
 */
export function withClientFlags<T>(
  port: number,
  body: (permissions: string[], flags: string[]) => Promise<T>,
  extra: readonly string[] = [],
): Promise<T> {
  return withTempDir(async (dir) => {
    const caFile = `${dir}/ca.pem`;
    await Deno.writeTextFile(caFile, (await testCertificates()).ca.cert);
    return await body(
      [`--allow-net=127.0.0.1:${port}`, `--allow-read=${caFile}`],
      ["--host", "127.0.0.1", "--port", String(port), "--ca", caFile, ...extra],
    );
  });
}

/** Runs a command to completion with `stdin`; returns its exit code and output. */
export async function runCommand(
  command: string,
  args: string[],
  stdin = "",
): Promise<{ code: number; out: string }> {
  const child = new Deno.Command(command, {
    args,
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  return { code, out: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** Runs openssl, fails the test if it fails, and returns its output. */
export async function openssl(...args: string[]): Promise<string> {
  const { code, out } = await runCommand("openssl", args);
  assert.equal(code, 0, out);
  return out;
}

/** The SHA-256 fingerprint of a certificate file, as openssl prints it. */
export async function opensslFingerprint(file: string): Promise<string> {
  const out = await openssl(
    "x509",
    "-in",
    file,
    "-noout",
    "-fingerprint",
    "-sha256",
  );
  return out.trim().split("=")[1]!;
}

/**
 * Serves TLS with `pair` on 127.0.0.1 and completes handshakes as
 * `localhost` and as `127.0.0.1`, trusting `ca`: fails if rustls refuses.
 */
export async function assertServesTls(
  pair: { cert: string; key: string },
  ca: string,
): Promise<void> {
  using listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...pair });
  for (const hostname of ["localhost", "127.0.0.1"]) {
    const accepted = listener.accept();
    using client = await Deno.connectTls({
      hostname,
      port: listener.addr.port,
      caCerts: [ca],
    });
    using server = await accepted;
    await Promise.all([client.handshake(), server.handshake()]);
  }
}

/**
 * A TLS connection to `localhost:port` trusting the test CA, handshaken;
 * with `header`, that is sent first, before TLS starts (a PROXY protocol
 * header, as a load balancer sends it); with `identity`, presenting that
 * client certificate (no header then).
 */
export async function connectTls(
  port: number,
  header?: string | Uint8Array,
  identity?: { cert: string; key: string },
): Promise<Deno.TlsConn> {
  const { ca } = await testCertificates();
  if (header === undefined) {
    const conn = await Deno.connectTls({
      hostname: "localhost",
      port,
      caCerts: [ca.cert],
      ...identity,
    });
    try {
      await conn.handshake();
    } catch (error) {
      conn.close();
      throw error;
    }
    return conn;
  }
  const raw = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await raw.write(
      typeof header === "string" ? encoder.encode(header) : header,
    );
  } catch (error) {
    raw.close();
    throw error;
  }
  const conn = await Deno.startTls(raw, {
    hostname: "localhost",
    caCerts: [ca.cert],
  });
  try {
    await conn.handshake();
  } catch (error) {
    conn.close();
    throw error;
  }
  return conn;
}

/**
 * Writes `chunk` again and again until a write waits longer than `stallMs`
 * (TCP pushes back), the connection fails, or `maxBytes` went; returns how
 * many bytes went.
 */
export async function writeUntilStalled(
  conn: Deno.Conn,
  chunk: Uint8Array,
  maxBytes: number,
  stallMs = 1_000,
): Promise<number> {
  let written = 0;
  while (written < maxBytes) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<"stalled">((resolve) => {
      timer = setTimeout(() => resolve("stalled"), stallMs);
    });
    const wrote = conn.write(chunk).then(() => "wrote", () => "failed");
    const outcome = await Promise.race([wrote, stalled]);
    clearTimeout(timer);
    if (outcome !== "wrote") {
      wrote.catch(() => {}); // ends when the connection closes
      return written;
    }
    written += chunk.length;
  }
  return written;
}

/**
 * An HTTP upgrade to `/ws` sent by hand over `conn` (TLS to the web door on
 * `port`); resolves to the status line, the response's head, and the
 * connection (a client that may never read again).
 */
export async function upgradeByHand(
  conn: Deno.TlsConn,
  port: number,
  headers: Record<string, string>,
): Promise<
  { status: string; head: string; rest: Uint8Array; conn: Deno.TlsConn }
> {
  const request = Object.entries({
    host: `localhost:${port}`,
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-version": "13",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    ...headers,
  }).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  await conn.write(encoder.encode(`GET /ws HTTP/1.1\r\n${request}\r\n`));
  let received = new Uint8Array(0);
  let end = -1;
  const buffer = new Uint8Array(4096);
  while (end === -1) {
    const n = await conn.read(buffer);
    if (n === null) break;
    received = Uint8Array.from([...received, ...buffer.subarray(0, n)]);
    end = decoder.decode(received).indexOf("\r\n\r\n");
  }
  // The head is ASCII: its length in text is its length in bytes.
  const head = decoder.decode(
    received.subarray(0, end === -1 ? undefined : end),
  );
  return {
    status: head.split("\r\n")[0]!,
    head,
    rest: end === -1 ? new Uint8Array(0) : received.subarray(end + 4),
    conn,
  };
}

/** A client's WebSocket text frame (masked, as RFC 6455 requires). */
export function clientFrame(text: string): Uint8Array {
  const payload = encoder.encode(text);
  const mask = [1, 2, 3, 4];
  const frame = new Uint8Array(2 + 4 + payload.length);
  frame[0] = 0x81;
  frame[1] = 0x80 | payload.length; // short lines only
  frame.set(mask, 2);
  payload.forEach((b, i) => frame[6 + i] = b ^ mask[i % 4]!);
  return frame;
}

/**
 * The text messages a server sends on a WebSocket spoken by hand, until it
 * closes (short messages only: what a chat server sends at first).
 */
export async function* serverMessages(
  conn: Deno.TlsConn,
  received: Uint8Array = new Uint8Array(0),
): AsyncGenerator<string> {
  let pending = received;
  const buffer = new Uint8Array(4096);
  while (true) {
    while (pending.length >= 2) {
      const length = pending[1]! & 0x7f;
      const header = length === 126 ? 4 : 2;
      const size = length === 126 ? pending[2]! << 8 | pending[3]! : length;
      if (pending.length < header + size) break;
      const opcode = pending[0]! & 0x0f;
      if (opcode === 0x8) return;
      if (opcode === 0x1) {
        yield decoder.decode(pending.subarray(header, header + size));
      }
      pending = pending.subarray(header + size);
    }
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) return;
    pending = Uint8Array.from([...pending, ...buffer.subarray(0, n)]);
  }
}
