/**
 * Appending to a cluster's room log: lines appended in one event-loop turn
 * go in one script call (at most `redisBatchLines`), which numbers them
 * and stores each id once; calls are pipelined, and their answers handled
 * in the order they were sent. Nothing is handed on from here: what was
 * stored comes back through the stream (`stream_reader.ts`), and what was
 * not is told only once the stream is handed on up to where it would have
 * been (a reply never overtakes an echo).
 *
 * When Redis does not answer a call that was written (it hangs, or the
 * connection breaks), the same call is sent again, and again, until Redis
 * answers or `redisRetryMs` have passed: only then do its senders hear
 * that the outcome is unknown (the script knows a retried append by its
 * tag). Lines appended meanwhile wait, unsent, so none overtakes it (calls
 * already sent went on the same connection, behind it, and are handled
 * after it); once one was given up, nothing is written until Redis answers
 * a `PING`, and what waits is refused. A call Redis surely did not run (it
 * answered with an error, or the link was down) is reported refused.
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";
import { type Clock, sleep } from "../../clock.ts";
import { describeError, type Logger } from "../../log.ts";
import { type RedisLink, surelyNotRun } from "./redis.ts";
import type { Histogram } from "../metrics/registry.ts";
import {
  type AppendOptions,
  type AppendOutcome,
  newLineId,
  type RoomLine,
  type RoomLogFailure,
} from "../room/room_log.ts";
import { appendArgs, type PendingLine, unstored } from "./append_batch.ts";

/** Options of {@linkcode StreamWriter} (a part of the log's options). */
export interface StreamWriterOptions {
  readonly clock: Clock;
  readonly log: Logger;
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
  /** Where each append's time is observed, answered ones: the commit's. */
  readonly commitTimes?: Histogram;
}

/** What a {@linkcode StreamWriter} needs of the log it writes for. */
export interface StreamWriterLog {
  /** The number of the last stream entry handed on (0: none). */
  handedOn(): number;
  /** Told of lines not stored (or perhaps stored), in the stream's order. */
  failed: RoomLogFailure;
  /**
   * Once every batch sent has been answered (and what waited was sent):
   * the log may have settled.
   */
  stepped(): void;
}

/** Appends lines to the room's stream, in batches, retried while in doubt. */
export class StreamWriter {
  #link: RedisLink;
  #options: StreamWriterOptions;
  #log: StreamWriterLog;
  #pending: PendingLine[] = [];
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
    lines: readonly PendingLine[];
    outcome: AppendOutcome;
    error: unknown;
  }[] = [];
  /** Counts resets: an answer to a call sent before one is not retried. */
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
  /** Lines given up since closing began (nobody is left to tell). */
  #lostClosing = 0;

  /** A writer on `link`, telling `log` of what it could not store. */
  constructor(
    link: RedisLink,
    options: StreamWriterOptions,
    log: StreamWriterLog,
  ) {
    this.#link = link;
    this.#options = options;
    this.#log = log;
  }

  /** Sends `line` in this turn's batch, under its id (or a new one). */
  append(line: RoomLine, origin: string, options: AppendOptions = {}): void {
    this.#pending.push({
      time: this.#options.clock.now(),
      line,
      origin,
      effect: options.effect,
      room: options.room,
      target: options.target,
      id: options.id ?? newLineId(),
      tag: newTag(),
    });
    this.#scheduled ??= setImmediate(this.#send);
  }

  /** Sends this turn's lines now, ahead of a command about to follow. */
  flush(): void {
    this.#send();
  }

  /**
   * Nothing waits to be sent or answered, and everything stored from here
   * has been handed on.
   */
  get idle(): boolean {
    return this.#pending.length === 0 && this.#queued === 0 &&
      this.#log.handedOn() >= this.#awaiting;
  }

  /**
   * Sends what is pending once, waits for every answer (what is in doubt
   * is not sent again), then sends nothing more. Resolves to the number
   * of lines given up since closing began (not stored, or perhaps stored).
   */
  async close(): Promise<number> {
    this.#stopRetrying.abort();
    this.#send();
    while (this.#queued > 0) await this.#steps;
    clearImmediate(this.#scheduled);
    return this.#lostClosing;
  }

  /**
   * The cluster's state was lost with Redis's data: what was not sent yet
   * is refused (it belongs to members who are being dismissed), what waits
   * to be told is told at once, and numbering starts again.
   */
  reset(): void {
    this.#generation++;
    this.#silent = false; // it answered: the state it holds is not ours
    if (this.#pending.length > 0) {
      const error = new Error("the room's shared state was lost");
      this.#report(0, this.#pending, "refused", error);
      this.#pending = [];
    }
    for (const failure of this.#failures) failure.upTo = 0;
    this.#awaiting = 0;
  }

  /** Tells of lines not handed on, once what came before is out. */
  tellFailures(): void {
    while (
      this.#failures.length > 0 &&
      this.#failures[0]!.upTo <= this.#log.handedOn()
    ) {
      const { lines, outcome, error } = this.#failures.shift()!;
      this.#log.failed(lines, outcome, error);
    }
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
      const args = appendArgs(batch, redisLineIdsKept);
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
      this.#log.stepped();
    });
  }

  /** The append script's answer, or why there is none. */
  #run(
    args: readonly string[],
  ): Promise<{ reply: unknown } | { error: unknown }> {
    const start = performance.now();
    return this.#link.run("append", args).then(
      (reply) => {
        this.#options.commitTimes?.observe((performance.now() - start) / 1000);
        return { reply };
      },
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
    batch: readonly PendingLine[],
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
      if (
        !inDoubt || reset || clock.now() - sent.at >= this.#options.redisRetryMs
      ) {
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
  #stored(batch: readonly PendingLine[], reply: unknown): void {
    const [top, ...results] = reply as [number, ...(number | string)[]];
    this.#awaiting = Math.max(this.#awaiting, Number(top));
    this.#silent = false;
    if (this.#failing) this.#options.log.info("history-resumed", {});
    this.#failing = false;
    const error = new Error("Redis did not store them");
    for (const [outcome, lines] of unstored(batch, results)) {
      this.#report(Number(top), lines, outcome, error);
    }
  }

  /** The batch was not stored (`inDoubt`: or perhaps it was). */
  #lost(batch: readonly PendingLine[], inDoubt: boolean, error: unknown): void {
    if (this.#stopRetrying.signal.aborted) this.#lostClosing += batch.length;
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
    lines: readonly PendingLine[],
    outcome: AppendOutcome,
    error: unknown,
  ): void {
    this.#failures.push({ upTo, lines, outcome, error });
    // Held for order while the reader cannot catch up (an outage), but
    // not without bound: past that, the oldest are told at once.
    if (this.#failures.length > this.#options.redisHeldFailures) {
      this.#failures[0]!.upTo = 0;
    }
    this.tellFailures();
  }
}

/** A new append tag: 64 random bits in base64url. */
function newTag(): string {
  const bits = crypto.getRandomValues(new Uint8Array(8));
  return bits.toBase64({ alphabet: "base64url", omitPadding: true });
}
