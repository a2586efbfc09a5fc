/**
 * `RedisDirectory` against the Directory contract, on a real Redis
 * (`redis-server` on a free loopback port) with two servers in this
 * process, each with its link, log, cluster and room (heartbeats short, as
 * options); and what it does with what the shared log says, with a fake
 * cluster and no sockets.
 */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/clock.ts";
import { createLogger, type Logger } from "../../../lib/log.ts";
import { Moderation } from "../../../lib/server/access/moderation.ts";
import {
  type Claim,
  Cluster,
  NotBeating,
} from "../../../lib/server/cluster/cluster.ts";
import { RedisLink } from "../../../lib/server/cluster/redis.ts";
import {
  type DirectoryCluster,
  RedisDirectory,
} from "../../../lib/server/cluster/redis_directory.ts";
import { RedisLog } from "../../../lib/server/cluster/redis_log.ts";
import { Room } from "../../../lib/server/room/room.ts";
import {
  type AppendOptions,
  type RoomEventSink,
  type RoomLine,
  type RoomLog,
  type RoomLogFailure,
} from "../../../lib/server/room/room_log.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import { openStore } from "../../../lib/server/storage/store.ts";
import { withTempDir } from "../../_helpers.ts";
import { Redis } from "../../_redis.ts";
import {
  ContractMember,
  DIRECTORY_CASES,
  type DirectoryWorld,
} from "../room/directory_contract.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";

/** The server's defaults, for the cluster's limits (under the config's names). */
const DEFAULTS = parseServerArgs([]);

/** One server of the room: its Redis link, log, cluster and room. */
interface Server {
  link: RedisLink;
  roomLog: RedisLog;
  cluster: Cluster;
  room: Room<ContractMember>;
  directory: RedisDirectory<ContractMember>;
}

/** Opens one server of room "t" on `redis` (its directory not started). */
async function openServer(redis: Redis, log: Logger): Promise<Server> {
  const link = await RedisLink.open({
    ...DEFAULTS,
    url: redis.url(),
    cluster: "t",
    streamEntries: 1000,
    log,
  });
  const roomLog = await RedisLog.open(link, {
    ...DEFAULTS,
    clock: systemClock,
    keep: 100,
    log,
  });
  const cluster = new Cluster(link, {
    ...DEFAULTS,
    clock: systemClock,
    log,
    heartbeatMs: 200,
    lostAfterMs: 1000,
  });
  const directory = new RedisDirectory<ContractMember>(cluster, log);
  const room = new Room<ContractMember>({
    log: roomLog,
    announceLimit: 100,
    directory,
    resumeGraceMs: 30_000,
  });
  return { link, roomLog, cluster, room, directory };
}

/** Two servers of one room on a fresh Redis; all closed after `body`. */
async function withServers(body: (world: DirectoryWorld) => Promise<void>) {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    using store = openStore(null);
    const log = createLogger("error", () => {});
    const servers: Server[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const server = await openServer(redis, log);
        servers.push(server);
        await server.directory.start(
          new Moderation(store.db, systemClock),
          () => {},
        );
      }
      await body({
        rooms: servers.map((s) => s.room),
        member: (server, operator, account) =>
          new ContractMember(
            `${servers[server]!.cluster.server}/`,
            operator,
            account,
          ),
      });
    } finally {
      for (const { link, roomLog, cluster, room } of servers) {
        room.close();
        await roomLog.close();
        await cluster.stop();
        await link.close();
      }
    }
  });
}

for (const contract of DIRECTORY_CASES) {
  Deno.test(`RedisDirectory: ${contract.name}`, async () => {
    await withServers(contract.run);
  });
}

/** A cluster that answers every claim, with `claim` for what else to do. */
function fakeCluster(claim: DirectoryCluster["claim"]): DirectoryCluster {
  const none = () => Promise.resolve(null);
  return {
    claim,
    mark: () => Promise.resolve(),
    takeOver: none,
    leave() {},
    find: none,
    tell: () => Promise.resolve(0),
    remove: () => Promise.resolve(false),
    moderation: {
      sanctions: none,
      setSanctions: () => Promise.resolve(),
      topic: none,
      setTopic: () => Promise.resolve(),
    },
    onReset() {},
    onLost() {},
    start: () => Promise.resolve(),
  };
}

const quiet = createLogger("error", () => {});

Deno.test("RedisDirectory: a rename that landed with its answer lost is taken from the log; a LEAVE decided elsewhere closes the member", async () => {
  const log = new MemoryLog(systemClock);
  // Claims land in the log (as Redis's script appends the JOIN or NICK);
  // the answer to the rename is lost on the way back.
  const cluster = fakeCluster((member, alias, from) => {
    if (from === null) {
      log.append({ type: "JOIN", alias, online: "1" }, member.id);
      return Promise.resolve({ ok: true, online: "1", seq: 1 });
    }
    log.append(
      { type: "NICK", alias: from, newAlias: alias, online: "1" },
      member.id,
    );
    return Promise.reject(new Error("Socket closed unexpectedly"));
  });
  const room = new Room<ContractMember>({
    log,
    announceLimit: 100,
    directory: new RedisDirectory(cluster, quiet),
  });
  const amy = new ContractMember("s/");
  await room.join(amy, "amy");
  await assert.rejects(room.rename(amy, "amelia"), /cannot reach each other/);
  assert.equal(amy.alias, "amelia", "the log's NICK is taken on");
  assert.deepEqual(await room.find("amelia"), { here: amy });
  // Removed on another server (a kick there): the LEAVE closes it here.
  log.append(
    { type: "LEAVE", alias: "amelia", online: "0", reason: "kicked", text: "" },
    amy.id,
    { effect: { kind: "bye", text: "Kicked by op" } },
  );
  assert.deepEqual(amy.closed, ["kicked", "Kicked by op"]);
  assert.equal(room.has(amy), false);
});

/**
 * A room on `cluster` (a fake) with its log in memory and its directory
 * started; its store closes with `store`.
 */
async function roomOn(cluster: DirectoryCluster) {
  const log = new MemoryLog(systemClock);
  const directory = new RedisDirectory<ContractMember>(cluster, quiet);
  const room = new Room<ContractMember>({ log, announceLimit: 100, directory });
  const store = openStore(null);
  await directory.start(new Moderation(store.db, systemClock), () => {});
  return { log, room, store };
}

Deno.test("RedisDirectory: a join refused because its server found itself counted lost gives back the claim it made meanwhile", async () => {
  const claimed = Promise.withResolvers<Claim>();
  const left: string[] = [];
  let lost = () => {};
  const { log, room, store } = await roomOn({
    ...fakeCluster(() => claimed.promise),
    leave: (member, reason) => left.push(`${member.id} ${reason}`),
    onLost: (listener) => lost = listener,
  });
  using _store = store;
  const eve = new ContractMember("s/");
  const joining = room.join(eve, "eve");
  // Its server's beat found it counted lost while the claim was on its way
  // (run after that beat, the claim went through, and its JOIN follows).
  lost();
  claimed.resolve({ ok: true, online: "1", seq: 1 });
  log.append({ type: "JOIN", alias: "eve", online: "1" }, eve.id);
  await assert.rejects(joining, /lost touch with the room/);
  assert.equal(room.has(eve), false);
  // Not held by nobody: the alias is given back in the cluster.
  assert.deepEqual(left, [`${eve.id} disconnect`]);
});

Deno.test("RedisDirectory: a join refused because its server is not beating says it is joining the others again, not that they cannot reach each other", async () => {
  const { room, store } = await roomOn(
    fakeCluster(() => Promise.reject(new NotBeating())),
  );
  using _store = store;
  const eve = new ContractMember("s/");
  await assert.rejects(
    room.join(eve, "eve"),
    /^ProtocolError: Cannot join now: this server is joining the room's other servers again; try again in a moment$/,
  );
  assert.equal(room.has(eve), false);
});

/** A log in memory that refuses, or leaves in doubt, every `TOPIC`. */
class TopicDoubtingLog implements RoomLog {
  outcome: "refused" | "unknown" = "refused";
  #memory = new MemoryLog(systemClock);
  readonly epoch = this.#memory.epoch;
  since = this.#memory.since.bind(this.#memory);
  #failed: RoomLogFailure = () => {};
  subscribe(sink: RoomEventSink, failed?: RoomLogFailure): void {
    this.#memory.subscribe(sink, failed);
    this.#failed = failed!;
  }
  append(line: RoomLine, origin: string, options?: AppendOptions): void {
    if (line.type !== "TOPIC") {
      return this.#memory.append(line, origin, options);
    }
    this.#failed([{ line, origin }], this.outcome, new Error("no answer"));
  }
  settled = () => undefined;
  recent = () => [];

  close = () => Promise.resolve();
}

Deno.test("RedisDirectory: an operator whose change the other servers may not have heard of is told so", async () => {
  const log = new TopicDoubtingLog();
  const room = new Room<ContractMember>({
    log,
    announceLimit: 100,
    // The claim's JOIN lands in the log, as Redis's script appends it.
    directory: new RedisDirectory(
      fakeCluster((member, alias) => {
        log.append({ type: "JOIN", alias, online: "1" }, member.id);
        return Promise.resolve({ ok: true, online: "1", seq: 1 });
      }),
      quiet,
    ),
  });
  const op = new ContractMember("s/", true);
  await room.join(op, "op");
  for (const outcome of ["refused", "unknown"] as const) {
    log.outcome = outcome;
    room.announce({ type: "TOPIC", alias: "op", text: "Be kind" }, op);
  }
  assert.deepEqual(op.lines.slice(1), [
    "ERR unavailable Done on this server only: the other servers could not be told; do it again later",
    "ERR unknown Done on this server; the other servers may not have been told (the room's store did not answer): check, and do it again if not",
  ]);
});
