/**
 * A member's lines taken in, whatever phase it is in: read a batch at a
 * time, nothing handled while the room is congested, each line's flood
 * token taken (over the rate: delayed, warned once, dropped after a whole
 * burst), and what the room log has not handed on yet settled before
 * anything that is answered at once, so that replies keep the lines'
 * order. Each line then goes to the login dialogue or the commands. A base
 * class of the session, between its commands and its life cycle, so that a
 * member costs no object of its own for it.
 *
 * @module
 */

import { sleep, untilAborted } from "../../clock.ts";
import { LINE_ENDLESS, LINE_TOO_LONG } from "../../framing.ts";
import { TokenBucket } from "../../flood.ts";
import { decodeLine, ProtocolError } from "../../protocol.ts";
import type { ByeReason } from "../../server_lines.ts";
import type { InboundLine } from "./connection.ts";
import { ChatCommands, type CommandContext, plainChat } from "./commands.ts";
import type { Moderated } from "./moderator.ts";

/** Options of {@linkcode LineIntake.end}. */
export interface EndOptions {
  /**
   * False for a peer still pouring junk in: its connection is released as
   * soon as the `BYE` is written.
   * @default {true}
   */
  readonly linger?: boolean;
  /** What the others see in its `LEAVE` line. @default {""} */
  readonly leaveText?: string;
}

/** The line intake of a member `M` (the session itself). */
export abstract class LineIntake<M extends Moderated> extends ChatCommands<M> {
  #intake: CommandContext<M>;
  #bucket: TokenBucket;
  /** A line of this member went to the room log and may not be out yet. */
  #unsettled = false;
  #strikes = 0;
  /** The server's stalls as of this member's last batch (`stalls.ms`). */
  #stalledMs: number;
  /** Aborts a throttling wait on close; made on first use (memory). */
  #closing: AbortController | null = null;

  /** An intake with a full flood bucket. */
  constructor(context: CommandContext<M>) {
    super(context);
    const { config, clock } = context;
    this.#intake = context;
    this.#stalledMs = context.stalls?.ms ?? 0;
    this.#bucket = new TokenBucket(
      config.floodRate,
      config.floodBurst,
      () => clock.now(),
    );
  }

  /**
   * Ends the session, whatever ends it, with `BYE reason text` unless the
   * peer is gone (`disconnect`).
   */
  protected abstract end(
    reason: ByeReason | "disconnect",
    text: string,
    options?: EndOptions,
  ): void;
  /** A line came in (the idle deadline counts from now). */
  protected abstract heard(): void;

  /** What the session's server gave it. */
  protected get context(): CommandContext<M> {
    return this.#intake;
  }

  /** Whether a line of this member may not be out of the room log yet. */
  protected get unsettled(): boolean {
    return this.#unsettled;
  }

  /** Takes lines in again, on the new connection of a member taken over. */
  protected resumeIntake(): void {
    this.#closing = null;
    this.#unsettled = false;
    this.#strikes = 0;
    this.#stalledMs = this.#intake.stalls?.ms ?? 0;
  }

  /** Ends a throttling or congestion wait (the session is closing). */
  protected stopWaiting(): void {
    this.#closing?.abort();
  }

  /**
   * Handles lines as they come, a batch at a time: synchronously unless a
   * line must wait for flood control, so that the replies to a whole batch
   * leave in one write.
   */
  protected async readLines(): Promise<void> {
    const { room } = this.#intake;
    // A member taken over by a new connection reads that one from then on.
    const conn = this.conn;
    for await (const batch of conn.lines()) {
      if (this.conn !== conn) return;
      this.#excuseStalls();
      for (let line of batch) {
        if (this.conn !== conn) return;
        // While the room is congested, nothing more is handled (and the
        // connection stops reading: TCP pushes back on the sender).
        if (room.congested && !await this.#uncongested()) return;
        // A line that went through the room log reaches everyone (its
        // sender too) once the log has it. Anything that may be answered
        // at once (a command, an error) waits for that, so that replies
        // come in the order of the lines; plain chat lines follow each
        // other through the log in order anyway, in one batch.
        if (this.#unsettled) {
          // A line after a join waits for it: it may be for the new room.
          const waits = this.mayBeMuted ||
            (this.roomsOn && room.router.rooms.joining(this.self));
          const chat = waits ? null : plainChat(line, this.lineIds);
          if (chat === null) {
            await this.settle();
            if (this.ending()) return;
          } else {
            line = chat;
          }
        }
        const waitMs = this.conn === conn ? this.#arrive(line) : -1;
        if (waitMs < 0) return;
        if (waitMs > 0) {
          this.#strikes++;
          room.metrics.floodDelayed++;
          if (!await this.#throttle(waitMs) || this.conn !== conn) return;
        } else {
          this.#strikes = 0;
        }
        const before = room.appended;
        const handled = this.#handle(
          line as Exclude<InboundLine, typeof LINE_ENDLESS>,
        );
        if (handled) await handled;
        if (room.appended !== before) this.#unsettled = true;
        if (this.ending()) return;
      }
    }
  }

  /**
   * Notes a line's arrival and takes its flood token: returns how long it
   * must wait (0: none), or -1 when the session is over.
   */
  #arrive(line: InboundLine): number {
    const { config } = this.#intake;
    if (this.ending()) return -1;
    this.heard();
    if (line === LINE_ENDLESS) {
      this.end(
        "line-too-long",
        `Disconnected: a line went on past ${config.maxSkipBytes} bytes`,
        { linger: false },
      );
      return -1;
    }
    return this.#bucket.take();
  }

  /**
   * Excuses the time the server's event loop stood still since this
   * member's last batch: lines the member sent at its rate meanwhile are
   * read only now, at once, and are no flood. Only the last stall: a
   * member that sent anything during an earlier one was read after it
   * (the loop reads between two stalls), so one that was not sent nothing
   * then, and those stalls, added up, would excuse a flood.
   */
  #excuseStalls(): void {
    const { stalls } = this.#intake;
    if (stalls === undefined) return;
    const stalledMs = stalls.ms;
    this.#bucket.excuse(
      Math.min(stalledMs - this.#stalledMs, stalls.latestMs),
    );
    this.#stalledMs = stalledMs;
  }

  /**
   * Waits until the room is no longer congested; false when the session
   * ended meanwhile. The time waited is not held against its flood bucket:
   * all of it, as one excuse, when the room is congested again as the
   * member wakes (another sender went first) and it waits on.
   */
  async #uncongested(): Promise<boolean> {
    const { clock, room } = this.#intake;
    const since = clock.now();
    this.#closing ??= new AbortController();
    const { signal } = this.#closing;
    if (signal.aborted) return false;
    try {
      while (room.congested && !signal.aborted && !this.ending()) {
        await untilAborted(room.uncongested(), signal);
      }
    } finally {
      this.#bucket.excuse(clock.now() - since);
      // The wait excused its whole time, stalls in it included.
      this.#stalledMs = this.#intake.stalls?.ms ?? 0;
    }
    return !signal.aborted && !this.ending();
  }

  /** Waits until the room log has handed on what this member sent. */
  protected async settle(): Promise<void> {
    this.#unsettled = false;
    await this.#intake.room.settled();
  }

  /**
   * Delays a line of a client over its rate; returns false when the client
   * has stayed over it for a whole burst and is disconnected.
   */
  async #throttle(waitMs: number): Promise<boolean> {
    const { config, clock } = this.#intake;
    // What it sent before is answered before it hears of flooding.
    if (this.#unsettled) await this.settle();
    if (this.ending()) return false;
    if (this.#strikes > config.floodBurst) {
      this.end(
        "flood",
        `Disconnected for flooding: kept sending more than ${config.floodRate} lines per second`,
        { leaveText: "kicked for flooding" },
      );
      return false;
    }
    if (this.#strikes === 1) {
      this.#sendError(
        new ProtocolError(
          "flood",
          `Slow down: more than ${config.floodRate} lines per second; your lines are delayed, and you will be disconnected if you keep on`,
        ),
      );
    }
    this.#closing ??= new AbortController();
    const waited = await sleep(clock, waitMs, this.#closing.signal);
    return waited && !this.ending();
  }

  /**
   * Handles one line; returns a promise only when the line must be waited
   * for (a password being checked), so that other lines stay synchronous.
   */
  #handle(
    line: Exclude<InboundLine, typeof LINE_ENDLESS>,
  ): Promise<void> | void {
    try {
      if (line === LINE_TOO_LONG) {
        throw new ProtocolError(
          "line-too-long",
          `Line dropped: longer than ${this.#intake.config.maxLineBytes} bytes`,
        );
      }
      const text = typeof line === "string" ? line : decodeLine(line);
      const handled = this.choosingAlias()
        ? this.aliasLine(text)
        : this.command(text);
      return handled?.catch((error) => this.#refuse(error));
    } catch (error) {
      this.#refuse(error);
    }
  }

  /** Sends a protocol error back; anything else is a bug and propagates. */
  #refuse(error: unknown): void {
    if (!(error instanceof ProtocolError)) throw error;
    this.#sendError(error);
  }

  #sendError(error: ProtocolError): void {
    this.answer({ type: "ERR", code: error.code, text: error.message });
  }
}
