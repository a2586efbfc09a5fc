/**
 * The chat room (with rooms on, every room of the server: each event goes
 * to its room's members only, see `#route`). Events go through the
 * {@linkcode RoomLog}, which orders them; the room fans each committed one
 * out by encoding it once and handing the same bytes to each member's
 * {@linkcode Member.deliver} in one synchronous loop (a sender with line ids
 * gets its own copy, with the id), so every member sees one order and the
 * room never waits on a socket. The room alone removes a member (its base
 * class's, `membership.ts`); who holds which alias is the
 * {@linkcode Directory}'s to say, whichever one it is: one code path.
 *
 * The room also says when it is congested ({@linkcode Room.congested},
 * kept by `flow.ts`); sessions then handle no more lines (and their
 * connections stop reading, so TCP pushes back on the senders) until it is
 * not. The fan-out is `fan_out.ts`'s, a joiner's entry (`WELCOME`, then
 * what it must see first once its `JOIN` went out) `joiners.ts`'s, what
 * it answers one member alone (`/who`, history, `/help`, `/msg`)
 * `replies.ts`'s, and what the room does with lines its log did not store
 * `unsent.ts`'s.
 *
 * @module
 */

import { validateAlias } from "../../protocol.ts";
import {
  formatServerLine,
  markNotice,
  type ServerLine,
} from "../../server_lines.ts";
import { type Clock, systemClock } from "../../clock.ts";
import { Joiners } from "./joiners.ts";
import { FanOut } from "./fan_out.ts";
import { Flow } from "./flow.ts";
import { PacedSends } from "./paced_sends.ts";
import { LineArena } from "./line_arena.ts";
import { formFor, type Member } from "./member.ts";
import { type JoinOptions, Membership } from "./membership.ts";
import { Replies } from "./replies.ts";
import {
  type AppendOptions,
  type AppendOutcome,
  type EventEffect,
  LineIdMaker,
  type RoomEvent,
  type RoomLine,
  type RoomLog,
  type UnsentLine,
} from "./room_log.ts";
import { ONE_ROOM, type RoomOptions, type RoomStats } from "./room_options.ts";
import { catchUpLimits } from "./room_options.ts";
import { RoomRouter } from "./room_router.ts";
import { RoomSet } from "./rooms.ts";
import { UnsentLines } from "./unsent.ts";

export type { RoomOptions, RoomStats } from "./room_options.ts";

/** One chat room: a set of members with unique, distinct-looking aliases. */
export class Room<M extends Member = Member> extends Membership<M> {
  readonly announceLimit: number;
  readonly stats: RoomStats = { joins: 0, messages: 0, peakMembers: 0 };
  /** What it answers one member alone: `/who`, history, `/help`, `/msg`. */
  readonly replies: Replies<M>;
  #log: RoomLog;
  /** Ids for the lines sent without one. */
  #lineIds = new LineIdMaker();
  /** Joiners entering, each in the step its `JOIN` is handed on. */
  #joiners: Joiners<M> = new Joiners({
    here: this.here,
    rooms: () => this.router.rooms,
    stats: this.stats,
    encode: (line) => this.#fan.encode(line),
    dropSlow: (members) => this.dropSlow(members),
  });
  #onEvent: ((event: RoomEvent) => void) | undefined;
  #fan: FanOut<M>;
  #appended = 0;
  /** The number of the last event handed on. */
  #handedOn = 0;
  #flow: Flow<M>;
  /** Private messages from other servers, paced (`paced_sends.ts`). */
  #fromElsewhere = new PacedSends<M>({
    ready: () => this.#flow.queuesClear(),
    send: (member, line) => this.#send(member, line, { room: true }),
    has: (member) => this.has(member),
  });
  #unsent: UnsentLines<M>;
  /** Where each event goes: the rooms (one server's, or a cluster's). */
  readonly router: RoomRouter<M>;

  /** Creates an empty room that orders its events in `options.log`. */
  constructor(options: RoomOptions<M>) {
    super(options);
    this.announceLimit = options.announceLimit;
    const arena = options.arena ?? new LineArena();
    this.#fan = new FanOut(arena, this.announceLimit, this.metrics);
    this.#onEvent = options.onEvent;
    const clock = options.clock ?? systemClock;
    this.#log = options.log;
    this.replies = new Replies({
      directory: this.directory,
      log: this.#log,
      historyBytes: options.historyBytes ?? Infinity,
      ...catchUpLimits(options.rooms, clock),
      stats: this.stats,
      send: (member, line) => this.#send(member, line),
      sendIn: (member, room, line) => this.sendIn(member, room, line),
      dropSlow: (members) => this.dropSlow(members),
    });
    this.#flow = this.#newFlow(options, clock);
    this.#unsent = new UnsentLines({
      clock,
      directory: this.directory,
      member: (id) => this.here.get(id),
      has: (member) => this.has(member),
      members: () => this.here.values(),
      send: (member, line) => this.#send(member, line),
      fan: this.#fan,
      defaultRoom: () => this.router.rooms.default.name,
      deliver: (member, bytes) => this.#deliver(member, bytes),
      dismiss: (member, reason, text) => this.dismiss(member, reason, text),
      reappend: (line, origin) => {
        this.#appended++;
        this.#log.append(line, origin);
      },
    });
    this.router = this.#route(options, arena, clock);
    this.#log.subscribe(
      (event) => this.#fanOut(event),
      (lost, outcome) => this.#lost(lost, outcome),
    );
    // What comes from other servers waits while a queue is over its mark.
    this.#log.pace?.(() => this.#flow.queuesClear());
    this.directory.attach({
      append: (line, origin) => this.#append(line, origin),
      tell: (member, line) => this.#fromElsewhere.send(member, line),
      dismiss: (member, reason, text, announced) =>
        announced
          ? this.dismissAnnounced(member, reason, text)
          : this.dismiss(member, reason, text),
      members: () => this.here.values(),
      forgetEveryone: () => this.router.rooms.replica.forgetEveryone(),
      restartRooms: (snapshot) => this.router.rooms.restart(snapshot),
      moved: (member) => this.moved(member),
    });
  }

  /** The room's flow control (`flow.ts`). */
  #newFlow(options: RoomOptions<M>, clock: Clock): Flow<M> {
    return new Flow({
      clock,
      stallMs: options.stallMs ?? Infinity,
      backlogBytes: options.backlogBytes ?? Infinity,
      settled: () => this.#log.settled(),
      has: (member) => this.has(member),
      dropSlow: (members) => this.dropSlow(members),
    });
  }

  /** The router of the rooms, from their snapshot (or the log's history). */
  #route(options: RoomOptions<M>, arena: LineArena, clock: Clock) {
    const rooms = options.rooms ?? ONE_ROOM;
    return new RoomRouter(
      new RoomSet<M>({
        ...rooms,
        arena,
        clock,
        metrics: this.metrics,
        announceLimit: options.announceLimit,
        // What the log keeps at hand is history of the rooms that exist now.
        events: rooms.snapshot ? undefined : this.#log.recent(Infinity),
        append: (line, room, effect) =>
          this.#append(line, "", { room, effect }),
      }),
      {
        here: this.here,
        send: (member, line) => this.#send(member, line),
        sendIn: (member, room, line) => this.sendIn(member, room, line),
        replies: this.replies,
        history: rooms.history,
        handedOn: () => this.#handedOn,
        startingPoints: options.startingPoints,
        barring: { clock, append: (r, l, m) => this.appendIn(r, l, m) },
      },
    );
  }

  /** Lines the log did not store: handed on as failed, their senders told. */
  #lost(lost: readonly UnsentLine[], outcome: AppendOutcome): void {
    this.#flow.handedOn();
    this.router.lost(lost, outcome);
    this.#unsent.unsent(lost, outcome);
  }

  /**
   * Undefined when every room line so far has reached the members;
   * otherwise a promise that resolves once it has (see
   * {@linkcode RoomLog.settled}).
   */
  override settled(): Promise<void> | undefined {
    return this.#log.settled();
  }

  /** How many lines were appended to the log so far. */
  get appended(): number {
    return this.#appended;
  }

  /**
   * Whether senders should wait: some member's queue is above its
   * watermark, or too much was appended that the log has not handed on.
   */
  get congested(): boolean {
    return this.#flow.congested;
  }

  /** Resolves once the room is no longer {@linkcode congested}. */
  uncongested(): Promise<void> {
    return this.#flow.uncongested();
  }

  /**
   * A member's queue went above its watermark (`above` true), or is back
   * at or below it (false). Its time above counts from the first report
   * since it was last below.
   */
  reportQueue(member: M, above: boolean): void {
    this.#flow.reportQueue(member, above);
  }

  /** Stops the room's timers (at shutdown: what is held is not stored). */
  close(): void {
    this.letHeldGo();
    this.#flow.close();
    this.#unsent.close();
    this.router.rooms.close();
  }

  /**
   * Adds a member under an alias once the {@linkcode Directory} has it
   * (and its `JOIN` is in the log), sends it `WELCOME` and announces it.
   * Rejects with a {@linkcode ProtocolError} when the alias is invalid,
   * reserved, taken, or looks like a present member's. A member whose queue
   * cannot take its `WELCOME` is told to close as too slow.
   *
   * @example Aliases are unique regardless of case, and distinct-looking
   * ```ts
   * import assert from "node:assert/strict";
   * import { type Clock, systemClock } from "../../clock.ts";
   * import { Room } from "./room.ts";
   * import { MemoryLog } from "./memory_log.ts";
   *
   * const room = new Room({ log: new MemoryLog(systemClock), announceLimit: 100 });
   * const inbox: string[] = [];
   * const member = (id: string) => ({
   *   id,
   *   alias: "",
   *   operator: false,
   *   deliver: (line: Uint8Array) => {
   *     inbox.push(`${id}: ${new TextDecoder().decode(line).trim()}`);
   *     return true;
   *   },
   *   close: () => {},
   * });
   * await room.join(member("a"), "Alice");
   * await assert.rejects(room.join(member("b"), "alice"), /taken/);
   * await assert.rejects(room.join(member("b"), "AIice"), /looks like/);
   * await room.join(member("b"), "Bob");
   * assert.deepEqual(inbox, [
   *   "a: WELCOME Alice 1 Type /help for commands",
   *   "b: WELCOME Bob 2 Type /help for commands",
   *   "a: JOIN Bob 2",
   * ]);
   * ```
   */
  // Async so that a refusal is a rejection; with a log in memory, the
  // member is in by the time it returns.
  // deno-lint-ignore require-await
  async join(
    member: M,
    alias: string,
    options: JoinOptions = {},
  ): Promise<void> {
    validateAlias(alias);
    return this.directory.claim(member, alias, {
      replace: options.replace ?? false,
      onJoin: () => this.#joiners.enter(member, options.onEnter),
    });
  }

  /**
   * Sends a message (`MSG`) or an action (`ME`) from a member to everyone,
   * the sender included, under `id` (the client's; none: a new one): a log
   * holding that id already stores it not again, the sender alone is echoed.
   * A `NOTICE` is a `MSG` marked as a notice (`markNotice`).
   */
  speak(
    type: "MSG" | "ME" | "NOTICE",
    member: M,
    text: string,
    id?: string,
    room?: string,
  ) {
    this.stats.messages++;
    const line: RoomLine = type === "NOTICE"
      ? markNotice({ type: "MSG", alias: member.alias, text }, true)
      : { type, alias: member.alias, text };
    this.#append(
      line,
      member.id,
      id === undefined
        ? { id: this.#lineIds.next(), newId: true, room }
        : { id, room },
    );
  }

  /**
   * Appends a line about room `room` (a join, a part) from `member`, with
   * what it does (a `JOIN`'s: the room's record) and its id, if it has one.
   */
  appendIn(
    room: string,
    line: RoomLine,
    member: { readonly id: string },
    options: Pick<AppendOptions, "effect" | "id"> = {},
  ): void {
    this.#append(line, member.id, { ...options, room });
  }

  /**
   * Announces a room event that is not a member's own line (the topic,
   * moderation) to everyone, in the room's order, with what it does
   * (`effect`: the topic, the bans and mutes in force after it; `target`:
   * the member a `MOD` names, by id).
   */
  announce(
    line: ServerLine<"TOPIC" | "MOD">,
    by: M,
    effect?: EventEffect,
    room?: string,
    target?: string,
  ): void {
    this.metrics.moderated(line.type === "TOPIC" ? "topic" : line.action);
    this.#append(line, by.id, { effect, room, target });
  }

  #append(line: RoomLine, origin: string, options?: AppendOptions): void {
    if (this.#unsent.holding) this.#unsent.appendHeld();
    this.#appended++;
    this.#log.append(line, origin, options);
    this.#flow.appended(line);
  }

  /** Sends one line to one member; drops the member if it cannot take it. */
  #send(member: M, line: ServerLine, options?: { room: boolean }): void {
    const bytes = this.#fan.encode(formFor(member, line));
    if (!member.deliver(bytes, options)) this.dropSlow([member]);
  }

  /** Sends one line with the `#room ` prefix to one member (as `#send`). */
  sendIn(member: M, room: string, line: ServerLine): void {
    const text = formatServerLine(formFor(member, line));
    const bytes = this.#fan.encodeText(`${room} ${text}`);
    if (!member.deliver(bytes)) this.dropSlow([member]);
  }

  /**
   * Delivers a committed event to every member (a joiner does not get its
   * own JOIN). Joins and leaves in a room above the announce limit are
   * counted instead, and summed up in one `PRESENCE` line just before the
   * next line that is delivered. Members whose queue overflows are dropped
   * after the loop, so every member sees the same order of lines.
   */
  #fanOut(event: RoomEvent): void {
    // What was appended before is handed on now (a durable log hands on
    // a whole commit in one step; a shared one, what it reads).
    if (this.#flow.backlogged) this.#flow.handedOn();
    this.#handedOn = event.seq;
    this.#onEvent?.(event);
    // A joiner enters in the step its JOIN is handed on; what it must see
    // first comes once its JOIN went out (which it does not get).
    const entered = this.#joiners.during(() => this.directory.stored(event));
    const slow = this.router.fanOut(event);
    if (entered) { for (const then of entered) then(); }
    if (slow) this.dropSlow(slow);
  }

  /** Hands `bytes` to one member; drops the member if it cannot take them. */
  #deliver(member: M, bytes: Uint8Array): void {
    if (!member.deliver(bytes)) this.dropSlow([member]);
  }

  /** A member left: the stall rule forgets its queue. */
  protected override forget(member: M, moved = false): void {
    this.#flow.forget(member);
    this.router.rooms.depart(member, moved);
  }
}
