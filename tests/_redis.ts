/**
 * A real Redis for tests: `redis-server` started on a free loopback port
 * with its data in a given directory, persisting every write (AOF,
 * `appendfsync always`), stopped (or wiped) on demand, or paused
 * (SIGSTOP: it hangs with its connections open, as under a long GC pause or
 * a frozen VM) and resumed, or killed (SIGKILL).
 */

import { freePort } from "./_helpers.ts";

/** A `redis-server` of our own, persisting every write (AOF, always). */
export class Redis implements AsyncDisposable {
  readonly port = freePort();
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

  /** Its URL, with its password (or `password`, to try a wrong one). */
  url(password = this.#password): string {
    const scheme = this.#tls ? "rediss" : "redis";
    const auth = password === null ? "" : `:${password}@`;
    return `${scheme}://${auth}${
      this.#tls ? "localhost" : "127.0.0.1"
    }:${this.port}/0`;
  }

  async start(): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    this.#child = new Deno.Command("redis-server", {
      args: [
        ...(this.#tls
          ? [
            "--port",
            "0",
            "--tls-port",
            String(this.port),
            "--tls-cert-file",
            `${this.#certs}/server.pem`,
            "--tls-key-file",
            `${this.#certs}/server-key.pem`,
            "--tls-ca-cert-file",
            `${this.#certs}/ca.pem`,
            "--tls-auth-clients",
            "no",
          ]
          : ["--port", String(this.port)]),
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
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines = this.#child.stdout.pipeThrough(new TextDecoderStream());
    let seen = "";
    for await (const chunk of lines) {
      seen += chunk;
      if (seen.includes("Ready to accept connections")) break;
    }
    // Keep draining its output so that it never blocks on a full pipe.
    void lines.pipeTo(new WritableStream()).catch(() => {});
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
