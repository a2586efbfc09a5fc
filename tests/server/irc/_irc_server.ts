/**
 * A real `server.ts --irc-port 0` for the real-IRC-client tests: its own
 * certificates in a temporary folder, one account, terminal clients that
 * trust its CA, and the IRC port read from its `listening` line.
 */

import assert from "node:assert/strict";
import {
  denoRun,
  loopbackArgs,
  PipeClient,
  runCommand,
  type ServerProcess,
  withServerProcess,
  withTempDir,
} from "../../_helpers.ts";

/** What {@linkcode withIrcServer} gives its body. */
export interface IrcServer {
  readonly server: ServerProcess;
  /** The temporary folder: `ca.pem`, `data/`, room for clients' homes. */
  readonly dir: string;
  readonly ircPort: string;
  /** A terminal client (pipe mode) joined as `alias`. */
  member(alias: string): PipeClient;
}

/**
 * Runs `body` against a server whose account `account` has `password`,
 * started with `args` besides.
 */
export async function withIrcServer(
  account: string,
  password: string,
  body: (at: IrcServer) => Promise<void>,
  args: readonly string[] = [],
): Promise<void> {
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
      ["add", account, "--data-dir", `${dir}/data`],
      `${password}\n`,
    );
    await withServerProcess(
      ["--allow-net=127.0.0.1", ...perms],
      loopbackArgs(dir, "--irc-port", "0", ...args),
      async (server) => {
        const listening = await server.output.waitFor(/INFO listening /);
        const ircPort = / irc=127\.0\.0\.1:(\d+)/.exec(listening)![1]!;
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
        await body({ server, dir, ircPort, member });
      },
    );
  });
}
