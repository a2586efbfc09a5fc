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
 * The room also says when it is congested ({@linkcode Room.congested},
 * kept by `flow.ts`); sessions then handle no more lines (and their
 * connections stop reading, so TCP pushes back on the senders) until it is
 * not. The fan-out is `fan_out.ts`'s, history replay `replay.ts`'s, and
 * what the room does with lines its log did not store `unsent.ts`'s.
 *
 * @module
 */

import { ProtocolError, validateAlias } from "../../protocol.ts";
import { COMMAND_HELP } from "../../commands.ts";
import type { LeaveReason, ServerLine } from "../../server_lines.ts";
import { type Clock, systemClock } from "../../clock.ts";
import {
  type Directory,
  type Dismissal,
  type Found,
  LocalDirectory,
  type Someone,
} from "./directory.ts";
import { FanOut } from "./fan_out.ts";
import { Flow } from "./flow.ts";
import { LineArena } from "./line_arena.ts";
import { type Member, SLOW_TEXT } from "./member.ts";
import { Replay } from "./replay.ts";
import {
  type AppendOptions,
  type EventEffect,
  newLineId,
  type RoomEvent,
  type RoomLine,
  type RoomLog,
} from "./room_log.ts";
import { UnsentLines } from "./unsent.ts";

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
  #fan: FanOut<M>;
  #onLeave: (member: M, reason: LeaveReason) => void;
  #replay: Replay;
  #appended = 0;
  #flow: Flow<M>;
  #unsent: UnsentLines<M>;

  /** Creates an empty room that orders its events in `options.log`. */
  constructor(options: RoomOptions<M>) {
    this.announceLimit = options.announceLimit;
    this.#fan = new FanOut(
      options.arena ?? new LineArena(),
      this.announceLimit,
    );
    this.#onLeave = options.onLeave ?? (() => {});
    this.#replay = new Replay(options.historyBytes ?? Infinity);
    this.#directory = options.directory ?? new LocalDirectory<M>();
    this.#onEvent = options.onEvent;
    const clock = options.clock ?? systemClock;
    this.#log = options.log;
    this.#flow = new Flow({
      clock,
      stallMs: options.stallMs ?? Infinity,
      backlogBytes: options.backlogBytes ?? Infinity,
      settled: () => this.#log.settled(),
      has: (member) => this.has(member),
      dropSlow: (members) => this.#dropSlow(members),
    });
    this.#unsent = new UnsentLines({
      clock,
      directory: this.#directory,
      member: (id) => this.#members.get(id),
      has: (member) => this.has(member),
      members: () => this.#members.values(),
      send: (member, line) => this.#send(member, line),
      sendTagged: (member, id, line) => this.#sendTagged(member, id, line),
      dismiss: (member, reason, text) => this.dismiss(member, reason, text),
      reappend: (line, origin) => {
        this.#appended++;
        this.#log.append(line, origin);
      },
    });
    this.#log.subscribe(
      (event) => this.#fanOut(event),
      (lost, outcome) => {
        this.#flow.handedOn();
        this.#unsent.unsent(lost, outcome);
      },
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
    this.#flow.close();
    this.#unsent.close();
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
    const fits = member.deliver(this.#fan.encode(welcome));
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
    this.#flow.forget(member);
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
    const lines = this.#replay.lines(events);
    for (const line of lines) {
      if (!member.deliver(line)) return this.#dropSlow([member]);
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
    this.#flow.forget(member);
    this.#onLeave(member, reason);
    member.close(reason, text);
  }

  #append(line: RoomLine, origin: string, options?: AppendOptions): void {
    if (this.#unsent.holding) this.#unsent.appendHeld();
    this.#appended++;
    this.#log.append(line, origin, options);
    this.#flow.appended(line);
  }

  /** Sends one line to one member; drops the member if it cannot take it. */
  #send(member: M, line: ServerLine): void {
    if (!member.deliver(this.#fan.encode(line))) this.#dropSlow([member]);
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
    if (this.#flow.backlogged) this.#flow.handedOn();
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
    if (!this.#fan.countsAsPresence(line)) {
      const summary = this.#fan.takeSummary();
      if (summary !== null) {
        const full = this.#fan.toAll(this.#members, summary);
        if (full) (slow ??= []).push(...full);
      }
      const more = this.#fan.toAll(this.#members, line, event);
      if (more) (slow ??= []).push(...more);
    }
    if (entered) { for (const then of entered) then(); }
    if (slow) this.#dropSlow(slow);
  }

  /** Sends a line with the `@id=ID ` prefix to one member. */
  #sendTagged(member: M, id: string, line: ServerLine): void {
    if (!member.deliver(this.#fan.encodeTagged(id, line))) {
      this.#dropSlow([member]);
    }
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
