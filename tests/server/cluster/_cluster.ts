/**
 * Several `server.ts` processes on one real Redis, for the cluster's
 * process tests: a server of the cluster with its own data directory, the
 * cluster run around a test body (logs shown on failure), accounts
 * added to one server's database, and the entries of its stream.
 */

import assert from "node:assert/strict";
import { createClient } from "redis";
import { clusterKeys } from "../../../lib/server/cluster/keys.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import {
  denoRun,
  loopbackArgs,
  runCommand,
  ServerProcess,
  withTempDir,
  writeTestCertificates,
} from "../../_helpers.ts";
import { Redis } from "../../_redis.ts";

/**
 * Short deadlines for fault tests: Redis has 0.3 s to answer, an append in
 * doubt is tried again for 1.5 s, servers beat every 0.2 s (and count as
 * lost after the default 5 s: each reconnects to a restarted Redis on its
 * own backoff, up to 2 s between tries).
 */
export const FAST_BEATS = [
  "--redis-timeout",
  "0.3",
  "--redis-retry",
  "1.5",
  "--heartbeat",
  "0.2",
];

/** {@linkcode FAST_BEATS}, and servers count as lost after 1 s. */
export const FAST = [...FAST_BEATS, "--lost-after", "1"];

/** A server of the cluster on `redis`, with its own data directory. */
export function startServer(
  dir: string,
  name: string,
  redis: Redis,
  more: string[] = [],
) {
  return ServerProcess.start(
    [
      "--allow-net=127.0.0.1",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      "--allow-env=REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS",
    ],
    loopbackArgs(
      dir,
      "--data-dir",
      `${dir}/${name}`,
      "--redis",
      redis.url(),
      "--flood-rate",
      "0",
      ...more,
    ),
  );
}

/**
 * Runs the body with Redis and `count` servers (after `before`, with the
 * server flags `args`); shows their logs on failure.
 */
export async function withCluster(
  count: number,
  body: (servers: ServerProcess[], redis: Redis, dir: string) => Promise<void>,
  options: {
    before?: (dir: string) => Promise<void>;
    args?: string[];
  } = {},
) {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    await options.before?.(dir);
    await using redis = new Redis(dir);
    await redis.start();
    const servers: ServerProcess[] = [];
    try {
      for (let i = 0; i < count; i++) {
        servers.push(await startServer(dir, `s${i}`, redis, options.args));
      }
      await body(servers, redis, dir);
    } catch (e) {
      for (const [i, server] of servers.entries()) {
        (e as Error).message += `\n--- server ${i} ---\n${server.output}`;
      }
      throw e;
    } finally {
      for (const server of servers) await server[Symbol.asyncDispose]();
    }
  });
}

/** Adds account `alias` (an operator if `op`) to server `name`'s database. */
export async function addAccount(
  dir: string,
  name: string,
  alias: string,
  op = false,
) {
  const users = (args: string[], stdin = "") =>
    runCommand(
      "deno",
      denoRun(
        "users.ts",
        [`--allow-read=${dir}`, `--allow-write=${dir}/${name}`],
        [...args, "--data-dir", `${dir}/${name}`],
      ),
      stdin,
    );
  assert.equal((await users(["add", alias], `${alias}'s password\n`)).code, 0);
  if (op) assert.equal((await users(["op", alias])).code, 0);
}

/**
 * The entries of the cluster's stream (the default cluster name's), oldest
 * first, as `XRANGE` gives them: id and fields (`count`: the oldest so
 * many only).
 */
export async function streamEntries(
  redis: Redis,
  count?: number,
): Promise<[string, string[]][]> {
  const client = createClient({ url: redis.url() });
  await client.connect();
  try {
    const { cluster } = parseServerArgs([]);
    return await client.sendCommand([
      "XRANGE",
      clusterKeys(cluster).events,
      "-",
      "+",
      ...(count === undefined ? [] : ["COUNT", String(count)]),
    ]) as [string, string[]][];
  } finally {
    await client.close();
  }
}
