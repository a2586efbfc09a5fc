/**
 * The room log of a cluster: a Redis Stream that every server of the room
 * appends to and reads. Lines appended in one event-loop turn go in one
 * script call (at most `redisBatchLines`), which numbers them (1,
 * 2, 3, ... across the cluster, no gaps); calls are pipelined, and their
 * answers handled in the order they were sent. Nothing is handed on from
 * `append`: every server, this one too, hands on what it reads from the
 * stream ({@linkcode StreamReader}: `XREAD BLOCK` from the last entry it
 * handed on), so a sender's echo means the line is in the global order,
 * and every member of every server sees one order. Membership changes are appended by the cluster's scripts
 * ({@linkcode Cluster}), atomically with the change, and come back the
 * same way.
 *
 * Every line has an id chosen before it is sent (the caller's, or a new
 * one), kept with it in the stream; the script stores no id twice, and
 * keeps each id's line sign ({@linkcode lineSign}) and the tag of the
 * append that stored it: a retried append finds its own line (same tag),
 * a resend from the client is a `duplicate` (same sign), another line
 * under a taken id is `reused` (in a cluster too). So when
 * Redis does not answer a call that was written (it hangs, or the
 * connection breaks), the same call is sent again, and again, until Redis
 * answers or `retryMs` have passed: only then do its senders hear that the
 * outcome is unknown. Lines appended meanwhile wait, unsent, so none
 * overtakes it (calls already sent went on the same connection, behind it,
 * and are handled after it); once one was given up, nothing is written
 * until Redis answers a `PING`, and what waits is refused. A call Redis
 * surely did not run (it answered with an error, or the link was down) is
 * reported refused. Reports come in the stream's order: after the echoes
 * of what was stored before.
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";
import { sleep } from "../../clock.ts";
import { describeError } from "../../log.ts";
import { type RedisLink, surelyNotRun } from "./redis.ts";
import {
  type AppendOptions,
  type AppendOutcome,
  type EventEffect,
  lineSign,
  newLineId,
  RecentEvents,
  type RoomEvent,
  type RoomEventSink,
  type RoomLine,
  type RoomLog,
  type RoomLogFailure,
} from "../room/room_log.ts";
import { storedEffect } from "../room/stored_event.ts";
import { StreamReader, type StreamReaderOptions } from "./stream_reader.ts";

/** Options of {@linkcode RedisLog}. */
export interface RedisLogOptions extends StreamReaderOptions {
  /** Messages and actions kept at hand for history on join. */
  readonly keep: number;
  /**
   * How long an append whose outcome is unknown is sent again before its
   * senders hear so (`--redis-retry`).
   */
  readonly redisRetryMs: number;
  /** Lines sent in one script call, at most (the config names each limit). */
  readonly redisBatchLines: number;
  /**
   * Ids of the last lines the cluster remembers, to store none twice: a
   * bounded set in Redis, and a hash of their signs.
   */
  readonly redisLineIdsKept: number;
  /** Failed batches held back for order, at most. */
  readonly redisHeldFailures: number;
}

interface Pending {
  readonly time: number;
  readonly line: RoomLine;
  readonly origin: string;
  readonly effect?: EventEffect;
  readonly id: string;
  /** Tells this append from any other (kept across its retries). */
  readonly tag: string;
}

/** The room log in a Redis Stream. */
export class RedisLog implements RoomLog {
  #link: RedisLink;
  #options: RedisLogOptions;
  #retryMs: number;
  #sink: RoomEventSink = () => {};
  #failed: RoomLogFailure = () => {};
  #recent: RecentEvents;
  #pending: Pending[] = [];
  #scheduled: ReturnType<typeof setImmediate> | undefined;
  /** Steps handling sent batches' answers, in the order they were sent. */
  #steps: Promise<void> = Promise.resolve();
  /** Steps not done yet. */
  #queued = 0;
  /**
   * New lines wait, unsent: a batch in doubt is being sent again, or Redis
   * is being asked whether it answers at all.
   */
  #held = false;
  /** The highest number appended here; settled once it is handed on. */
  #awaiting = 0;
  /**
   * Lines not handed on, told only once what was appended before them has
   * been handed on: a reply never overtakes an echo.
   */
  #failures: {
    upTo: number;
    lines: readonly Pending[];
    outcome: AppendOutcome;
    error: unknown;
  }[] = [];
  /** Told when everything appended here has been handed on. */
  #settledWaiters: (() => void)[] = [];
  #closed = false;
  /** Counts resets: a read asked before one is not handed on. */
  #generation = 0;
  /** Appends are failing (logged once, until one succeeds again). */
  #failing = false;
  /**
   * An append was given up in doubt, and Redis has not answered since:
   * nothing more is written until it answers a `PING`.
   */
  #silent = false;
  /** Closing: appends in doubt are not sent again. */
  #stopRetrying = new AbortController();
  #reader: StreamReader;

  private constructor(link: RedisLink, options: RedisLogOptions) {
    this.#link = link;
    this.#options = options;
    this.#retryMs = options.redisRetryMs;
    this.#recent = new RecentEvents(options.keep);
    this.#reader = new StreamReader(link, options, {
      event: (event) => {
        this.#recent.add(event);
        this.#sink(event);
      },
      entry: () => this.#tellFailures(), // right after the echoes before
      reply: () => this.#checkSettled(),
    });
  }

  /**
   * Opens the log: loads the newest messages for history on join, then
   * reads on from the stream's end.
   */
  static async open(
    link: RedisLink,
    options: RedisLogOptions,
  ): Promise<RedisLog> {
    const log = new RedisLog(link, options);
    const count = Math.max(options.keep * 4, 100);
    for (const event of await log.#reader.load(count)) log.#recent.add(event);
    link.onReset(() => log.#reset());
    log.#reader.start();
    return log;
  }

  subscribe(sink: RoomEventSink, failed?: RoomLogFailure): void {
    this.#sink = sink;
    this.#failed = failed ?? (() => {});
  }

  append(line: RoomLine, origin: string, options: AppendOptions = {}): void {
    if (this.#closed) return;
    this.#pending.push({
      time: this.#options.clock.now(),
      line,
      origin,
      effect: options.effect,
      id: options.id ?? newLineId(),
      tag: newTag(),
    });
    this.#scheduled ??= setImmediate(this.#send);
  }

  settled(): Promise<void> | undefined {
    if (this.#idle()) return undefined;
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  recent(limit: number): readonly RoomEvent[] {
    return this.#recent.last(limit);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // What is pending is sent once; what is in doubt is not sent again.
    this.#stopRetrying.abort();
    this.#send();
    while (this.#queued > 0) await this.#steps;
    this.#closed = true;
    clearImmediate(this.#scheduled);
    const reading = this.#reader.close();
    this.#checkSettled();
    await reading;
  }

  #idle(): boolean {
    return this.#closed ||
      this.#pending.length === 0 && this.#queued === 0 &&
        this.#reader.handedOn >= this.#awaiting;
  }

  /** Tells of lines not handed on, once what came before is out. */
  #tellFailures(): void {
    while (
      this.#failures.length > 0 &&
      this.#failures[0]!.upTo <= this.#reader.handedOn
    ) {
      const { lines, outcome, error } = this.#failures.shift()!;
      this.#failed(lines, outcome, error);
    }
  }

  /** Wakes those waiting for the log to settle, if it has. */
  #checkSettled(): void {
    this.#tellFailures();
    if (this.#settledWaiters.length === 0 || !this.#idle()) return;
    for (const wake of this.#settledWaiters.splice(0)) wake();
  }

  /**
   * Sends what is pending, in batches, unless new lines are held; after
   * Redis left a batch in doubt for good, asks it for a `PING` first, and
   * refuses what is pending (unwritten) if it does not answer: a long hang
   * costs a command's deadline per report, not the retry time per batch.
   */
  #send = (): void => {
    clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    if (this.#held || this.#pending.length === 0) return;
    if (this.#silent) {
      this.#held = true;
      this.#then(async () => {
        const silence = await this.#probe();
        // (A reset meanwhile took what was pending.)
        if (silence !== null && this.#pending.length > 0) {
          this.#lost(this.#pending.splice(0), false, silence);
        }
      });
      return;
    }
    const { clock, redisBatchLines, redisLineIdsKept } = this.#options;
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, redisBatchLines);
      const args = [String(redisLineIdsKept)];
      for (const { time, line, origin, effect, id, tag } of batch) {
        const alias = line.type === "MOD" ? line.by : line.alias;
        const json = JSON.stringify(line);
        const stored = effect && storedEffect(effect);
        args.push(String(time), origin, alias, json);
        args.push(stored?.kind ?? "", stored?.value ?? "");
        args.push(id, lineSign(line), tag);
      }
      const sent = { at: clock.now(), generation: this.#generation };
      const answer = this.#run(args);
      this.#then(() => this.#answered(batch, args, sent, answer));
    }
  };

  /**
   * Runs `step` once the steps before it are done; once none is left, new
   * lines go again.
   */
  #then(step: () => Promise<void>): void {
    this.#queued++;
    this.#steps = this.#steps.then(step).catch((error) => {
      // Steps report what they cannot do themselves: this is a bug.
      this.#options.log.error("history-step-failed", {
        error: describeError(error),
      });
    }).finally(() => {
      if (--this.#queued > 0) return;
      this.#held = false;
      this.#send();
      this.#checkSettled();
    });
  }

  /** The append script's answer, or why there is none. */
  #run(
    args: readonly string[],
  ): Promise<{ reply: unknown } | { error: unknown }> {
    return this.#link.run("append", args).then(
      (reply) => ({ reply }),
      (error) => ({ error }),
    );
  }

  /** Null once Redis answers a `PING`, else why it did not. */
  async #probe(): Promise<unknown> {
    try {
      await this.#link.command(["PING"]);
      this.#silent = false;
      return null;
    } catch (error) {
      return error;
    }
  }

  /**
   * Handles a batch's answer: while its outcome is unknown, new lines are
   * held and it is sent again, until Redis answers or the retry time
   * (counted from when it was first sent) is over.
   */
  async #answered(
    batch: readonly Pending[],
    args: readonly string[],
    sent: { readonly at: number; readonly generation: number },
    first: Promise<{ reply: unknown } | { error: unknown }>,
  ): Promise<void> {
    const { clock, log } = this.#options;
    let answer = await first;
    let inDoubt = false;
    let backoffMs = 50;
    while ("error" in answer) {
      const { error } = answer;
      // Once it may have run, it stays in doubt until Redis answers.
      inDoubt ||= !surelyNotRun(error);
      const reset = sent.generation !== this.#generation;
      if (!inDoubt || reset || clock.now() - sent.at >= this.#retryMs) {
        // Given up for want of an answer: no more writes until one.
        this.#silent ||= inDoubt && !reset;
        return this.#lost(batch, inDoubt, error);
      }
      this.#held = true;
      log.debug("history-in-doubt", {
        lines: batch.length,
        error: describeError(error),
      });
      if (!await sleep(clock, backoffMs, this.#stopRetrying.signal)) {
        return this.#lost(batch, inDoubt, error);
      }
      backoffMs = Math.min(backoffMs * 2, 1000);
      answer = await this.#run(args);
    }
    this.#stored(batch, answer.reply);
  }

  /**
   * Redis ran the batch's script: what it stored (this time or on an
   * earlier try, which the script knows by the append's tag) comes back
   * through the stream; the rest is reported.
   */
  #stored(batch: readonly Pending[], reply: unknown): void {
    const [top, ...results] = reply as [number, ...(number | string)[]];
    this.#awaiting = Math.max(this.#awaiting, Number(top));
    this.#silent = false;
    if (this.#failing) this.#options.log.info("history-resumed", {});
    this.#failing = false;
    const unsent: Record<
      "gone" | "refused" | "duplicate" | "reused",
      Pending[]
    > = { gone: [], refused: [], duplicate: [], reused: [] };
    for (const [i, pending] of batch.entries()) {
      const result = results[i];
      if (typeof result === "number") continue;
      if (result === "gone" || result === "duplicate" || result === "reused") {
        unsent[result].push(pending);
      } else {
        unsent.refused.push(pending);
      }
    }
    const error = new Error("Redis did not store them");
    for (const [outcome, lines] of Object.entries(unsent)) {
      if (lines.length === 0) continue;
      this.#report(Number(top), lines, outcome as AppendOutcome, error);
    }
  }

  /** The batch was not stored (`inDoubt`: or perhaps it was). */
  #lost(batch: readonly Pending[], inDoubt: boolean, error: unknown): void {
    // Once per outage: the senders hear of every line.
    const level = this.#failing ? "debug" : "error";
    this.#failing = true;
    this.#options.log[level]("history-failed", {
      what: "append",
      lines: batch.length,
      outcome: inDoubt ? "unknown" : "refused",
      error: describeError(error),
    });
    this.#report(this.#awaiting, batch, inDoubt ? "unknown" : "refused", error);
  }

  /** Reports lines once the stream is handed on up to `upTo`. */
  #report(
    upTo: number,
    lines: readonly Pending[],
    outcome: AppendOutcome,
    error: unknown,
  ): void {
    this.#failures.push({ upTo, lines, outcome, error });
    // Held for order while the reader cannot catch up (an outage), but
    // not without bound: past that, the oldest are told at once.
    if (this.#failures.length > this.#options.redisHeldFailures) {
      this.#failures[0]!.upTo = 0;
    }
    this.#tellFailures();
  }

  /**
   * The cluster's state was lost with Redis's data: the stream starts
   * again from 1, and so does reading it; what was kept at hand goes.
   */
  #reset(): void {
    this.#generation++;
    this.#silent = false; // it answered: the state it holds is not ours
    // Lines not yet sent belong to members who are being dismissed.
    if (this.#pending.length > 0) {
      const error = new Error("the room's shared state was lost");
      this.#report(0, this.#pending, "refused", error);
      this.#pending = [];
    }
    for (const failure of this.#failures) failure.upTo = 0;
    this.#reader.reset();
    this.#awaiting = 0;
    this.#recent.forgetUpTo(Infinity);
    this.#checkSettled();
  }
}

/** A new append tag: 64 random bits in base64url. */
function newTag(): string {
  const bits = crypto.getRandomValues(new Uint8Array(8));
  return bits.toBase64({ alphabet: "base64url", omitPadding: true });
}
