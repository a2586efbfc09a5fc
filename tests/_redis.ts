/**
 * A real Redis for tests: `redis-server` started on a free loopback port
 * with its data in a given directory, persisting every write (AOF,
 * `appendfsync always`), stopped (or wiped) on demand, or paused
 * (SIGSTOP: it hangs with its connections open, as under a long GC pause or
 * a frozen VM) and resumed, or killed (SIGKILL).
 */

import { freePort } from "./_helpers.ts";

/** How many ports a first start tries when each is taken before its bind. */
const STARTS = 3;
/** How long redis-server may take to be ready (a loaded machine: seconds). */
const READY_MS = 10_000;

/** A `redis-server` of our own, persisting every write (AOF, always). */
export class Redis implements AsyncDisposable {
  #port = freePort();
  #started = false;
  readonly dir: string;
  readonly #tls: boolean;
  readonly #password: string | null;
  readonly #certs: string;
  #child: Deno.ChildProcess | null = null;

  /**
   * Keeps its data in `dir/redis`. With `tls`, it speaks only TLS, with
   * the test certificates in `dir` (`writeTestCertificates`); with a
   * `password`, it asks for it.
   */
  constructor(
    dir: string,
    options: { tls?: boolean; password?: string } = {},
  ) {
    this.dir = `${dir}/redis`;
    this.#certs = dir;
    this.#tls = options.tls ?? false;
    this.#password = options.password ?? null;
  }

  /** Its port: final once it has started (it may move on its first start). */
  get port(): number {
    return this.#port;
  }

  /** Its URL, with its password (or `password`, to try a wrong one). */
  url(password = this.#password): string {
    const scheme = this.#tls ? "rediss" : "redis";
    const auth = password === null ? "" : `:${password}@`;
    return `${scheme}://${auth}${
      this.#tls ? "localhost" : "127.0.0.1"
    }:${this.port}/0`;
  }

  /**
   * Starts it and waits until it is ready to accept connections. Its port
   * was free when drawn, but anyone may bind it before redis-server does:
   * on its first start, a Redis whose port is taken moves to another one
   * (nobody has its URL yet) up to {@linkcode STARTS} times; a restart keeps
   * its port (servers hold its URL), so there a taken port is an error.
   * Throws, naming the port and redis-server's output, when it exits
   * before it is ready or is not ready within {@linkcode READY_MS}.
   */
  async start(): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    for (let attempt = 1;; attempt++) {
      const failure = await this.#spawn();
      if (failure === null) break;
      const taken = /Address already in use/.test(failure);
      if (this.#started || !taken || attempt === STARTS) {
        throw new Error(
          `Cannot start Redis: ${failure}${
            taken && !this.#started ? ` (port taken ${attempt} times)` : ""
          }`,
        );
      }
      this.#port = freePort();
    }
    this.#started = true;
  }

  /**
   * Runs redis-server until it says it is ready (null), or returns why not
   * (it exited, or was not ready in time and is killed), with its output.
   */
  async #spawn(): Promise<string | null> {
    const child = new Deno.Command("redis-server", {
      args: this.#args(),
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Startup errors such as a bad configuration go to stderr.
    const errors = new Response(child.stderr).text().catch(() => "");
    const text = child.stdout.pipeThrough(new TextDecoderStream());
    const out = text.getReader();
    let seen = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), READY_MS);
    });
    let outcome: "ready" | "exited" | "late" = "exited";
    try {
      while (true) {
        const next = await Promise.race([out.read(), late]);
        if (next === "late" || next.done) {
          outcome = next === "late" ? "late" : "exited";
          break;
        }
        seen += next.value;
        if (seen.includes("Ready to accept connections")) {
          outcome = "ready";
          break;
        }
      }
    } finally {
      clearTimeout(timer);
    }
    if (outcome === "ready") {
      this.#child = child;
      out.releaseLock();
      // Keep draining its output so that it never blocks on a full pipe.
      void text.pipeTo(new WritableStream()).catch(() => {});
      return null;
    }
    if (outcome === "late") child.kill("SIGKILL");
    for (let r = await out.read(); !r.done; r = await out.read()) {
      seen += r.value;
    }
    const status = await child.status;
    return `redis-server on port ${this.#port} ${
      outcome === "late"
        ? `was not ready within ${READY_MS} ms`
        : `exited before it was ready (code ${status.code})`
    }; it said:\n${seen}${await errors}`;
  }

  /** redis-server's flags: its port, TLS, password, and data. */
  #args(): string[] {
    return [
      ...(this.#tls
        ? [
          "--port",
          "0",
          "--tls-port",
          String(this.#port),
          "--tls-cert-file",
          `${this.#certs}/server.pem`,
          "--tls-key-file",
          `${this.#certs}/server-key.pem`,
          "--tls-ca-cert-file",
          `${this.#certs}/ca.pem`,
          "--tls-auth-clients",
          "no",
        ]
        : ["--port", String(this.#port)]),
      ...(this.#password === null ? [] : ["--requirepass", this.#password]),
      "--bind",
      "127.0.0.1",
      "--dir",
      this.dir,
      "--save",
      "",
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
    ];
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    child.kill("SIGCONT"); // a paused one would never see the SIGTERM
    child.kill("SIGTERM");
    await child.status;
  }

  /** Kills it (SIGKILL): gone at once, its connections reset, nothing flushed. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    child.kill("SIGKILL");
    await child.status;
  }

  /** Stops it in its tracks (SIGSTOP): connections stay open, nothing answers. */
  pause(): void {
    this.#child?.kill("SIGSTOP");
  }

  /** Lets a paused Redis go on (SIGCONT). */
  resume(): void {
    this.#child?.kill("SIGCONT");
  }

  /** Forgets everything it stored (call when stopped): it starts empty. */
  async wipe(): Promise<void> {
    await Deno.remove(this.dir, { recursive: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
