/**
 * What the client sends, in the order given: each line gets the prefix of
 * the room it acts in and, with `ids`, its id, and waits while a `/join`
 * or `/part` before it waits for the server's answer, so that a line typed
 * or piped after `/join #room` goes to that room. It never reads the
 * server: {@linkcode RoomState} and {@linkcode PendingLines} are told what
 * it says.
 *
 * @module
 */

import type { PendingLines } from "./pending.ts";
import type { RoomState } from "./rooms.ts";

/** Sends whole lines (the connection's `send`). */
export type SendLine = (line: string) => Promise<void>;

/**
 * Whether lines can be sent now: a client that reconnects holds them back
 * (untagged: a line gets its id when it goes) while it has no connection.
 */
export interface Gate {
  /** Whether a connection takes lines now. */
  readonly open: boolean;
  /** Resolves once it does. */
  ready(): Promise<void>;
}

const ALWAYS_OPEN: Gate = { open: true, ready: () => Promise.resolve() };

/**
 * Lines to send, one at a time, in order.
 *
 * @example A line after /join waits for the server's CURRENT
 * ```ts
 * import assert from "node:assert/strict";
 * import { Outbox } from "./outbox.ts";
 * import { PendingLines } from "./pending.ts";
 * import { RoomState } from "./rooms.ts";
 *
 * const sent: string[] = [];
 * const rooms = new RoomState("bot");
 * rooms.enabled = true;
 * const outbox = new Outbox(rooms, new PendingLines(), async (line) => {
 *   sent.push(line);
 * });
 * await outbox.send("/join #ops");
 * const next = outbox.send("deploy done");
 * await Promise.resolve();
 * assert.deepEqual(sent, ["/join #ops"]);
 * rooms.see(null, { type: "CURRENT", room: "#ops" });
 * await next;
 * assert.deepEqual(sent, ["/join #ops", "#ops deploy done"]);
 * ```
 */
export class Outbox {
  readonly #rooms: RoomState;
  readonly #pending: PendingLines;
  readonly #send: SendLine;
  readonly #gate: Gate;
  #last: Promise<void> = Promise.resolve();
  #waiting = 0;

  /** An outbox sending through `send` whenever `gate` is open. */
  constructor(
    rooms: RoomState,
    pending: PendingLines,
    send: SendLine,
    gate: Gate = ALWAYS_OPEN,
  ) {
    this.#rooms = rooms;
    this.#pending = pending;
    this.#send = send;
    this.#gate = gate;
  }

  /** How many lines given are not sent yet. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Sends `line` after the lines given before it, once no room change
   * waits and the gate is open; resolves when it was handed to the
   * connection.
   */
  send(line: string): Promise<void> {
    return this.#queue(async () => {
      const { room, line: rest } = this.#rooms.toSend(line);
      await this.#send(this.#pending.tag(rest, room));
    });
  }

  /** Sends `line` as it is (a line sent before, with its id), in order. */
  resend(line: string): Promise<void> {
    return this.#queue(() => this.#send(line));
  }

  #queue(send: () => Promise<void>): Promise<void> {
    this.#waiting++;
    const sent = this.#last.then(async () => {
      do {
        await this.#gate.ready();
        await this.#rooms.settled();
      } while (!this.#gate.open);
      await send();
    }).finally(() => this.#waiting--);
    this.#last = sent.catch(() => {});
    return sent;
  }

  /**
   * Joins `rooms` in order (each with the key it was entered with before,
   * if any), queued at once (before any line given meanwhile); resolves
   * once the last `/join` was sent.
   */
  async join(rooms: readonly string[]): Promise<void> {
    await Promise.all(
      rooms.map((room) => this.send(this.#rooms.joinLine(room))),
    );
  }

  /**
   * Resolves once every line given was sent, each line with an id was
   * answered, and no room change waits.
   */
  async idle(): Promise<void> {
    await this.#last;
    await this.#pending.idle();
    await this.#rooms.settled();
  }
}
