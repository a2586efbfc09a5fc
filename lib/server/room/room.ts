/**
 * The chat room: who is in it under which alias, and what each of them
 * receives. Room events go through the {@linkcode RoomLog}, which orders
 * them; the room fans each committed event out by encoding it once and
 * handing the same bytes to every member's {@linkcode Member.deliver} in one
 * synchronous loop (a sender with line ids on gets its own copy, with the
 * id, encoded apart), so every member sees one order and the room never
 * waits on anyone's socket. Members are reached only through the small
 * {@linkcode Member} interface. The room alone removes a member: `deliver`
 * only reports a full queue, and the room then drops that member and tells
 * it to close. Who holds which alias is the {@linkcode Directory}'s to
 * say (claims, leaves, `/who`, reaching a member for `/msg`), whichever
 * one it is: the room has one code path, and keeps only the members of
 * this server, by id.
 *
 * The room also says when it is congested ({@linkcode Room.congested}):
 * while some member's queue is above its watermark, or while the lines
 * appended and not yet handed on by the log pass `backlogBytes`. Sessions
 * then handle no more lines (and their connections stop reading, so TCP
 * pushes back on the senders) until it is not. A member whose queue stays
 * above its watermark for `stallMs` without a break holds everyone up: the
 * room drops it as slow. Only draining below the watermark restarts that
 * time; a peer that reads a little now and then does not.
 *
 * @module
 */

import {
  type ByeReason,
  COMMAND_HELP,
  encodeServerLine,
  formatServerLine,
  type LeaveReason,
  ProtocolError,
  type ServerLine,
  tagLine,
  validateAlias,
} from "../../protocol.ts";
import { type Clock, systemClock, type TimerId } from "../../clock.ts";
import {
  type Directory,
  type Dismissal,
  type Found,
  LocalDirectory,
  type Someone,
} from "./directory.ts";
import { LineArena } from "./line_arena.ts";
import {
  type AppendOptions,
  type AppendOutcome,
  type EventEffect,
  newLineId,
  type RoomEvent,
  type RoomLine,
  type RoomLog,
  type UnsentLine,
} from "./room_log.ts";

/** What the room needs from a member. */
export interface Member {
  /** Unique among the room's members, for as long as it is connected. */
  readonly id: string;
  /** The member's alias; set by the room on join and rename. */
  alias: string;
  /** Whether it is an operator (marked in `WHO`). */
  readonly operator: boolean;
  /**
   * It turned on the `ids` capability: the echo of each of its messages
   * and actions, and any `ERR` about one, carries `@id=ID ` (its own copy
   * is encoded apart from everyone's).
   * @default {false}
   */
  readonly lineIds?: boolean;
  /**
   * Queues one encoded line for the member without waiting. Returns false
   * when the member cannot keep up (its queue is full); the room then
   * removes it as a slow consumer. Never removes or closes anything itself.
   * `room` marks the room's fan-out (what everyone gets): only those lines
   * count toward the member's watermark ({@linkcode Room.reportQueue}).
   */
  deliver(line: Uint8Array, options?: { readonly room?: boolean }): boolean;
  /** Says goodbye (`BYE reason text`) and closes; the room calls it. */
  close(reason: ByeReason, text: string): void;
}

/** Options of {@linkcode Room.join} and {@linkcode Room.rename}. */
export interface JoinOptions {
  /**
   * The alias is the member's own account: whoever else holds it is
   * dismissed (`BYE replaced`), and look-alikes do not stand in the way.
   * @default {false}
   */
  readonly replace?: boolean;
  /**
   * Called when a joining member enters, right after its `WELCOME` and
   * before any live line: what it must see first (the topic, history).
   */
  readonly onEnter?: () => void;
}

/** Options of {@linkcode Room}. */
export interface RoomOptions<M extends Member = Member> {
  /** Where room events are ordered. */
  log: RoomLog;
  /**
   * Largest room size at which joins and leaves are announced one by one
   * (`--announce-limit`). Above it they are counted and announced as one
   * `PRESENCE` summary just before the next line that everyone receives.
   */
  announceLimit: number;
  /** Encodes fanned-out lines; its chunk size bounds what a queue pins. */
  arena?: LineArena;
  /**
   * Most bytes of history sent at once: the newest lines that fit (half a
   * member's queue, so that asking for history never makes one too slow).
   * @default {Infinity}
   */
  historyBytes?: number;
  /** Called after a member has left, whatever the reason (for logs). */
  onLeave?: (member: M, reason: LeaveReason) => void;
  /**
   * Who holds which alias, here or on every server of the room.
   * @default {a new LocalDirectory}
   */
  directory?: Directory<M>;
  /**
   * Called with each event the log hands on, before any member gets it:
   * a server carries out there what another one decided.
   */
  onEvent?: (event: RoomEvent) => void;
  /** Time, for the stall rule. @default {systemClock} */
  clock?: Clock;
  /**
   * How long a member's queue may stay above its watermark without a break
   * (`--stall-timeout`) before the room drops it as slow.
   * @default {Infinity}
   */
  stallMs?: number;
  /**
   * Bytes of lines (about) appended and not yet handed on by the log
   * above which the room counts as congested.
   * @default {Infinity}
   */
  backlogBytes?: number;
}

/** Counters a server reports in its logs. */
export interface RoomStats {
  joins: number;
  messages: number;
  peakMembers: number;
}

/** One chat room: a set of members with unique, distinct-looking aliases. */
export class Room<M extends Member = Member> {
  readonly announceLimit: number;
  readonly stats: RoomStats = { joins: 0, messages: 0, peakMembers: 0 };
  #log: RoomLog;
  /** The members of this server by id (the log names them by id). */
  #members = new Map<string, M>();
  #directory: Directory<M>;
  /** The directory is being told of a log event (see `#fanOut`). */
  #storing = false;
  /**
   * What members who entered in that event do once everyone got it (their
   * topic and history, or being dropped); made only when one did.
   */
  #entered: (() => void)[] | null = null;
  #onEvent: ((event: RoomEvent) => void) | undefined;
  #arena: LineArena;
  #unannouncedJoins = 0;
  #unannouncedLeaves = 0;
  /** Online count after the last unannounced join or leave. */
  #unannouncedOnline = 0;
  #onLeave: (member: M, reason: LeaveReason) => void;
  #historyBytes: number;
  /** Each replayed event's `HIST` line, encoded once. */
  #histLines = new WeakMap<RoomEvent, Uint8Array>();
  #appended = 0;
  #clock: Clock;
  #stallMs: number;
  /** Members whose queue is above its watermark, and since when it is. */
  #above = new Map<M, number>();
  #stallTimer: TimerId | undefined;
  #backlogBytes: number;
  /** About how many bytes were appended since the log last settled. */
  #backlog = 0;
  /** The backlog passed `backlogBytes`: waiting for the log to settle. */
  #backlogFull = false;
  /** Resolved once the room is no longer congested. */
  #free: PromiseWithResolvers<void> | null = null;
  /** `LEAVE`s the log could not store: appended again, before anything. */
  #heldLeaves: { line: RoomLine; origin: string }[] = [];
  #retryTimer: TimerId | undefined;

  /** Creates an empty room that orders its events in `options.log`. */
  constructor(options: RoomOptions<M>) {
    this.announceLimit = options.announceLimit;
    this.#arena = options.arena ?? new LineArena();
    this.#onLeave = options.onLeave ?? (() => {});
    this.#historyBytes = options.historyBytes ?? Infinity;
    this.#directory = options.directory ?? new LocalDirectory<M>();
    this.#onEvent = options.onEvent;
    this.#clock = options.clock ?? systemClock;
    this.#stallMs = options.stallMs ?? Infinity;
    this.#backlogBytes = options.backlogBytes ?? Infinity;
    this.#log = options.log;
    this.#log.subscribe(
      (event) => this.#fanOut(event),
      (lost, outcome) => this.#unsent(lost, outcome),
    );
    this.#directory.attach({
      append: (line, origin) => this.#append(line, origin),
      tell: (member, line) => this.#send(member, line),
      dismiss: (member, reason, text, announced) =>
        announced
          ? this.#dismissAnnounced(member, reason, text)
          : this.dismiss(member, reason, text),
      members: () => this.#members.values(),
    });
  }

  /**
   * Undefined when every room line so far has reached the members;
   * otherwise a promise that resolves once it has (see
   * {@linkcode RoomLog.settled}).
   */
  settled(): Promise<void> | undefined {
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
    return this.#above.size > 0 || this.#backlogFull;
  }

  /** Resolves once the room is no longer {@linkcode congested}. */
  uncongested(): Promise<void> {
    if (!this.congested) return Promise.resolve();
    this.#free ??= Promise.withResolvers();
    return this.#free.promise;
  }

  /**
   * A member's queue went above its watermark (`above` true), or is back
   * at or below it (false). Its time above counts from the first report
   * since it was last below.
   */
  reportQueue(member: M, above: boolean): void {
    if (!above) return this.#forget(member);
    if (!this.has(member) || this.#above.has(member)) return;
    this.#above.set(member, this.#clock.now());
    if (this.#stallTimer === undefined && this.#stallMs !== Infinity) {
      this.#stallTimer = this.#clock.setTimeout(
        () => this.#dropStalled(),
        this.#stallMs,
      );
    }
  }

  /** Stops the room's timers (at shutdown: what is held is not stored). */
  close(): void {
    this.#clock.clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#heldLeaves = [];
  }

  /** Number of members. */
  get size(): number {
    return this.#members.size;
  }

  /** Whether the member is in the room. */
  has(member: M): boolean {
    return this.#members.get(member.id) === member;
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
   * import { systemClock } from "../../clock.ts";
   * import { Room } from "./room.ts";
   * import { MemoryLog } from "./room_log.ts";
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
    return this.#directory.claim(member, alias, {
      replace: options.replace ?? false,
      onJoin: (online) => this.#enter(member, online, options.onEnter),
    });
  }

  /**
   * The directory gave `member` its alias: it is in, and gets `WELCOME`;
   * then (once everyone got the `JOIN` it is entering in) what it must see
   * first. One that cannot take even its `WELCOME` is dropped.
   */
  #enter(member: M, online: string, onEnter?: () => void): void {
    this.#members.set(member.id, member);
    const welcome: ServerLine = {
      type: "WELCOME",
      alias: member.alias,
      online,
      text: "Type /help for commands",
    };
    const fits = member.deliver(this.#encode(welcome));
    if (fits) {
      this.stats.joins++;
      this.stats.peakMembers = Math.max(this.stats.peakMembers, this.size);
    }
    const then = fits ? () => onEnter?.() : () => this.#dropSlow([member]);
    if (this.#storing) (this.#entered ??= []).push(then);
    else then();
  }

  /**
   * Removes a member and announces why (not at shutdown). Does nothing when
   * the member is not in the room, so it is safe to call from every exit
   * path. It does not close the member: whoever decided it leaves does.
   */
  leave(member: M, reason: LeaveReason, text = ""): void {
    if (!this.has(member)) return;
    this.#members.delete(member.id);
    this.#forget(member);
    this.#onLeave(member, reason);
    void this.#directory.leave(member, reason, text);
  }

  /**
   * Sends a chat message from a member to everyone, the sender included,
   * under `id` (the client's; none: a new one). A log that holds a line
   * with that id already does not store it again: the sender then gets
   * its echo again, alone.
   */
  say(member: M, text: string, id: string = newLineId()): void {
    this.stats.messages++;
    this.#append({ type: "MSG", alias: member.alias, text }, member.id, {
      id,
    });
  }

  /** Sends a `/me` action from a member to everyone (`id` as for `say`). */
  act(member: M, text: string, id: string = newLineId()): void {
    this.stats.messages++;
    this.#append({ type: "ME", alias: member.alias, text }, member.id, {
      id,
    });
  }

  /**
   * Sends a private message: only the target receives `PRIV`, wherever it
   * is; the sender gets `SENT` as confirmation. Rejects when no member has
   * that alias, or when the target cannot be reached now.
   */
  async whisper(member: M, to: string, text: string): Promise<void> {
    let alias: string;
    try {
      const found = await this.#directory.find(to);
      if (found === null) {
        throw new ProtocolError(
          "no-such-alias",
          `Cannot send private message: nobody is called "${to}"`,
        );
      }
      if ("here" in found) {
        alias = found.here.alias;
        this.#send(found.here, { type: "PRIV", alias: member.alias, text });
      } else {
        alias = found.elsewhere.alias;
        await this.#directory.message(found.elsewhere, member.alias, text);
      }
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      throw new ProtocolError(
        "unavailable",
        `Cannot send private message to "${to}" now: try again later`,
        { cause: error },
      );
    }
    this.stats.messages++;
    this.#send(member, { type: "SENT", alias, text });
  }

  /**
   * Changes a member's alias and announces it to everyone. Only a member of
   * the room can be renamed, and only its own entry is replaced.
   */
  // deno-lint-ignore require-await
  async rename(
    member: M,
    alias: string,
    options: JoinOptions = {},
  ): Promise<void> {
    if (!this.has(member)) {
      throw new Error(`Cannot rename "${member.alias}": not in the room`);
    }
    validateAlias(alias);
    return this.#directory.claim(member, alias, {
      replace: options.replace ?? false,
    });
  }

  /**
   * Sends the member a `WHO` line: the online count and the aliases the
   * directory lists ({@linkcode whoList}: the first members who joined, or
   * last renamed, in alphabetical order, operators marked with `@`).
   */
  async who(member: M): Promise<void> {
    const { online, aliases } = await this.#directory.who();
    this.#send(member, {
      type: "WHO",
      online: String(online),
      aliases: aliases.join(" "),
    });
  }

  /**
   * Sends the member the last `limit` messages and actions the log holds,
   * oldest first, as `HIST` lines (at most as many as fit in
   * `historyBytes`), then `HISTEND` with their count. On joining (`asked`
   * false) a room without history sends nothing at all.
   */
  history(member: M, limit: number, asked: boolean): void {
    const events = this.#log.recent(limit);
    const lines: Uint8Array[] = [];
    let bytes = 0;
    for (let i = events.length - 1; i >= 0; i--) {
      const event = events[i]!;
      let line = this.#histLines.get(event);
      if (line === undefined) {
        line = encodeServerLine(historyLine(event));
        this.#histLines.set(event, line);
      }
      bytes += line.length;
      if (bytes > this.#historyBytes) break;
      lines.push(line);
    }
    for (let i = lines.length - 1; i >= 0; i--) {
      if (!member.deliver(lines[i]!)) return this.#dropSlow([member]);
    }
    const count = lines.length;
    if (count === 0 && !asked) return;
    const more = count < events.length ? " (the newest that fit at once)" : "";
    this.#send(member, {
      type: "HISTEND",
      count: String(count),
      text: `End of history: ${count} message${count === 1 ? "" : "s"}${more}`,
    });
  }

  /** Sends the member the command list as `INFO` lines. */
  help(member: M): void {
    for (const text of COMMAND_HELP) this.#send(member, { type: "INFO", text });
  }

  /** Sends one line to one member (the room drops it if it cannot take it). */
  tell(member: M, line: ServerLine): void {
    this.#send(member, line);
  }

  /**
   * Whoever holds `alias` (any case): a member of this server, or someone
   * elsewhere; null when nobody does.
   */
  find(alias: string): Promise<Found<M> | null> {
    return this.#directory.find(alias);
  }

  /**
   * Kicks `target` wherever it is: here it is dismissed at once; elsewhere,
   * once what was announced before (its `MOD` line) is handed on, its
   * server removes it.
   */
  async kick(target: Someone, bye: string): Promise<void> {
    const here = this.#members.get(target.id);
    if (here !== undefined) return this.dismiss(here, "kicked", bye);
    await this.settled();
    await this.#directory.remove(target.id, "kicked", bye);
  }

  /** Every member of this server. */
  members(): IterableIterator<M> {
    return this.#members.values();
  }

  /**
   * Announces a room event that is not a member's own line (the topic,
   * moderation) to everyone, in the room's order, with what it does
   * (`effect`: the topic, the bans and mutes in force after it).
   */
  announce(
    line: ServerLine<"TOPIC" | "MOD">,
    by: M,
    effect?: EventEffect,
  ): void {
    this.#append(line, by.id, effect === undefined ? undefined : { effect });
  }

  /**
   * Takes a member out: it leaves (announced with `reason`) and is told to
   * close with `BYE reason text`. Used for kicks, bans and replacements.
   */
  dismiss(member: M, reason: Dismissal, text: string): void {
    if (!this.has(member)) return;
    this.leave(member, reason);
    member.close(reason, text);
  }

  /**
   * Takes out a member whose `LEAVE` was decided, and is in the log,
   * elsewhere (a kick or ban on another server, a login from another
   * connection, this server counted lost): it goes without a second
   * announcement, and is told why.
   */
  #dismissAnnounced(member: M, reason: Dismissal, text: string): void {
    if (!this.has(member)) return;
    this.#members.delete(member.id);
    this.#forget(member);
    this.#onLeave(member, reason);
    member.close(reason, text);
  }

  #append(line: RoomLine, origin: string, options?: AppendOptions): void {
    if (this.#heldLeaves.length > 0) this.#appendHeld();
    this.#appended++;
    this.#log.append(line, origin, options);
    this.#backlog += "text" in line ? line.text.length + 64 : 64;
    if (this.#backlog < this.#backlogBytes || this.#backlogFull) return;
    const settled = this.#log.settled();
    if (settled === undefined) {
      this.#backlog = 0;
      return;
    }
    this.#backlogFull = true;
    settled.then(() => this.#backlogOut());
  }

  /**
   * The log handed lines on (or settled, or reported lines lost): what
   * was appended before has reached the queues.
   */
  #backlogOut(): void {
    this.#backlog = 0;
    if (!this.#backlogFull) return;
    this.#backlogFull = false;
    this.#release();
  }

  /** A member is no longer above its watermark (or gone). */
  #forget(member: M): void {
    if (!this.#above.delete(member)) return;
    if (this.#above.size === 0) {
      this.#clock.clearTimeout(this.#stallTimer);
      this.#stallTimer = undefined;
    }
    this.#release();
  }

  /** Lets waiting senders go on, once the room is not congested. */
  #release(): void {
    if (this.#free === null || this.congested) return;
    this.#free.resolve();
    this.#free = null;
  }

  /**
   * Drops the members whose queue has stayed above its watermark for
   * `stallMs` without a break (they hold everyone up), and watches the
   * others.
   */
  #dropStalled(): void {
    this.#stallTimer = undefined;
    const now = this.#clock.now();
    const stalled: M[] = [];
    let next = Infinity;
    for (const [member, since] of this.#above) {
      if (!this.has(member)) this.#above.delete(member); // gone meanwhile
      else if (now - since >= this.#stallMs) stalled.push(member);
      else next = Math.min(next, since + this.#stallMs - now);
    }
    this.#dropSlow(stalled);
    if (next !== Infinity) {
      this.#stallTimer = this.#clock.setTimeout(
        () => this.#dropStalled(),
        next,
      );
    }
    this.#release();
  }

  /** Encodes a line once, next to the previous one (see LineArena). */
  #encode(line: ServerLine): Uint8Array {
    return this.#arena.encode(formatServerLine(line));
  }

  /** Sends one line to one member; drops the member if it cannot take it. */
  #send(member: M, line: ServerLine): void {
    if (!member.deliver(this.#encode(line))) this.#dropSlow([member]);
  }

  /**
   * Delivers a committed event to every member (a joiner does not get its
   * own JOIN). Joins and leaves in a room above the announce limit are
   * counted instead, and summed up in one `PRESENCE` line just before the
   * next line that is delivered. Members whose queue overflows are dropped
   * after the loop, so every member sees the same order of lines.
   */
  #fanOut(event: RoomEvent): void {
    const { line } = event;
    // What was appended before is handed on now (a durable log hands on
    // a whole commit in one step; a shared one, what it reads).
    if (this.#backlog !== 0) this.#backlogOut();
    this.#onEvent?.(event);
    // A joiner enters in the step its JOIN is handed on; what it must see
    // first comes once its JOIN went out (which it does not get).
    this.#storing = true;
    try {
      this.#directory.stored(event);
    } finally {
      this.#storing = false;
    }
    const entered = this.#entered;
    this.#entered = null;
    let slow: M[] | undefined;
    if (!this.#countsAsPresence(line)) {
      if (this.#unannouncedJoins > 0 || this.#unannouncedLeaves > 0) {
        const full = this.#deliverToAll({
          type: "PRESENCE",
          joined: String(this.#unannouncedJoins),
          left: String(this.#unannouncedLeaves),
          online: String(this.#unannouncedOnline),
        });
        if (full) (slow ??= []).push(...full);
        this.#unannouncedJoins = 0;
        this.#unannouncedLeaves = 0;
      }
      const more = this.#deliverToAll(line, event);
      if (more) (slow ??= []).push(...more);
    }
    if (entered) { for (const then of entered) then(); }
    if (slow) this.#dropSlow(slow);
  }

  /**
   * What the log could not store (`refused`: it reached nobody) or cannot
   * say whether it stored (`unknown`). Senders of messages and actions hear
   * so; a join is refused and a rename undone (each with `ERR
   * unavailable`); a leave is held and appended again before anything else
   * (the others see the member until it is stored); operators hear that
   * their action was not announced. A member the log no longer counts in
   * the room (`gone`) is told to join again.
   */
  #unsent(lost: readonly UnsentLine[], outcome: AppendOutcome): void {
    this.#backlogOut();
    if (outcome === "duplicate") return this.#echoAgain(lost);
    if (outcome === "reused") return this.#refuseReused(lost);
    const senders = new Map<string, number>();
    const operators = new Set<string>();
    /** Members whose rename was undone, and the alias they keep. */
    const kept = new Map<string, string>();
    for (const { line, origin, id } of lost) {
      if (outcome === "gone" || line.type === "MSG" || line.type === "ME") {
        const sender = id === undefined ? undefined : this.#members.get(origin);
        if (outcome !== "gone" && sender?.lineIds && this.has(sender)) {
          // One answer per line, naming it.
          this.#sendTagged(sender, id!, unsentError(null, outcome));
          continue;
        }
        senders.set(origin, (senders.get(origin) ?? 0) + 1);
      } else if (line.type === "MOD" || line.type === "TOPIC") {
        operators.add(origin);
      } else if (this.#directory.unsent(line, origin, outcome)) {
        // A join refused, a rename undone (ERR unavailable to each).
        if (line.type === "NICK") kept.set(origin, line.alias);
      } else if (line.type === "LEAVE") {
        // Said after a rename that was undone: under the alias it kept.
        const alias = kept.get(origin) ?? line.alias;
        this.#holdLeave({ ...line, alias }, origin);
      }
    }
    for (const member of [...this.#members.values()]) {
      const count = senders.get(member.id);
      if (outcome === "gone") {
        if (count !== undefined) {
          this.dismiss(member, "server-lost", goneText(count));
        }
        continue;
      }
      if (count !== undefined) this.#send(member, unsentError(count, outcome));
      if (operators.has(member.id)) {
        this.#send(member, {
          type: "ERR",
          code: outcome === "unknown" ? "unknown" : "unavailable",
          text: outcome === "unknown"
            ? "Done on this server; the other servers may not have been told (the room's store did not answer): check, and do it again if not"
            : this.#directory.unannounced,
        });
      }
    }
  }

  /**
   * Lines the log already held under their ids (resent): each sender with
   * `ids` gets its echo again, alone, so that every line it sent with an id
   * has an answer. (Without `ids`, no line has an id of its sender's.)
   */
  #echoAgain(lines: readonly UnsentLine[]): void {
    for (const { line, origin, id } of lines) {
      const sender = this.#members.get(origin);
      if (id !== undefined && sender?.lineIds && this.has(sender)) {
        this.#sendTagged(sender, id, line);
      }
    }
  }

  /**
   * Lines sent under an id the log holds for another line: each sender
   * gets `@id=ID ERR usage`, alone (only a client with `ids` chooses ids).
   */
  #refuseReused(lines: readonly UnsentLine[]): void {
    for (const { origin, id } of lines) {
      const sender = this.#members.get(origin);
      if (id !== undefined && sender?.lineIds && this.has(sender)) {
        this.#sendTagged(sender, id, {
          type: "ERR",
          code: "usage",
          text:
            `Line dropped: id "${id}" was used for another line; give each line an id of its own`,
        });
      }
    }
  }

  /**
   * Keeps a `LEAVE` the log could not store, to append it again before
   * the next line and, failing that, every second: one is stored first
   * once storage is back.
   */
  #holdLeave(line: RoomLine, origin: string): void {
    // Members are at most --max-clients, and none joins while storage
    // fails: the bound only guards against a flapping store.
    if (this.#heldLeaves.length >= MAX_HELD_LEAVES) this.#heldLeaves.shift();
    this.#heldLeaves.push({ line, origin });
    this.#retryTimer ??= this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#appendHeld();
    }, LEAVE_RETRY_MS);
  }

  /** Appends the held `LEAVE`s again, oldest first. */
  #appendHeld(): void {
    this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const held = this.#heldLeaves;
    this.#heldLeaves = [];
    for (const { line, origin } of held) {
      this.#appended++;
      this.#log.append(line, origin);
    }
  }

  /** Counts a join or leave that is not announced one by one; true if so. */
  #countsAsPresence(line: RoomLine): boolean {
    if (line.type === "JOIN" && Number(line.online) > this.announceLimit) {
      this.#unannouncedJoins++;
    } else if (
      line.type === "LEAVE" && Number(line.online) + 1 > this.announceLimit
    ) {
      this.#unannouncedLeaves++;
    } else {
      return false;
    }
    this.#unannouncedOnline = Number(line.online);
    return true;
  }

  /**
   * Encodes once, delivers to every member; returns those who are full.
   * For an `event`, its sender gets nothing of its own `JOIN`, and its own
   * copy of a line with an id, encoded apart, when it has `ids` on.
   */
  #deliverToAll(line: ServerLine, event?: RoomEvent): M[] | undefined {
    const text = formatServerLine(line);
    const bytes = this.#arena.encode(text);
    let senderId: string | undefined;
    let own: Uint8Array | undefined;
    if (event !== undefined) {
      if (line.type === "JOIN") {
        senderId = event.origin;
      } else if (event.id !== undefined) {
        const sender = this.#members.get(event.origin);
        if (sender?.lineIds) {
          senderId = sender.id;
          own = this.#arena.encode(tagLine(event.id, text));
        }
      }
    }
    let slow: M[] | undefined;
    for (const member of this.#members.values()) {
      if (member.id === senderId) {
        if (own !== undefined && !member.deliver(own, ROOM_LINE)) {
          (slow ??= []).push(member);
        }
      } else if (!member.deliver(bytes, ROOM_LINE)) {
        (slow ??= []).push(member);
      }
    }
    return slow;
  }

  /** Sends a line with the `@id=ID ` prefix to one member. */
  #sendTagged(member: M, id: string, line: ServerLine): void {
    const bytes = this.#arena.encode(tagLine(id, formatServerLine(line)));
    if (!member.deliver(bytes)) this.#dropSlow([member]);
  }

  /** The room's one decision about slow members: out, then closed. */
  #dropSlow(members: readonly M[]): void {
    for (const member of members) {
      if (!this.has(member)) continue;
      this.leave(member, "slow");
      member.close("slow", SLOW_TEXT);
    }
  }
}

/** How the fan-out is delivered: counted toward each member's watermark. */
const ROOM_LINE = { room: true } as const;

/** A stored message or action as a `HIST` line. */
function historyLine(event: RoomEvent): ServerLine<"HIST"> {
  const line = event.line as ServerLine<"MSG" | "ME">;
  return {
    type: "HIST",
    seq: String(event.seq),
    time: new Date(event.time).toISOString(),
    kind: line.type,
    alias: line.alias,
    text: line.text,
  };
}

/** Most `LEAVE`s held while the log cannot store them. */
const MAX_HELD_LEAVES = 10_000;

/** How often held `LEAVE`s are tried again when nothing else is appended. */
const LEAVE_RETRY_MS = 1000;

/**
 * What a sender hears of lines the log did not store, or may not have:
 * `count` of them, or (null) the one whose id the answer carries.
 */
function unsentError(
  count: number | null,
  outcome: "refused" | "unknown",
): ServerLine<"ERR"> {
  const lines = count === null
    ? ""
    : ` (${count} line${count === 1 ? "" : "s"})`;
  return outcome === "unknown"
    ? {
      type: "ERR",
      code: "unknown",
      text:
        `Perhaps not sent${lines}: the room's store stopped answering; if it was stored, you will see it as usual; a resend with the same id is safe, one without an id may show twice`,
    }
    : {
      type: "ERR",
      code: "unavailable",
      text:
        `Not sent${lines}: the room cannot store messages right now; try again later`,
    };
}

/** The goodbye of a member whose lines came after it left the room. */
function goneText(count: number): string {
  return `Disconnected: your server lost touch with the room, and your last ${
    count === 1 ? "line was" : `${count} lines were`
  } not sent; join again`;
}

/** The goodbye of a member dropped as too slow (`BYE slow`). */
export const SLOW_TEXT =
  "Disconnected: too many lines were waiting for you to read them";
