/**
 * Fakes for testing the chat core without sockets or real time: a clock
 * whose time moves only when told, and a {@linkcode Connection} fed and read
 * by the test. Waiting is on events (a line sent, a close), never on sleeps.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Clock, TimerId } from "../lib/clock.ts";
import type {
  Connection,
  ConnectionInfo,
  InboundLine,
  QueueWatcher,
} from "../lib/server/room/connection.ts";
import {
  Accounts,
  type PeerCertificate,
} from "../lib/server/access/accounts.ts";
import type { ServerConfig } from "../lib/server/config.ts";
import { Gate } from "../lib/server/access/gate.ts";
import { LoginLimiter } from "../lib/server/access/login_limiter.ts";
import { Moderation } from "../lib/server/access/moderation.ts";
import { PasswordChecker } from "../lib/server/access/passwords.ts";
import { openStore } from "../lib/server/storage/store.ts";

/** A clock that stands still until {@linkcode FakeClock.advance}. */
export class FakeClock implements Clock {
  #now = 1_700_000_000_000;
  #next = 1;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #set = Promise.withResolvers<void>();

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    this.#set.resolve();
    this.#set = Promise.withResolvers();
    return id;
  }

  clearTimeout(id: TimerId | undefined): void {
    if (id !== undefined) this.#timers.delete(id);
  }

  /** Timers not yet run. */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Resolves once a timer due `ms` from now is pending, set before the call
   * or after: code whose progress comes from real I/O (a server reading a
   * socket) is waiting on this clock, and time may move on. Fails after
   * `timeoutMs` of real time.
   */
  async waitForTimer(ms: number, timeoutMs = 5000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), timeoutMs);
    });
    try {
      while (
        ![...this.#timers.values()].some(({ at }) => at === this.#now + ms)
      ) {
        if (await Promise.race([this.#set.promise, late]) === "late") {
          assert.fail(`No timer due in ${ms} ms set within ${timeoutMs} ms`);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Lets pending promise reactions run, then moves time forward by `ms`,
   * running every timer that falls due, in order (timers they start run too
   * if they fall due), with promise reactions after each.
   */
  async advance(ms: number): Promise<void> {
    await settle(); // what was set in motion before time moves runs first
    const until = this.#now + ms;
    while (true) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= until && (!due || entry[1].at < due[1].at)) {
          due = entry;
        }
      }
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
      await settle();
    }
    this.#now = until;
    await settle();
  }
}

/** Lets pending promise reactions run (microtasks only, no timers). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * A connection driven by the test: {@linkcode receive} feeds inbound lines,
 * {@linkcode nextSent} awaits what the session sends, {@linkcode full}
 * makes the outbound queue refuse lines.
 */
export class FakeConnection implements Connection {
  readonly info: ConnectionInfo;
  /** Lines sent, decoded, without the LF. */
  readonly sent: string[] = [];
  /** Set to make `send` report a full queue. */
  full = false;
  /** Who watches the queue's watermark: call it to play the queue. */
  queueWatcher: QueueWatcher | null = null;
  /** The last line given to `close`, once closed (null: none). */
  closedWith: string | null | undefined = undefined;
  aborted = false;
  #inbound: (InboundLine[] | null | Error)[] = [];
  #wakeReader: (() => void) | null = null;
  #read = 0;
  #changed = Promise.withResolvers<void>();

  constructor(
    address = "127.0.0.1:5000",
    certificate: PeerCertificate | null = null,
  ) {
    const host = address.slice(0, address.lastIndexOf(":"));
    this.info = { door: "tls", host, address, certificate };
  }

  /** Feeds lines as the peer sending them at once (text or markers). */
  receive(...lines: (string | InboundLine)[]): void {
    this.#inbound.push(
      lines.map((line) =>
        typeof line === "string" ? encoder.encode(line) : line
      ),
    );
    this.#wakeReader?.();
  }

  /** Ends the input, as a peer closing its side. */
  end(): void {
    this.#inbound.push(null);
    this.#wakeReader?.();
  }

  /** Fails the input with `error`, after the lines received before. */
  fail(error: Error): void {
    this.#inbound.push(error);
    this.#wakeReader?.();
  }

  async *lines(): AsyncGenerator<Iterable<InboundLine>> {
    while (this.closedWith === undefined && !this.aborted) {
      const batch = this.#inbound.shift();
      if (batch === null) return;
      if (batch instanceof Error) throw batch;
      if (batch === undefined) {
        await new Promise<void>((resolve) => this.#wakeReader = resolve);
        this.#wakeReader = null;
        continue;
      }
      yield this.#live(batch);
    }
  }

  /** A batch's lines, while the connection is open (as a real one does). */
  *#live(batch: InboundLine[]): Generator<InboundLine> {
    for (const line of batch) {
      if (this.closedWith !== undefined || this.aborted) return;
      yield line;
    }
  }

  send(line: Uint8Array): boolean {
    if (this.closedWith !== undefined) return true;
    if (this.full) return false;
    this.sent.push(decoder.decode(line).replace(/\n$/, ""));
    this.#change();
    return true;
  }

  /** What its queue holds (set by a test). */
  queued = 0;

  watchQueue(watcher: QueueWatcher): void {
    this.queueWatcher = watcher;
  }

  close(last?: Uint8Array): Promise<void> {
    if (this.closedWith === undefined) {
      this.closedWith = last ? decoder.decode(last).replace(/\n$/, "") : null;
      this.#wakeReader?.();
      this.#change();
    }
    return Promise.resolve();
  }

  abort(): void {
    this.aborted = true;
    this.#wakeReader?.();
  }

  /** Resolves with the next line sent that the test has not read yet. */
  async nextSent(): Promise<string> {
    while (this.#read === this.sent.length) {
      if (this.closedWith !== undefined) {
        assert.fail(
          `Closed (${this.closedWith}) with nothing more sent; sent:\n${
            this.sent.join("\n")
          }`,
        );
      }
      await this.#waitForChange("a line to be sent");
    }
    return this.sent[this.#read++]!;
  }

  /** Resolves once the connection is closed; returns its last line. */
  async closed(): Promise<string | null> {
    while (this.closedWith === undefined) {
      await this.#waitForChange("the connection to close");
    }
    return this.closedWith;
  }

  #change(): void {
    this.#changed.resolve();
    this.#changed = Promise.withResolvers();
  }

  /** Waits for the next send or close; fails after 2 s of real time. */
  async #waitForChange(what: string): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), 2000);
    });
    const outcome = await Promise.race([this.#changed.promise, late]);
    clearTimeout(timer);
    if (outcome === "late") {
      assert.fail(`Waited in vain for ${what}; sent:\n${this.sent.join("\n")}`);
    }
  }
}

/**
 * A gate over a fresh database in memory (accounts, bans, topic), on
 * `clock`, with the config's login limits.
 */
export function testGate(
  clock: Clock,
  config: ServerConfig,
  roomPassword: string | null = null,
): Gate {
  const { db } = openStore(null);
  const accounts = new Accounts(db);
  return new Gate({
    accounts,
    moderation: new Moderation(db, clock),
    limiter: new LoginLimiter(clock, {
      burst: config.loginAttempts,
      targetBurst: config.accountAttempts,
      refillMs: config.loginRefillMs,
      known: accounts,
    }),
    checker: new PasswordChecker(),
    roomPassword,
    accountsOnly: config.accountsOnly,
  });
}
