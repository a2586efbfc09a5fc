/**
 * The link to Redis of a cluster of servers forming one room: three
 * connections (commands; a blocking stream reader; a subscriber for what
 * servers tell each other), the cluster's epoch and state format checked,
 * and the scripts (`scripts.ts`) loaded and run over the cluster's keys
 * (`keys.ts`). The room's order is a Redis Stream whose entry IDs are
 * `SEQ-0`, SEQ counted by the scripts from 1, with no gaps.
 *
 * Commands fail at once while Redis is unreachable (no offline queue), and
 * after a deadline when it does not answer; `surelyNotRun`
 * (`redis_sent.ts`) tells a command that cannot have run from one that may
 * have run all the same (written before the deadline passed, or before the
 * connection broke).
 * The client reconnects by itself, with a backoff.
 *
 * @module
 */

import { createClient } from "redis";
import { missingPermission } from "../../flags.ts";
import { describeError, type Logger, redact } from "../../log.ts";
import { HISTORY_REQUEST_LIMIT } from "../../protocol.ts";
import type { Histogram } from "../metrics/registry.ts";

/** A node-redis client, as this module uses it. */
export interface RedisClient {
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  sendCommand(args: readonly string[]): Promise<unknown>;
  subscribe(
    channel: string,
    listener: (message: string) => void,
  ): Promise<void>;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "ready", listener: () => void): unknown;
  duplicate(): RedisClient;
}
import {
  type ClusterKeys,
  clusterKeys,
  OLDER_FORMATS,
  SCRIPT_KEYS,
  STATE_FORMAT,
  StateFormatError,
} from "./keys.ts";
import { NEW_EPOCH, SCRIPTS } from "./scripts.ts";
import { checkDurability } from "./redis_durability.ts";
import { sendTracked } from "./redis_sent.ts";
export { surelyNotRun, UnwrittenError } from "./redis_sent.ts";

/**
 * `promise`, or a failure once `ms` have passed without it settling; how
 * long an answer took is observed in `took`, if given (a failure is not: a
 * timeout would only say the deadline again; failures show as errors).
 */
export function timed<T>(
  promise: Promise<T>,
  ms: number,
  took?: Histogram,
): Promise<T> {
  promise.catch(() => {}); // its answer after the deadline is no news
  const start = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Redis did not answer within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, deadline]).then((answer) => {
    took?.observe((performance.now() - start) / 1000);
    return answer;
  }).finally(() => clearTimeout(timer));
}

/** Options of {@linkcode RedisLink.open}. */
export interface RedisLinkOptions {
  /** `redis://[:password@]host:port/db` or `rediss://` (TLS). */
  readonly url: string;
  /** Cluster name: servers with the same name form one room. */
  readonly cluster: string;
  /** Stream entries kept (`MAXLEN ~`), every kind of event counted. */
  readonly streamEntries: number;
  /** The default room's name (`--default-room`): the same on every server. */
  readonly defaultRoom: string;
  /**
   * Messages and actions each room keeps in Redis for servers that start
   * later (`--history`); the default room, as far back as `/history`
   * reaches (unless 0).
   */
  readonly history: number;
  /** How long a command may wait for Redis's answer (`--redis-timeout`). */
  readonly redisTimeoutMs: number;
  /** How long connecting may take (the server's config names each limit). */
  readonly redisConnectTimeoutMs: number;
  /** Connection attempts at start before giving up. */
  readonly redisStartTries: number;
  /** The longest wait between two reconnection attempts. */
  readonly redisReconnectMaxMs: number;
  /**
   * How long Redis has, in all, to answer what shutdown still asks, from
   * {@linkcode RedisLink.shutDown} (`--shutdown-grace`).
   */
  readonly shutdownGraceMs: number;
  readonly log: Logger;
  /** Where the commands' times are observed. @default {nowhere} */
  readonly commandTimes?: Histogram;
}

/** Three connections to Redis and the scripts, for one server. */
export class RedisLink {
  readonly keys: ClusterKeys;
  readonly cluster: string;
  /** Commands (no blocking ones). */
  readonly commands: RedisClient;
  /** `XREAD BLOCK` only. */
  readonly reader: RedisClient;
  /** Subscriptions only. */
  readonly subscriber: RedisClient;
  #options: RedisLinkOptions;
  #rooms: readonly string[];
  /** Connected once: from then on, outages are logged (not errors at start). */
  #opened = false;
  #shas = new Map<keyof typeof SCRIPTS, string>();
  /** The cluster's epoch as this server knows it (see `ClusterKeys.epoch`). */
  #epoch = "";
  /** A renewal of the epoch under way (one at a time). */
  #renewing: Promise<void> | undefined;
  #onReset: (() => void)[] = [];
  /** Shutdown's deadline, once armed: then the connections are dropped. */
  #shutdown: ReturnType<typeof setTimeout> | undefined;
  #dropped = Promise.withResolvers<void>();

  private constructor(commands: RedisClient, options: RedisLinkOptions) {
    this.cluster = options.cluster;
    this.keys = clusterKeys(options.cluster);
    this.#options = options;
    this.#rooms = [
      this.keys.recent(""),
      options.defaultRoom,
      String(options.history),
      String(options.history === 0 ? 0 : HISTORY_REQUEST_LIMIT),
    ];
    this.commands = commands;
    this.reader = commands.duplicate();
    this.subscriber = commands.duplicate();
    // One outage, logged once: down from the first connection that fails
    // until all three are back.
    const down = new Set<RedisClient>();
    for (const client of [this.commands, this.reader, this.subscriber]) {
      client.on("error", (error) => {
        if (!this.#opened || down.has(client)) return;
        down.add(client);
        if (down.size > 1) return;
        options.log.error("redis-unavailable", {
          error: describeError(error),
          hint: "reconnecting; new messages get ERR unavailable meanwhile",
        });
      });
      client.on("ready", () => {
        if (!down.delete(client) || down.size > 0) return;
        options.log.info("redis-reconnected", {});
      });
    }
  }

  /**
   * Connects (throwing a clear error when Redis cannot be reached now) and
   * loads the scripts.
   */
  static async open(options: RedisLinkOptions): Promise<RedisLink> {
    // Until it is open, a few tries (about 3 s), then the error; once it
    // is open, reconnect for ever, backing off to a try every 2 s.
    let opened = false;
    const client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      // A command that cannot even be written (a socket that takes no
      // more) fails after the deadline instead of being held.
      commandOptions: { timeout: options.redisTimeoutMs },
      socket: {
        connectTimeout: options.redisConnectTimeoutMs,
        // No permission: no try will have it.
        reconnectStrategy: (retries: number, cause: Error) =>
          !opened && (retries >= options.redisStartTries ||
              missingPermission(cause) !== null)
            ? cause
            : Math.min(100 * 2 ** retries, options.redisReconnectMaxMs),
      },
    }) as unknown as RedisClient;
    const link = new RedisLink(client, options);
    try {
      await Promise.all(
        [link.commands, link.reader, link.subscriber].map((c) => c.connect()),
      );
      await link.#load();
      await link.#adoptEpoch();
      await checkDurability(link, options.log);
      opened = link.#opened = true;
    } catch (e) {
      link.destroy();
      if (e instanceof StateFormatError) throw e;
      // The refusal itself, for the flag to add (the start says it).
      const cause = (e as { originalError?: unknown }).originalError;
      if (missingPermission(cause) !== null) throw cause;
      throw new Error(
        `Cannot use Redis at ${redact(options.url)}: ${
          (e as Error).message.replace(/\.+$/, "")
        }. Is it running, and is --redis right?`,
        { cause: e },
      );
    }
    return link;
  }

  /**
   * Runs a script with the cluster's keys; `args` follow the common ones
   * (MAXLEN, key prefixes, the epoch, the rooms' names and limits). Reloads the scripts once if Redis forgot them (a restart).
   */
  async run(
    script: keyof typeof SCRIPTS,
    args: readonly string[],
  ): Promise<unknown> {
    const call = () =>
      this.command([
        "EVALSHA",
        this.#shas.get(script)!,
        ...this.#scriptKeys(),
        String(this.#options.streamEntries),
        this.keys.serverMembers(""),
        this.#epoch,
        ...this.#rooms,
        ...args,
      ]);
    try {
      try {
        return await call();
      } catch (e) {
        if (!/NOSCRIPT/.test((e as Error).message)) throw e;
        await this.#load();
        return await call();
      }
    } catch (e) {
      if (/^EPOCH/.test((e as Error).message)) await this.renewEpoch();
      throw e;
    }
  }

  /** The number of fixed keys, then the keys, as `EVAL` takes them. */
  #scriptKeys(): string[] {
    return [
      String(SCRIPT_KEYS.length),
      ...SCRIPT_KEYS.map((key) => this.keys[key]),
    ];
  }

  /** The cluster's epoch as a log's (`RoomLog.epoch`): its UUID's digits. */
  get epoch(): string {
    return this.#epoch.replaceAll("-", "").slice(0, 32);
  }

  /**
   * Sends a command on the commands connection; fails if Redis has not
   * answered within the deadline (node-redis's own timeout ends once it is
   * written: a paused Redis would hold it for as long as TCP lasts).
   */
  command(args: readonly string[]): Promise<unknown> {
    const { redisTimeoutMs, commandTimes } = this.#options;
    return timed(
      sendTracked(this.commands, args),
      redisTimeoutMs,
      commandTimes,
    );
  }

  /** Sends a blocking read (`XREAD BLOCK blockMs`), with the same limit. */
  read(args: readonly string[], blockMs: number): Promise<unknown> {
    return timed(
      this.reader.sendCommand(args),
      blockMs + this.#options.redisTimeoutMs,
    );
  }

  /** Calls `listener` when the cluster's state in Redis was found lost. */
  onReset(listener: () => void): void {
    this.#onReset.push(listener);
  }

  /**
   * Checks that Redis still holds the cluster's state this server knows,
   * having handed on events up to number `handedOn`. If it does not (Redis
   * restarted empty, was flushed, or came back with older data: numbers
   * behind what was handed on), the cluster starts afresh.
   */
  async checkEpoch(handedOn = 0): Promise<void> {
    const [epoch, seq] = await this.command([
      "MGET",
      this.keys.epoch,
      this.keys.seq,
    ]) as [string | null, string | null];
    if (epoch === this.#epoch && Number(seq ?? 0) >= handedOn) return;
    await this.renewEpoch(epoch === this.#epoch);
  }

  /**
   * The cluster's state in Redis was lost (or, with `rollback`, went back
   * in time): takes a new epoch (the first server to notice wipes what is
   * left and sets it) and tells the listeners, once per loss.
   */
  renewEpoch(rollback = false): Promise<void> {
    this.#renewing ??= (async () => {
      const before = this.#epoch;
      await this.#adoptEpoch(rollback);
      if (this.#epoch === before) return;
      this.#options.log.error("redis-state-lost", {
        hint:
          "Redis lost the room's state (restarted without its data?); members here are asked to join again",
      });
      for (const listener of this.#onReset) listener();
    })().finally(() => this.#renewing = undefined);
    return this.#renewing;
  }

  /** Takes the epoch in force; throws if the state's format is unknown. */
  async #adoptEpoch(rollback = false): Promise<void> {
    const [epoch, format] = await this.command([
      "EVAL",
      NEW_EPOCH,
      ...this.#scriptKeys(),
      this.keys.serverMembers("*"),
      this.#epoch,
      crypto.randomUUID(),
      rollback ? "1" : "0",
      STATE_FORMAT,
      this.keys.recent("*"),
      OLDER_FORMATS.join(","),
    ]) as [string, string];
    if (format !== STATE_FORMAT) {
      throw new StateFormatError(this.cluster, String(format));
    }
    this.#epoch = String(epoch);
  }

  async #load(): Promise<void> {
    for (const [name, body] of Object.entries(SCRIPTS)) {
      const sha = await this.command(["SCRIPT", "LOAD", body]);
      this.#shas.set(name as keyof typeof SCRIPTS, String(sha));
    }
  }

  /**
   * Shutdown began: from the first call, Redis has `shutdownGraceMs` in all
   * to answer what is still asked (the log's last lines, the leave, the
   * closing); then the connections are dropped (logged): whatever waits on
   * them fails at once. A Redis that is gone (unreachable, paused) never
   * answers, and node-redis's `close()` waits for what it holds.
   */
  shutDown(): void {
    this.#shutdown ??= setTimeout(() => {
      this.#options.log.warn("redis-shutdown-cut", {
        hint:
          "Redis did not answer within --shutdown-grace; what it had not answered was dropped",
      });
      this.destroy();
      this.#dropped.resolve();
    }, this.#options.shutdownGraceMs);
  }

  /**
   * Closes the connections once what they wait for is answered, within
   * shutdown's deadline ({@linkcode shutDown}; a client dropped while it
   * reconnects may never say it closed).
   */
  async close(): Promise<void> {
    this.shutDown();
    await Promise.race([
      Promise.allSettled(
        [this.commands, this.reader, this.subscriber].map((c) => c.close()),
      ),
      this.#dropped.promise,
    ]);
    clearTimeout(this.#shutdown);
  }

  /** Drops the connections at once. */
  destroy(): void {
    for (const client of [this.commands, this.reader, this.subscriber]) {
      try {
        client.destroy();
      } catch {
        // Never connected.
      }
    }
  }
}
