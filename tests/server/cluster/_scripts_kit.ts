/**
 * What the tests of the cluster's Lua scripts on a real `redis-server`
 * share: two servers' clusters on one fresh Redis, lines as the `append`
 * script takes them (`appendArgs`' order), members claimed, and what the
 * scripts read while a step ran (`MONITOR`).
 */

import assert from "node:assert/strict";
import { createClient } from "redis";
import { systemClock } from "../../../lib/clock.ts";
import { createLogger } from "../../../lib/log.ts";
import {
  Cluster,
  type ClusterMember,
} from "../../../lib/server/cluster/cluster.ts";
import { RedisLink } from "../../../lib/server/cluster/redis.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import { lineSign, type RoomLine } from "../../../lib/server/room/room_log.ts";
import { withTempDir } from "../../_helpers.ts";
import { Redis } from "../../_redis.ts";

const DEFAULTS = parseServerArgs([]);
const log = createLogger("error", () => {});

/** Two servers' clusters on one fresh Redis. */
export async function withServers(
  body: (link: RedisLink, a: Cluster, b: Cluster) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const link = await RedisLink.open({
      ...DEFAULTS,
      history: 5,
      streamEntries: 1000,
      url: redis.url(),
      cluster: "t",
      log,
    });
    const options = { ...DEFAULTS, clock: systemClock, log };
    const a = new Cluster(link, options);
    const b = new Cluster(link, options);
    await a.start(() => {});
    await b.start(() => {});
    try {
      await body(link, a, b);
    } finally {
      await b.stop();
      await a.stop();
      await link.close();
    }
  });
}

let ids = 0;

/**
 * One line as the `append` script takes it (`appendArgs`): `line` from
 * member `origin` in `room` (`""`: the default), with its effect.
 */
export function lineArgs(
  origin: string,
  line: RoomLine & { target?: string },
  room: string,
  effect: { kind: string; value: string } | null,
  time = Date.now(),
): string[] {
  const alias = line.type === "MOD" ? line.by : line.alias;
  return [
    String(time),
    origin,
    alias,
    JSON.stringify(line),
    effect?.kind ?? "",
    effect?.value ?? "",
    `line-${++ids}-0123456789abcdef`,
    lineSign(line),
    "tag",
    room,
    line.type,
    "",
  ];
}

/** Appends `lines` (`lineArgs` each) in one call; the script's answer. */
export function appendLines(
  link: RedisLink,
  lines: string[][],
): Promise<unknown[]> {
  return link.run("append", ["100", ...lines.flat()]) as Promise<unknown[]>;
}

/** A member of `server` claimed as its alias (in the default room). */
export async function claimed(
  server: Cluster,
  who: Omit<ClusterMember, "id"> & { n: number },
): Promise<ClusterMember> {
  const member = { ...who, id: `${server.server}/${who.n}` };
  const claim = await server.claim(member, who.alias, null, false);
  assert.equal(claim.ok, true);
  return member;
}

/** Guest number `n` (of its server) as `alias`, from `host`. */
export const guest = (n: number, alias: string, host = "127.0.0.1") => ({
  n,
  alias,
  account: null,
  host,
  operator: false,
});

/**
 * Runs `body` under `MONITOR`; returns how many times the scripts ran
 * each command on each key meanwhile, by `"COMMAND key"`.
 */
export async function scriptCalls(
  link: RedisLink,
  body: () => Promise<unknown>,
): Promise<Map<string, number>> {
  const config = await link.command(["CONFIG", "GET", "port"]) as
    | string[]
    | Record<string, string>;
  const port = Array.isArray(config) ? config[1] : config.port;
  const monitor = createClient({ url: `redis://127.0.0.1:${port}` });
  monitor.on("error", () => {}); // its end is awaited below
  await monitor.connect();
  const seen: string[] = [];
  // MONITOR shows commands in the order Redis ran them: this one last.
  const end = `end-${crypto.randomUUID()}`;
  const ended = Promise.withResolvers<void>();
  try {
    await monitor.MONITOR((line: string) => {
      seen.push(line);
      if (line.includes(end)) ended.resolve();
    });
    await body();
    await link.command(["ECHO", end]);
    await ended.promise;
  } finally {
    monitor.destroy();
  }
  const calls = new Map<string, number>();
  for (const line of seen) {
    const [, command, key] = /\[\d+ lua\] "(\w+)" "([^"]*)"/.exec(line) ?? [];
    if (command === undefined) continue;
    const name = `${command.toUpperCase()} ${key}`;
    calls.set(name, (calls.get(name) ?? 0) + 1);
  }
  return calls;
}
