/**
 * One client, as a protocol state machine over a {@linkcode Connection}:
 * the greeting and the alias exchange (its login dialogue, `login.ts`,
 * with a password when the gate asks for one), then one line at a time
 * (taken in under flood control, `intake.ts`, then its commands,
 * `commands.ts`) until it ends: this module is its life cycle. It
 * knows nothing of TLS or sockets, and time comes from an injected clock,
 * so it can be tested with a fake connection and a fake clock. Every phase
 * has a deadline (alias, idle: `session_deadlines.ts`), so no session
 * lingers silently. A session never throws: whatever happens ends this
 * session only, with a `BYE` line when one can still be sent.
 *
 * @module
 */

import {
  type ByeReason,
  encodeServerLine,
  type LeaveReason,
} from "../../server_lines.ts";
import {
  type Connection,
  InputOverflowError,
  type SendOptions,
} from "./connection.ts";
import type { Moderated } from "./moderator.ts";
import type { CommandContext } from "./commands.ts";
import type { EndOptions } from "./intake.ts";
import { LEAVE_FOR_END } from "./member.ts";
import { hashResumeToken, type TakeoverProof } from "./hold.ts";
import {
  offerResume,
  takeElsewhere,
  takeHeld,
  TAKEN_OVER,
  welcomeBack,
} from "./takeover.ts";
import type { Phase } from "./session_deadlines.ts";
import { SessionOutput } from "./session_output.ts";

/** What a session needs from its server. */
export interface SessionContext extends CommandContext<Session> {
  /** A fresh id, unique among the room's members, on every server. */
  readonly nextId: () => string;
}

/** One client connection; a member of the room once joined. */
export class Session extends SessionOutput<Session> implements Moderated {
  /** Its member id (another server's, when it takes that member over). */
  id: string;
  alias = "";
  /** Its connection: a new one when it is taken over (`hold.ts`). */
  conn: Connection;
  /** Resolves when the connection is closed (the member left, or is held). */
  readonly finished: Promise<void>;
  #phase: Phase = "alias";
  /** How it leaves the room, once `end` decided it. */
  #left: [LeaveReason, string] | undefined;
  /** The held member that took this one's connection over, if any. */
  #heir: Session | null = null;

  /** Starts serving a connection whose transport is ready (handshaken). */
  constructor(conn: Connection, context: SessionContext) {
    super(context);
    this.id = context.nextId();
    this.conn = conn;
    context.room.metrics.doors[conn.info.door].connections++;
    this.finished = this.#run();
  }

  /** Queues a line; false means the queue is full (the room decides). */
  deliver(line: Uint8Array, options?: SendOptions): boolean {
    return this.#phase === "held" || this.queue(line, options);
  }

  /** What its connection's queue holds now. */
  get queued(): number {
    return this.conn.queued;
  }

  /** Whether a member may be taken over: held, or in (half-open). */
  static #takeable = (member: Session) =>
    member.#phase === "held" || member.#phase === "joined";

  /** Whether it is held: its connection dropped, it may come back. */
  get away(): boolean {
    return this.#phase === "held";
  }

  /**
   * Ends the session: leaves the room if still in it (announced with the
   * matching reason, except at shutdown), sends `BYE reason text` and
   * closes the connection within the close grace. Idempotent.
   */
  override close(reason: ByeReason, text: string): void {
    if (this.#heir) return this.#heir.close(reason, text);
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
    this.context.room.metrics.ended(reason);
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
    if (this.#heir) return this.#heir.abort();
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
        this.arm(this.context.config.aliasTimeoutMs);
        served = this.readLines();
      } else {
        served = Promise.resolve();
      }
    } catch (error) {
      served = Promise.reject(error);
    }
    return this.#after(served, this.conn);
  }

  #after(served: Promise<void>, conn: Connection): Promise<void> {
    return served
      .catch((error) => this.#failed(error))
      .finally(() => this.#ended(conn));
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
      this.logError(error);
    }
  }

  /**
   * The peer closed its side or the connection failed: the member is held
   * if it may come back, or the others hear of a disconnect; whatever is
   * queued is still flushed. A connection handed over: its heir serves it.
   */
  async #ended(conn: Connection): Promise<void> {
    const heir = this.#heir;
    if (heir) return heir.#after(heir.readLines(), conn);
    // A connection this member was taken from (`#takeOver`): closed already.
    if (conn !== this.conn) return conn.close();
    if (this.#phase !== "closing") {
      if (this.unsettled) await this.settle();
      if (!this.#hold()) this.end("disconnect", "");
    }
    await conn.close();
    // Each connection is counted down once: here, by whoever served it last.
    this.context.room.metrics.doors[conn.info.door].connections--;
  }

  /**
   * Holds the member whose connection dropped, when it turned `resume` on
   * and holding is on: no `LEAVE` until its grace ends (`hold.ts`).
   */
  #hold(): boolean {
    const { room, log } = this.context;
    if (this.#phase !== "joined" || !this.resumeOn) return false;
    if (!room.holds.hold(this, () => this.end("disconnect", ""))) return false;
    this.#stop();
    this.#phase = "held";
    room.reportQueue(this, false);
    log.info("held", { alias: this.alias, addr: this.address });
    return true;
  }

  /** `/resume ... TOKEN`: its member takes this connection over, or ERR. */
  protected override resumeToken(token: string): Promise<void> | void {
    const { room } = this.context;
    const held = takeHeld(room, this, { token }, Session.#takeable);
    if (held !== null) return held.#takeOver(this);
    // Perhaps a member of another server of the cluster.
    const tokenHash = hashResumeToken(token).toString("hex");
    const proof = { tokenHash, roomsOn: this.roomsOn };
    return this.#takeElsewhere(proof).then((taken) =>
      taken ? undefined : super.resumeToken(token)
    );
  }

  /**
   * This member (held, or live: its connection is closed) takes over the
   * connection of `from` (not joined), unseen; `from`'s `#ended` hands it on.
   */
  #takeOver(from: Session): void {
    if (this.#phase === "joined") this.#letGo();
    from.#stop();
    from.#heir = this;
    this.conn = from.conn;
    this.adoptDialogue(from);
    this.resumeIntake();
    this.#welcomeBack();
  }

  /** Becomes the member of another server `proof` names; false: none. */
  async #takeElsewhere(proof: TakeoverProof): Promise<boolean> {
    const taken = await takeElsewhere(this.context.room, proof, (was) => {
      this.id = was.id;
      this.alias = was.alias;
      this.adoptAccount(was.account);
      return this;
    });
    if (taken === null) return false;
    if (this.ending()) this.#leaveRoom(); // dropped meanwhile
    else this.#welcomeBack();
    return true;
  }

  /** A member taken over: in the room again, told so (`welcomeBack`). */
  #welcomeBack(): void {
    const { room, log, config } = this.context;
    this.#phase = "joined";
    this.#left = undefined;
    this.heard();
    this.recheckMute();
    welcomeBack(room, this, (line) => this.answer(line));
    this.conn.watchQueue((above) => room.reportQueue(this, above));
    log.info("resumed", { alias: this.alias, addr: this.address });
    this.arm(config.idleTimeoutMs / 2);
  }

  /** Closes its connection, which a new one takes over; it stays. */
  #letGo(): void {
    const { room, log } = this.context;
    this.stopWaiting();
    room.reportQueue(this, false);
    log.info("replaced", { alias: this.alias, addr: this.address });
    this.conn.close(encodeServerLine(TAKEN_OVER));
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
    return this.context.room.replies.epoch;
  }

  /** The phase it is in (its deadlines read it). */
  protected override get phase(): Phase {
    return this.#phase;
  }

  /**
   * Takes an alias the login dialogue allowed: renames in the room, or
   * joins it (the member enters once the directory has its alias, and its
   * JOIN is stored). An account's read markers are loaded first, at join
   * and when a `/nick` takes the account's own alias.
   */
  protected override take(
    alias: string,
    own: boolean,
    rename: boolean,
  ): Promise<void> | void {
    const { room, log } = this.context;
    // An account coming back to its alias, held or not, takes it over.
    const held = own && !rename
      ? takeHeld(room, this, { account: alias }, Session.#takeable)
      : null;
    if (held) return held.#takeOver(this);
    if (rename) {
      const old = this.alias;
      const renamed = () =>
        log.info("rename", { alias: old, to: this.alias, addr: this.address });
      const renaming = () =>
        room.rename(this, alias, { replace: own }).then(renamed);
      // An account is only ever taken with its own alias.
      return own ? this.#markersFirst(renaming) : renaming();
    }
    const join = () =>
      room.join(this, alias, {
        replace: own,
        onEnter: () => this.#enterRoom(),
      }).then(() => this.#joined(alias));
    // Its alias claimed on another server: taken over there, or joined.
    return this.#markersFirst(
      own
        ? () =>
          this.#takeElsewhere({ account: this.account!, roomsOn: this.roomsOn })
            .then((taken) => taken ? undefined : join())
        : join,
    );
  }

  /**
   * Runs `next` once its account's read markers (where it starts in a room,
   * what `READ` says) and, in a cluster, rooms are loaded, whether it
   * logged in with its alias or by a later `/nick` (password, certificate).
   */
  #markersFirst(next: () => Promise<void>): Promise<void> {
    const { reads, room } = this.context;
    if (this.account === null || reads === undefined) return next();
    const rooms = room.router.rooms.keeper.fetch(this.account);
    return Promise.all([reads.load(this), rooms])
      .then(() => this.ending() ? undefined : next());
  }

  /**
   * Entering, right after `WELCOME` and before any live line: the topic
   * and history (so that no line is both, and none is neither). The room
   * watches this member's queue from then on, once that replay is written
   * (a replay above the watermark holds nobody up).
   */
  #enterRoom(): void {
    const { room } = this.context;
    room.router.login(this);
    this.rejoinRooms();
    if (this.resumeOn) offerResume(room, this, (line) => this.answer(line));
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
    this.arm(config.idleTimeoutMs / 2);
  }

  /** The member itself, as the room knows it. */
  protected override get self(): Session {
    return this;
  }

  /** `/quit`: the session ends, and the others see `leaveText`. */
  protected override quit(leaveText: string): void {
    this.end("quit", "Goodbye", { leaveText });
  }

  /** Enters the closing phase: no more timers, no more throttling waits. */
  #stop(): void {
    this.#phase = "closing";
    this.disarm();
    this.stopWaiting();
  }
}
