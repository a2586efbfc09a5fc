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
 * it to close.
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
  aliasKey,
  type ByeReason,
  COMMAND_HELP,
  encodeServerLine,
  formatServerLine,
  type LeaveReason,
  ProtocolError,
  type ServerLine,
  tagLine,
  validateAlias,
  WHO_LIST_LIMIT,
} from "../../protocol.ts";
import { type Clock, systemClock, type TimerId } from "../../clock.ts";
import { aliasSkeleton } from "../../text.ts";
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

/** The outcome of a claim on an alias across a cluster. */
export type Claim =
  /** `seq`: the number of the `JOIN` or `NICK` that made it. */
  | { readonly ok: true; readonly online: string; readonly seq: number }
  | {
    readonly ok: false;
    readonly holder: string;
    readonly lookalike: boolean;
  }
  /** Renaming someone who was removed meanwhile (a kick elsewhere). */
  | { readonly ok: false; readonly gone: true };

/**
 * What a room that spans several servers needs from the cluster: aliases
 * claimed across all of them (with the `JOIN` or `NICK` appended to the
 * shared log in the same step), leaves announced there, the whole room's
 * `/who`, and private messages to members elsewhere.
 */
export interface RoomCluster<M extends Member = Member> {
  claim(
    member: M,
    alias: string,
    from: string | null,
    replace: boolean,
  ): Promise<Claim>;
  leave(member: M, reason: LeaveReason, text: string): void;
  who(): Promise<{ online: number; aliases: string[] }>;
  /**
   * Delivers `PRIV` to `to` on another server: its alias as held, or
   * `null` when nobody holds it; throws when it cannot be reached.
   */
  whisper(from: M, to: string, text: string): Promise<string | null>;
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
  /** The cluster this room spans, if it spans several servers. */
  cluster?: RoomCluster<M>;
  /**
   * Called with each event the log hands on, before any member gets it:
   * in a cluster, a server carries out there what another one decided.
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

/** A join or rename whose event the log has not handed on yet. */
interface PendingClaim<M> {
  readonly member: M;
  /** The `JOIN` or `NICK` appended. */
  readonly line: RoomLine;
  readonly onEnter?: () => void;
  /** Made once the append did not settle it at once. */
  waiter?: PromiseWithResolvers<void>;
  /** Why it was refused during the append (no promise made yet). */
  error?: ProtocolError;
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
  /** Members by alias key (case-insensitive), in join or rename order. */
  #members = new Map<string, M>();
  /** Members by the confusable skeleton of their alias. */
  #skeletons = new Map<string, M>();
  /** Members by id (a cluster's log names them by id). */
  #byId = new Map<string, M>();
  #cluster: RoomCluster<M> | undefined;
  #onEvent: ((event: RoomEvent) => void) | undefined;
  /** In a cluster: the number of each member's last claim (JOIN or NICK). */
  #claimedAt = new Map<string, number>();
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
  /**
   * Joins and renames whose `JOIN` or `NICK` the log has not handed on
   * yet, by member id (one server: in a cluster, its claims do this).
   */
  #claims = new Map<string, PendingClaim<M>>();
  /** Pending joins by alias key and by skeleton: taken meanwhile. */
  #reserved = new Map<string, PendingClaim<M>>();
  #reservedSkeletons = new Map<string, PendingClaim<M>>();
  /** `LEAVE`s the log could not store: appended again, before anything. */
  #heldLeaves: { line: RoomLine; origin: string }[] = [];
  #retryTimer: TimerId | undefined;

  /** Creates an empty room that orders its events in `options.log`. */
  constructor(options: RoomOptions<M>) {
    this.announceLimit = options.announceLimit;
    this.#arena = options.arena ?? new LineArena();
    this.#onLeave = options.onLeave ?? (() => {});
    this.#historyBytes = options.historyBytes ?? Infinity;
    this.#cluster = options.cluster;
    this.#onEvent = options.onEvent;
    this.#clock = options.clock ?? systemClock;
    this.#stallMs = options.stallMs ?? Infinity;
    this.#backlogBytes = options.backlogBytes ?? Infinity;
    this.#log = options.log;
    this.#log.subscribe(
      (event) => this.#fanOut(event),
      (lost, outcome) => this.#unsent(lost, outcome),
    );
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
    return this.#members.get(aliasKey(member.alias)) === member;
  }

  /**
   * Adds a member under an alias, sends it `WELCOME` and announces it. Throws
   * a {@linkcode ProtocolError} when the alias is invalid, reserved, taken,
   * or looks like a present member's. A member whose queue cannot take its
   * `WELCOME` is not added: it is told to close as too slow.
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
   * room.join(member("a"), "Alice");
   * assert.throws(() => room.join(member("b"), "alice"), /taken/);
   * assert.throws(() => room.join(member("b"), "AIice"), /looks like/);
   * room.join(member("b"), "Bob");
   * assert.deepEqual(inbox, [
   *   "a: WELCOME Alice 1 Type /help for commands",
   *   "b: WELCOME Bob 2 Type /help for commands",
   *   "a: JOIN Bob 2",
   * ]);
   * ```
   */
  join(
    member: M,
    alias: string,
    options: JoinOptions = {},
  ): void | Promise<void> {
    if (this.#cluster) return this.#joinCluster(member, alias, options);
    if (options.replace) this.#evict(alias, member);
    this.#checkFree(alias, member, "Cannot join room", options.replace);
    let joining = 1;
    for (const claim of this.#claims.values()) {
      if (claim.line.type === "JOIN") joining++;
    }
    const line: RoomLine = {
      type: "JOIN",
      alias,
      online: String(this.size + joining),
    };
    return this.#appendClaim(member, line, options.onEnter);
  }

  /**
   * Appends the `JOIN` or `NICK` of a join or rename, which is settled when
   * the log hands it on, or refused when the log cannot store it. Returns
   * nothing when that happened at once (a log in memory), else a promise.
   */
  #appendClaim(
    member: M,
    line: RoomLine,
    onEnter?: () => void,
  ): void | Promise<void> {
    const claim: PendingClaim<M> = { member, line, onEnter };
    this.#claims.set(member.id, claim);
    if (line.type === "JOIN") {
      this.#reserved.set(aliasKey(line.alias), claim);
      this.#reservedSkeletons.set(aliasSkeleton(line.alias), claim);
    }
    this.#append(line, member.id);
    if (this.#claims.get(member.id) !== claim) {
      if (claim.error) throw claim.error;
      return;
    }
    claim.waiter = Promise.withResolvers();
    return claim.waiter.promise;
  }

  /** Ends a pending claim: done, or refused with `error`. */
  #endClaim(claim: PendingClaim<M>, error?: ProtocolError): void {
    this.#claims.delete(claim.member.id);
    if (claim.line.type === "JOIN") {
      const key = aliasKey(claim.line.alias);
      const skeleton = aliasSkeleton(claim.line.alias);
      if (this.#reserved.get(key) === claim) this.#reserved.delete(key);
      if (this.#reservedSkeletons.get(skeleton) === claim) {
        this.#reservedSkeletons.delete(skeleton);
      }
    }
    if (claim.waiter === undefined) claim.error = error;
    else if (error) claim.waiter.reject(error);
    else claim.waiter.resolve();
  }

  /**
   * The log handed on the `JOIN` or `NICK` of a pending claim: a renamer
   * is done; a joiner is in and gets its `WELCOME` ("in"), or is too slow
   * to take even that ("slow": the room drops it after its `JOIN`).
   */
  #claimStored(claim: PendingClaim<M>): "in" | "slow" | "done" {
    const { member, line } = claim;
    this.#endClaim(claim);
    if (line.type !== "JOIN") return "done";
    member.alias = line.alias;
    this.#add(member);
    const welcome: ServerLine = {
      type: "WELCOME",
      alias: line.alias,
      online: line.online,
      text: "Type /help for commands",
    };
    if (!member.deliver(this.#encode(welcome))) return "slow";
    this.stats.joins++;
    this.stats.peakMembers = Math.max(this.stats.peakMembers, this.size);
    return "in";
  }

  /**
   * {@linkcode join} in a cluster: the alias is claimed across every server
   * (the claim appends the `JOIN`), then the member is welcomed here.
   */
  async #joinCluster(
    member: M,
    alias: string,
    options: JoinOptions,
  ): Promise<void> {
    const claim = await this.#claim(member, alias, null, options, "join room");
    member.alias = alias;
    this.#add(member);
    const welcome: ServerLine = {
      type: "WELCOME",
      alias,
      online: claim,
      text: "Type /help for commands",
    };
    if (!member.deliver(this.#encode(welcome))) {
      this.leave(member, "slow");
      member.close("slow", SLOW_TEXT);
      return;
    }
    this.stats.joins++;
    this.stats.peakMembers = Math.max(this.stats.peakMembers, this.size);
    options.onEnter?.();
  }

  /** Claims `alias` across the cluster; returns the online count. */
  async #claim(
    member: M,
    alias: string,
    from: string | null,
    options: JoinOptions,
    action: string,
  ): Promise<string> {
    validateAlias(alias);
    const claim = await this.#cluster!.claim(
      member,
      alias,
      from,
      options.replace ?? false,
    );
    if (!claim.ok && "gone" in claim) {
      throw new ProtocolError(
        "unavailable",
        `Cannot ${action}: you were removed from the room meanwhile`,
      );
    }
    if (!claim.ok) {
      throw new ProtocolError(
        "alias-taken",
        claim.lookalike
          ? `Cannot ${action}: alias "${alias}" looks like "${claim.holder}", who is here`
          : `Cannot ${action}: alias "${alias}" is taken`,
      );
    }
    // Older events about this member (a clean-up of an earlier claim whose
    // answer was lost) come from before this claim: not about it now.
    this.#claimedAt.set(member.id, claim.seq);
    return claim.online;
  }

  /** Whether a log event about member `id` is older than its last claim. */
  #beforeClaim(event: RoomEvent): boolean {
    return event.seq < (this.#claimedAt.get(event.origin) ?? 0);
  }

  /**
   * Removes a member and announces why (not at shutdown). Does nothing when
   * the member is not in the room, so it is safe to call from every exit
   * path. It does not close the member: whoever decided it leaves does.
   */
  leave(member: M, reason: LeaveReason, text = ""): void {
    this.#claimedAt.delete(member.id);
    if (!this.has(member)) return;
    this.#remove(member);
    this.#forget(member);
    this.#onLeave(member, reason);
    if (reason === "shutdown") return;
    if (this.#cluster) return this.#cluster.leave(member, reason, text);
    this.#append({
      type: "LEAVE",
      alias: member.alias,
      online: String(this.size),
      reason,
      text,
    }, member.id);
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
   * Sends a private message: only the target receives `PRIV`; the sender gets
   * `SENT` as confirmation. Throws when no member has that alias.
   */
  whisper(member: M, to: string, text: string): void | Promise<void> {
    const target = this.#members.get(aliasKey(to));
    if (target === undefined && this.#cluster) {
      return this.#whisperCluster(member, to, text);
    }
    if (target === undefined) {
      throw new ProtocolError(
        "no-such-alias",
        `Cannot send private message: nobody is called "${to}"`,
      );
    }
    this.stats.messages++;
    this.#send(target, { type: "PRIV", alias: member.alias, text });
    this.#send(member, { type: "SENT", alias: target.alias, text });
  }

  async #whisperCluster(member: M, to: string, text: string): Promise<void> {
    let alias: string | null;
    try {
      alias = await this.#cluster!.whisper(member, to, text);
    } catch {
      throw new ProtocolError(
        "unavailable",
        `Cannot send private message to "${to}" now: try again later`,
      );
    }
    if (alias === null) {
      throw new ProtocolError(
        "no-such-alias",
        `Cannot send private message: nobody is called "${to}"`,
      );
    }
    this.stats.messages++;
    this.#send(member, { type: "SENT", alias, text });
  }

  /**
   * Delivers a private message from another server to member `id`, if it
   * is here.
   */
  deliverPrivate(id: string, from: string, text: string): void {
    const target = this.#byId.get(id);
    if (target !== undefined) {
      this.#send(target, { type: "PRIV", alias: from, text });
    }
  }

  /** The member with id `id`, if it is here. */
  byId(id: string): M | undefined {
    return this.#byId.get(id);
  }

  /**
   * Changes a member's alias and announces it to everyone. Only a member of
   * the room can be renamed, and only its own entry is replaced.
   */
  rename(
    member: M,
    alias: string,
    options: JoinOptions = {},
  ): void | Promise<void> {
    if (!this.has(member)) {
      throw new Error(`Cannot rename "${member.alias}": not in the room`);
    }
    if (this.#cluster) return this.#renameCluster(member, alias, options);
    if (options.replace) this.#evict(alias, member);
    this.#checkFree(alias, member, "Cannot change alias", options.replace);
    const old = member.alias;
    this.#remove(member);
    member.alias = alias;
    this.#add(member);
    // Taken at once (what it says next is said under it), and undone if
    // the log cannot store the NICK.
    return this.#appendClaim(member, {
      type: "NICK",
      alias: old,
      newAlias: alias,
      online: String(this.size),
    });
  }

  async #renameCluster(
    member: M,
    alias: string,
    options: JoinOptions,
  ): Promise<void> {
    const old = member.alias;
    await this.#claim(member, alias, old, options, "change alias");
    if (!this.has(member)) return; // left meanwhile
    this.#remove(member);
    member.alias = alias;
    this.#add(member);
  }

  /**
   * Sends the member a `WHO` line: the online count and, in alphabetical
   * order, the aliases of the {@linkcode WHO_LIST_LIMIT} members who joined
   * (or last renamed) first, operators marked with `@`. Its cost does not
   * grow with the room.
   */
  who(member: M): void | Promise<void> {
    if (this.#cluster) {
      return this.#cluster.who().then(({ online, aliases }) =>
        this.#send(member, {
          type: "WHO",
          online: String(online),
          aliases: aliases.join(" "),
        })
      );
    }
    const listed: M[] = [];
    for (const other of this.#members.values()) {
      if (listed.length === WHO_LIST_LIMIT) break;
      listed.push(other);
    }
    listed.sort((a, b) => aliasKey(a.alias) < aliasKey(b.alias) ? -1 : 1);
    const aliases = listed.map((m) => m.operator ? `@${m.alias}` : m.alias);
    this.#send(member, {
      type: "WHO",
      online: String(this.size),
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

  /** The member under `alias` (any case), if any. */
  find(alias: string): M | undefined {
    return this.#members.get(aliasKey(alias));
  }

  /** Every member. */
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
  dismiss(
    member: M,
    reason: "kicked" | "banned" | "replaced" | "server-lost",
    text: string,
  ): void {
    if (!this.has(member)) return;
    this.leave(member, reason);
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

  /** Dismisses whoever else holds `alias`: an account holder takes it back. */
  #evict(alias: string, member: M): void {
    const holder = this.#members.get(aliasKey(alias));
    if (holder !== undefined && holder !== member) {
      this.dismiss(
        holder,
        "replaced",
        `Disconnected: "${alias}" logged in from another connection`,
      );
    }
  }

  /**
   * Throws unless `alias` is valid and free for `member` to take; an account
   * holder (`owner`) may take an alias that only looks like another's.
   */
  #checkFree(alias: string, member: M, action: string, owner = false): void {
    const key = aliasKey(validateAlias(alias));
    const holder = this.#members.get(key) ?? this.#reserved.get(key)?.member;
    if (holder !== undefined && holder !== member) {
      throw new ProtocolError(
        "alias-taken",
        `${action}: alias "${alias}" is taken`,
      );
    }
    if (owner) return;
    const skeleton = aliasSkeleton(alias);
    const present = this.#skeletons.get(skeleton);
    const joining = this.#reservedSkeletons.get(skeleton);
    const [lookalike, as] = present !== undefined
      ? [present, present.alias]
      : [joining?.member, joining?.line.alias];
    if (lookalike !== undefined && lookalike !== member) {
      throw new ProtocolError(
        "alias-taken",
        `${action}: alias "${alias}" looks like "${as}", who is here`,
      );
    }
  }

  #add(member: M): void {
    this.#byId.set(member.id, member);
    this.#members.set(aliasKey(member.alias), member);
    this.#skeletons.set(aliasSkeleton(member.alias), member);
  }

  /** Forgets a member's entries, and only its own. */
  #remove(member: M): void {
    if (this.#byId.get(member.id) === member) this.#byId.delete(member.id);
    const key = aliasKey(member.alias);
    if (this.#members.get(key) === member) this.#members.delete(key);
    const skeleton = aliasSkeleton(member.alias);
    if (this.#skeletons.get(skeleton) === member) {
      this.#skeletons.delete(skeleton);
    }
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
    let slow: M[] | undefined;
    /** A joiner that just entered: what it must see first comes next. */
    let entered: PendingClaim<M> | undefined;
    const claim = this.#claims.size > 0
      ? this.#claims.get(event.origin)
      : undefined;
    if (claim?.line === line) {
      const outcome = this.#claimStored(claim);
      if (outcome === "in") entered = claim;
      else if (outcome === "slow") slow = [claim.member];
    }
    if (line.type === "LEAVE") this.#removedElsewhere(event, line);
    else if (line.type === "NICK") this.#renamedElsewhere(event, line);
    if (this.#countsAsPresence(line)) {
      entered?.onEnter?.();
      if (slow) this.#dropSlow(slow);
      return;
    }
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
    // After its JOIN went out (which it does not get), before anything else.
    entered?.onEnter?.();
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
      const claim = this.#claims.get(origin);
      if (outcome === "gone" || line.type === "MSG" || line.type === "ME") {
        const sender = id === undefined ? undefined : this.#byId.get(origin);
        if (outcome !== "gone" && sender?.lineIds && this.has(sender)) {
          // One answer per line, naming it.
          this.#sendTagged(sender, id!, unsentError(null, outcome));
          continue;
        }
        senders.set(origin, (senders.get(origin) ?? 0) + 1);
      } else if (line.type === "MOD" || line.type === "TOPIC") {
        operators.add(origin);
      } else if (line.type === "JOIN" && claim?.line === line) {
        this.#endClaim(
          claim,
          new ProtocolError(
            "unavailable",
            `Cannot join room: the room cannot store events right now; send "${line.alias}" again later`,
          ),
        );
      } else if (line.type === "NICK" && claim?.line === line) {
        this.#undoRename(claim, line);
        kept.set(origin, line.alias);
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
            : this.#cluster
            ? "Done on this server only: the other servers could not be told; do it again later"
            : "Done, but not announced: the room cannot store events right now",
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
      const sender = this.#byId.get(origin);
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
      const sender = this.#byId.get(origin);
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

  /** A rename whose `NICK` was not stored: the old alias comes back. */
  #undoRename(claim: PendingClaim<M>, line: ServerLine<"NICK">): void {
    const { member } = claim;
    if (this.has(member) && member.alias === line.newAlias) {
      this.#remove(member);
      member.alias = line.alias;
      this.#add(member);
    } else if (member.alias === line.newAlias) {
      member.alias = line.alias; // gone meanwhile: its LEAVE is held too
    }
    this.#endClaim(
      claim,
      new ProtocolError(
        "unavailable",
        `Cannot change alias: the room cannot store events right now; you are still "${line.alias}"`,
      ),
    );
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

  /**
   * A `LEAVE` for a member that is still here was decided elsewhere in the
   * cluster (a kick or ban by an operator on another server, a login from
   * another connection, this server counted as lost): it goes, and is told
   * why.
   */
  #removedElsewhere(event: RoomEvent, line: ServerLine<"LEAVE">): void {
    const gone = this.#byId.get(event.origin);
    if (gone === undefined || this.#beforeClaim(event)) return;
    this.#claimedAt.delete(gone.id);
    this.#remove(gone);
    this.#forget(gone);
    const reason = line.reason as LeaveReason;
    this.#onLeave(gone, reason);
    gone.close(
      BYE_FOR_LEAVE[reason] ?? "kicked",
      event.effect?.kind === "bye"
        ? event.effect.text
        : "Disconnected: removed from the room",
    );
  }

  /**
   * A `NICK` for a member here that still has its old alias: its rename
   * reached the cluster while the answer was lost on the way back (or has
   * not come yet). The log is right: it takes the new alias.
   */
  #renamedElsewhere(event: RoomEvent, line: ServerLine<"NICK">): void {
    const member = this.#byId.get(event.origin);
    if (member === undefined || member.alias !== line.alias) return;
    if (this.#beforeClaim(event)) return;
    this.#remove(member);
    member.alias = line.newAlias;
    this.#add(member);
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
        const sender = this.#byId.get(event.origin);
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

/** The goodbye of a member removed elsewhere, by why it left. */
const BYE_FOR_LEAVE: Partial<Record<LeaveReason, ByeReason>> = {
  kicked: "kicked",
  banned: "banned",
  replaced: "replaced",
  "server-lost": "server-lost",
};

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
