/**
 * The chat room: who is in it under which alias, and what each of them
 * receives. Every broadcast is encoded once and handed synchronously to every
 * member's {@linkcode Member.deliver}, so all members see one global order and
 * the room never waits on anyone's socket. Members are reached only through
 * the small {@linkcode Member} interface: the room knows nothing of TLS,
 * sockets or queues, which is the seam where a multi-process backplane would
 * slot in.
 *
 * @module
 */

import { LineArena } from "./outbox.ts";
import {
  aliasKey,
  COMMAND_HELP,
  formatServerLine,
  type LeaveReason,
  ProtocolError,
  type ServerLine,
  validateAlias,
  WHO_LIST_LIMIT,
} from "./protocol.ts";

/** What the room needs from a member. */
export interface Member {
  /** The member's alias; set by the room on join and rename. */
  alias: string;
  /**
   * Queues one encoded line for the member without waiting. Returns false
   * when the member cannot keep up (its queue is full); the room then removes
   * it as a slow consumer.
   */
  deliver(line: Uint8Array): boolean;
}

/** Options of {@linkcode Room}. */
export interface RoomOptions<M extends Member = Member> {
  /**
   * Largest room size at which joins and leaves are announced one by one.
   * Above it they are counted and announced as one `PRESENCE` summary just
   * before the next line that everyone receives.
   * @default {100}
   */
  announceLimit?: number;
  /** Called after a member has left, whatever the reason (for logs). */
  onLeave?: (member: M, reason: LeaveReason) => void;
}

/** Counters a server reports in its logs. */
export interface RoomStats {
  joins: number;
  messages: number;
  peakMembers: number;
}

/** One chat room: a set of members with unique aliases. */
export class Room<M extends Member = Member> {
  readonly announceLimit: number;
  readonly stats: RoomStats = { joins: 0, messages: 0, peakMembers: 0 };
  #members = new Map<string, M>();
  #arena = new LineArena();
  #unannouncedJoins = 0;
  #unannouncedLeaves = 0;
  #onLeave: (member: M, reason: LeaveReason) => void;

  /** Creates an empty room. */
  constructor(options: RoomOptions<M> = {}) {
    this.announceLimit = options.announceLimit ?? 100;
    this.#onLeave = options.onLeave ?? (() => {});
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
   * a {@linkcode ProtocolError} when the alias is invalid, reserved or taken.
   *
   * @example Aliases are unique regardless of case
   * ```ts
   * import assert from "node:assert/strict";
   * import { Room } from "./room.ts";
   *
   * const room = new Room();
   * const inbox: string[] = [];
   * const member = (name: string) => ({
   *   alias: "",
   *   deliver: (line: Uint8Array) => {
   *     inbox.push(`${name}: ${new TextDecoder().decode(line).trim()}`);
   *     return true;
   *   },
   * });
   * room.join(member("a"), "Alice");
   * assert.throws(() => room.join(member("b"), "alice"), /taken/);
   * room.join(member("b"), "Bob");
   * assert.deepEqual(inbox, [
   *   "a: WELCOME Alice 1 Type /help for commands",
   *   "b: WELCOME Bob 2 Type /help for commands",
   *   "a: JOIN Bob 2",
   * ]);
   * ```
   */
  join(member: M, alias: string): void {
    const key = aliasKey(validateAlias(alias));
    if (this.#members.has(key)) {
      throw new ProtocolError(
        "alias-taken",
        `Cannot join room: alias "${alias}" is taken`,
      );
    }
    member.alias = alias;
    this.#members.set(key, member);
    this.stats.joins++;
    this.stats.peakMembers = Math.max(this.stats.peakMembers, this.size);
    const online = String(this.size);
    this.#send(member, {
      type: "WELCOME",
      alias,
      online,
      text: "Type /help for commands",
    });
    if (this.size <= this.announceLimit) {
      this.#publish({ type: "JOIN", alias, online }, member);
    } else {
      this.#unannouncedJoins++;
    }
  }

  /**
   * Removes a member and announces why. Does nothing when the member is not
   * in the room, so it is safe to call from every exit path.
   */
  leave(member: M, reason: LeaveReason, text = ""): void {
    const key = aliasKey(member.alias);
    if (this.#members.get(key) !== member) return;
    const announce = this.size <= this.announceLimit;
    this.#members.delete(key);
    this.#onLeave(member, reason);
    if (reason === "shutdown") return;
    if (announce) {
      const online = String(this.size);
      this.#publish({
        type: "LEAVE",
        alias: member.alias,
        online,
        reason,
        text,
      });
    } else {
      this.#unannouncedLeaves++;
    }
  }

  /** Sends a chat message from a member to everyone, the sender included. */
  say(member: M, text: string): void {
    this.stats.messages++;
    this.#publish({ type: "MSG", alias: member.alias, text });
  }

  /** Sends a `/me` action from a member to everyone. */
  act(member: M, text: string): void {
    this.stats.messages++;
    this.#publish({ type: "ME", alias: member.alias, text });
  }

  /**
   * Sends a private message: only the target receives `PRIV`; the sender gets
   * `SENT` as confirmation. Throws when no member has that alias.
   */
  whisper(member: M, to: string, text: string): void {
    const target = this.#members.get(aliasKey(to));
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

  /** Changes a member's alias and announces it to everyone. */
  rename(member: M, alias: string): void {
    const key = aliasKey(validateAlias(alias));
    const holder = this.#members.get(key);
    if (holder !== undefined && holder !== member) {
      throw new ProtocolError(
        "alias-taken",
        `Cannot change alias: "${alias}" is taken`,
      );
    }
    const old = member.alias;
    this.#members.delete(aliasKey(old));
    member.alias = alias;
    this.#members.set(key, member);
    this.#publish({
      type: "NICK",
      alias: old,
      newAlias: alias,
      online: String(this.size),
    });
  }

  /**
   * Sends the member a `WHO` line: the online count and the aliases in
   * alphabetical order, at most {@linkcode WHO_LIST_LIMIT} of them.
   */
  who(member: M): void {
    const aliases = [...this.#members.keys()].sort()
      .slice(0, WHO_LIST_LIMIT)
      .map((key) => this.#members.get(key)!.alias);
    this.#send(member, {
      type: "WHO",
      online: String(this.size),
      aliases: aliases.join(" "),
    });
  }

  /** Sends the member the command list as `INFO` lines. */
  help(member: M): void {
    for (const text of COMMAND_HELP) this.#send(member, { type: "INFO", text });
  }

  /** Encodes a line once, next to the previous one (see LineArena). */
  #encode(line: ServerLine): Uint8Array {
    return this.#arena.encode(formatServerLine(line));
  }

  /** Sends one line to one member. */
  #send(member: M, line: ServerLine): void {
    if (!member.deliver(this.#encode(line))) this.leave(member, "slow");
  }

  /**
   * Encodes a line once and delivers it to every member but `except`. Members
   * whose queue overflows are removed after the loop, so every member sees
   * the same order of lines.
   */
  #publish(line: ServerLine, except?: M): void {
    if (
      line.type !== "PRESENCE" &&
      (this.#unannouncedJoins > 0 || this.#unannouncedLeaves > 0)
    ) {
      const summary: ServerLine = {
        type: "PRESENCE",
        joined: String(this.#unannouncedJoins),
        left: String(this.#unannouncedLeaves),
        online: String(this.size),
      };
      this.#unannouncedJoins = 0;
      this.#unannouncedLeaves = 0;
      this.#publish(summary, except);
    }
    const bytes = this.#encode(line);
    let slow: M[] | undefined;
    for (const member of this.#members.values()) {
      if (member !== except && !member.deliver(bytes)) {
        (slow ??= []).push(member);
      }
    }
    if (slow) { for (const member of slow) this.leave(member, "slow"); }
  }
}
