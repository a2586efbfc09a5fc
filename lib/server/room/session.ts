/**
 * One client, as a protocol state machine over a {@linkcode Connection}:
 * the greeting and the alias exchange (its login dialogue, `login.ts`,
 * with a password when the gate asks for one), then one line at a time
 * (taken in under flood control, `intake.ts`, then its commands,
 * `commands.ts`) until it ends: this module is its life cycle. It
 * knows nothing of TLS or sockets, and time comes from an injected clock,
 * so it can be tested with a fake connection and a fake clock. Every phase
 * has a deadline (alias, idle), so no session lingers silently. A session
 * never throws: whatever happens ends this session only, with a `BYE` line
 * when one can still be sent.
 *
 * @module
 */

import { type Deadline, deadlinesOf } from "./deadlines.ts";
import { describeError } from "../../log.ts";
import {
  type ByeReason,
  encodeServerLine,
  type LeaveReason,
  type ServerLine,
} from "../../server_lines.ts";
import {
  type Connection,
  InputOverflowError,
  isDisconnect,
  type SendOptions,
} from "./connection.ts";
import type { Moderated } from "./moderator.ts";
import type { CommandContext } from "./commands.ts";
import { type EndOptions, LineIntake } from "./intake.ts";
import { SLOW_TEXT } from "./member.ts";

/** What a session needs from its server. */
export interface SessionContext extends CommandContext<Session> {
  /** A fresh id, unique among the room's members, on every server. */
  readonly nextId: () => string;
}

type Phase = "alias" | "joined" | "closing";

/**
 * How the others hear that a session ended, by its goodbye (`disconnect`:
 * the peer went, no goodbye; and any goodbye not listed).
 */
const LEAVE_FOR_END: Partial<Record<ByeReason | "disconnect", LeaveReason>> = {
  disconnect: "disconnect",
  quit: "quit",
  timeout: "timeout",
  flood: "flood",
  slow: "slow",
  shutdown: "shutdown",
  "line-too-long": "line-too-long",
  kicked: "kicked",
  banned: "banned",
  replaced: "replaced",
  "server-lost": "server-lost",
};

/** One client connection; a member of the room once joined. */
export class Session extends LineIntake<Session> implements Moderated {
  readonly id: string;
  alias = "";
  readonly conn: Connection;
  /** Resolves when the connection is closed and the member has left. */
  readonly finished: Promise<void>;
  #phase: Phase = "alias";
  /** How it leaves the room, once `end` decided it. */
  #left: [LeaveReason, string] | undefined;
  #lastSeenMs: number;
  #pinged = false;
  /** The deadline of the current phase, on the clock's shared timer. */
  #deadline: Deadline | undefined;

  /** Starts serving a connection whose transport is ready (handshaken). */
  constructor(conn: Connection, context: SessionContext) {
    super(context);
    this.id = context.nextId();
    this.conn = conn;
    this.#lastSeenMs = context.clock.now();
    this.finished = this.#run();
  }

  /** Queues a line; false means the queue is full (the room decides). */
  deliver(line: Uint8Array, options?: SendOptions): boolean {
    return this.conn.send(line, options);
  }

  /**
   * Ends the session: leaves the room if still in it (announced with the
   * matching reason, except at shutdown), sends `BYE reason text` and
   * closes the connection within the close grace. Idempotent.
   */
  override close(reason: ByeReason, text: string): void {
    this.end(reason, text);
  }

  /**
   * Ends the session, whatever ends it: the one place where it leaves the
   * room (how the others hear of it is {@linkcode LEAVE_FOR_END}'s), then
   * says `BYE reason text` unless the peer is gone (`disconnect`).
   */
  protected override end(
    reason: ByeReason | "disconnect",
    text: string,
    options: EndOptions = {},
  ): void {
    if (this.#phase === "closing") return;
    this.#stop();
    this.#left = [
      LEAVE_FOR_END[reason] ?? "disconnect",
      options.leaveText ?? "",
    ];
    this.#leaveRoom();
    if (reason === "disconnect") return;
    this.conn.close(encodeServerLine({ type: "BYE", reason, text }), {
      linger: options.linger ?? true,
    });
  }

  /**
   * Leaves the room as `end` decided; again when a join it was waiting
   * for lands after the session ended.
   */
  #leaveRoom(): void {
    const [reason, text] = this.#left ?? ["disconnect", ""];
    this.context.room.leave(this, reason, text);
  }

  /** Closes the connection at once, without a goodbye (end of shutdown). */
  abort(): void {
    this.#stop();
    this.conn.abort();
  }

  /**
   * Serves the connection until it closes. Never rejects. A promise chain
   * around `readLines`, not an async function: an idle member holds one
   * suspended frame, not two.
   */
  #run(): Promise<void> {
    let served: Promise<void>;
    try {
      if (this.greet()) {
        this.#arm(this.context.config.aliasTimeoutMs);
        served = this.readLines();
      } else {
        served = Promise.resolve();
      }
    } catch (error) {
      served = Promise.reject(error);
    }
    return served
      .catch((error) => this.#failed(error))
      .finally(() => this.#ended());
  }

  /** Reading failed: a flood's goodbye, or the error logged. */
  async #failed(error: unknown): Promise<void> {
    if (error instanceof InputOverflowError) {
      // Its lines that others get are echoed to it before the goodbye.
      if (this.unsettled) await this.settle();
      this.close(
        "flood",
        "Disconnected for flooding: sending much faster than the server reads",
      );
    } else {
      this.#logError(error);
    }
  }

  /**
   * The peer closed its side or the connection failed: the others hear of
   * a disconnect, and whatever is queued is still flushed.
   */
  async #ended(): Promise<void> {
    if (this.#phase !== "closing") {
      if (this.unsettled) await this.settle();
      this.end("disconnect", "");
    }
    await this.conn.close();
  }

  /** Sends the client one line of its own. */
  protected override answer(line: ServerLine): void {
    this.#send(line);
  }

  /** Whether no alias is taken yet. */
  protected override choosingAlias(): boolean {
    return this.#phase === "alias";
  }

  /** Whether the session is ending (a method, so that checks are not narrowed). */
  protected override ending(): boolean {
    return this.#phase === "closing";
  }

  /** The epoch of the room's log. */
  protected override get logEpoch(): string {
    return this.context.room.epoch;
  }

  /** A line came in: the idle deadline counts from now, unpinged. */
  protected override heard(): void {
    this.#lastSeenMs = this.context.clock.now();
    this.#pinged = false;
  }

  /**
   * Takes an alias the login dialogue allowed: renames in the room, or
   * joins it (the member enters once the directory has its alias, and its
   * JOIN is stored).
   */
  protected override take(
    alias: string,
    own: boolean,
    rename: boolean,
  ): Promise<void> | void {
    const { room, log } = this.context;
    if (rename) {
      const old = this.alias;
      const renamed = () =>
        log.info("rename", { alias: old, to: this.alias, addr: this.address });
      return room.rename(this, alias, { replace: own }).then(renamed);
    }
    return room.join(this, alias, {
      replace: own,
      onEnter: () => this.#enterRoom(),
    }).then(() => this.#joined(alias));
  }

  /**
   * Entering, right after `WELCOME` and before any live line: the topic
   * and history (so that no line is both, and none is neither). The room
   * watches this member's queue from then on, once that replay is written
   * (a replay above the watermark holds nobody up).
   */
  #enterRoom(): void {
    const { room } = this.context;
    room.router.enter(this, room.router.rooms.default);
    this.rejoinRooms();
    this.conn.watchQueue((above) => room.reportQueue(this, above));
  }

  /** In the room: the idle timer from now on. */
  #joined(alias: string): void {
    const { room, log, config } = this.context;
    if (this.ending()) {
      // Dropped while joining, or gone before the claim came back.
      this.#leaveRoom();
      return;
    }
    this.#phase = "joined";
    log.info("join", {
      alias,
      addr: this.address,
      account: this.account ?? undefined,
      online: room.size,
    });
    this.recheckMute();
    this.#arm(config.idleTimeoutMs / 2);
  }

  /** The member itself, as the room knows it. */
  protected override get self(): Session {
    return this;
  }

  /** `/quit`: the session ends, and the others see `leaveText`. */
  protected override quit(leaveText: string): void {
    this.end("quit", "Goodbye", { leaveText });
  }

  /** Queues a reply of this session's own (see `#reply`). */
  protected override reply(bytes: Uint8Array): void {
    this.#reply(bytes);
  }

  #send(line: ServerLine): void {
    this.#reply(encodeServerLine(line));
  }

  /**
   * Queues a reply of this session's own; a queue too full to take it
   * means a client that does not read: it ends with `BYE slow`.
   */
  #reply(bytes: Uint8Array): void {
    if (!this.conn.send(bytes)) this.close("slow", SLOW_TEXT);
  }

  /** Enters the closing phase: no more timers, no more throttling waits. */
  #stop(): void {
    this.#phase = "closing";
    deadlinesOf(this.context.clock).clear(this.#deadline);
    this.stopWaiting();
  }

  /**
   * (Re)starts the one deadline of the current phase: shared with every
   * session's, no timer of its own (memory per idle member).
   */
  #arm(ms: number): void {
    const deadlines = deadlinesOf(this.context.clock);
    deadlines.clear(this.#deadline);
    this.#deadline = ms > 0
      ? deadlines.set(() => this.#onDeadline(), ms)
      : undefined;
  }

  #onDeadline(): void {
    const { config, clock } = this.context;
    switch (this.#phase) {
      case "alias":
        return this.close(
          "timeout",
          `No alias chosen within ${config.aliasTimeoutMs / 1000} s`,
        );
      case "closing":
        return;
      case "joined": {
        const idleMs = config.idleTimeoutMs;
        const silentMs = clock.now() - this.#lastSeenMs;
        if (silentMs >= idleMs) {
          return this.close(
            "timeout",
            `Disconnected: silent for ${idleMs / 1000} s`,
          );
        }
        if (silentMs >= idleMs / 2 && !this.#pinged) {
          this.#pinged = true;
          this.#send({ type: "PING", token: String(clock.now()) });
        }
        const half = idleMs / 2 - silentMs;
        return this.#arm(half > 0 ? half : idleMs - silentMs);
      }
    }
  }

  #logError(error: unknown): void {
    const fields = { addr: this.address, error: describeError(error) };
    if (isDisconnect(error)) this.context.log.debug("disconnect", fields);
    else this.context.log.error("connection-error", fields);
  }
}
