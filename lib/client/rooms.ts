/**
 * The terminal client's rooms (the `rooms` capability) as pure logic: the
 * rooms it is in and the current one, unread messages in the others, the
 * prompt's text, a server line's `#room ` prefix taken off, the prefix a
 * line to send gets, and when lines to send must wait: after `/join` (or
 * `/part`, or joining the server) until the server says where the client
 * now is. No sockets, no timers, no output: the dialogue feeds it lines and
 * {@linkcode Outbox} sends through it.
 *
 * @module
 */

import { aliasKey, isWellFormedAlias } from "../protocol.ts";
import { isCommand } from "../commands.ts";
import type { ServerLine } from "../server_lines.ts";
import { toRoomName } from "./room_names.ts";

/**
 * Commands about no room in particular (or naming their own): sent without
 * a prefix. Every other line (chat, `/me`, `/who`, `/topic`, `/kick` ...)
 * acts in the current room and carries its prefix.
 */
const SERVER_WIDE: ReadonlySet<string> = new Set([
  "nick",
  "msg",
  "quit",
  "help",
  "join",
  "rooms",
  "pong",
  "pass",
  "cap",
  "ban",
  "unban",
  "bans",
]);

/** What a line to send asks of the rooms, besides being sent. */
type Change =
  /** Joined the server: until the first `CURRENT`. */
  | { readonly kind: "arrive" }
  /** `/join #room [KEY]`: until `CURRENT` or the join's `ERR`. */
  | { readonly kind: "join"; readonly room: string; readonly key: string }
  /** `/part`: until the own `LEAVE` (and `CURRENT`, if it was current). */
  | { readonly kind: "part"; readonly room: string | null };

/**
 * The `ERR` codes that refuse a `/join` (the page keeps a copy, checked
 * against this one by a test).
 */
export const JOIN_ERRORS: ReadonlySet<string> = new Set([
  "room-invalid",
  "room-taken",
  "no-such-room",
  "room-key",
  "room-invite-only",
  "room-banned",
  "too-many-rooms",
  "rooms-full",
  "room-creations",
  "too-many-attempts",
]);

/**
 * Whether `line`, an `ERR` without an id, answers the room change that
 * waits: {@linkcode JOIN_ERRORS}; for a `/join`, `unavailable` or `unknown`
 * naming its room (`Cannot join #room:`, `Perhaps not in #room:`); for a
 * `/part`, `not-in-room` naming its room. The same codes answer lines sent
 * before (a message to a room just left, an operator's action), answered
 * first: those must not end the wait (what follows would go to the room
 * left). An `ERR` with an id answers its line, never a room change.
 */
function answersChange(
  line: ServerLine<"ERR">,
  change: Change | null,
): boolean {
  if (JOIN_ERRORS.has(line.code)) return true;
  if (change?.kind === "part" && line.code === "not-in-room") {
    return line.text ===
      (change.room === null
        ? "You are in no room: /join #room"
        : `You are not in ${change.room}`);
  }
  if (change?.kind !== "join") return false;
  if (line.code === "unavailable") {
    return line.text.startsWith(`Cannot join ${change.room}:`);
  }
  return line.code === "unknown" &&
    line.text.startsWith(`Perhaps not in ${change.room}:`);
}

/**
 * The `ERR` codes that answer a password (a login after `/nick`): one
 * after a `PASSWORD` is the login's, whatever `/join` waits.
 */
const LOGIN_ERRORS: ReadonlySet<string> = new Set([
  "login-failed",
  "password-wrong",
  "too-many-attempts",
]);

/** A line to show, and the room it is labelled with (null: none). */
export interface Shown {
  readonly line: ServerLine | string;
  readonly room: string | null;
}

/**
 * Where the client is: its alias (followed through renames), and with the
 * `rooms` capability the rooms it is in (in the order joined), the current
 * one and the unread messages of the others. It says how each server line
 * is shown (a room label once the client is in more than one room) and what
 * prefix each line to send gets, and holds lines back while the server has
 * not yet said where a `/join` or `/part` left the client.
 *
 * @example The prompt follows CURRENT and counts unread messages
 * ```ts
 * import assert from "node:assert/strict";
 * import { RoomState } from "./rooms.ts";
 *
 * const rooms = new RoomState("amy");
 * rooms.enabled = true;
 * rooms.welcomed();
 * rooms.see("#lobby", { type: "JOIN", alias: "amy", online: "2" });
 * rooms.see("#ops", { type: "JOIN", alias: "amy", online: "1" });
 * rooms.see(null, { type: "CURRENT", room: "#lobby" });
 * rooms.see("#ops", { type: "MSG", alias: "bob", text: "hi" });
 * assert.equal(rooms.prompt(), "amy #lobby [#ops 1]> ");
 * assert.equal(rooms.roomFor("hello"), "#lobby");
 * assert.equal(rooms.roomFor("/nick amelia"), null);
 * ```
 */
export class RoomState {
  /** Whether the server turned `rooms` on for this connection. */
  enabled = false;
  #alias: string;
  #current: string | null = null;
  /** The rooms the client is in, in the order joined: unread messages. */
  #rooms = new Map<string, number>();
  #change: Change | null = null;
  /** The keys its rooms were entered with (a refused join forgets one). */
  #keys = new Map<string, string>();
  /** Unread counts of the rooms a lost connection was in, until rejoined. */
  #unreadKept = new Map<string, number>();
  #arrived = false;
  #waiters: (() => void)[] = [];
  /** Passwords the server asked for whose answer has not come yet. */
  #logins = 0;

  /** Starts as `alias`, in no room. */
  constructor(alias: string) {
    this.#alias = alias;
  }

  /** The alias the client has now. */
  get alias(): string {
    return this.#alias;
  }

  /** The current room; null without rooms, or in none. */
  get current(): string | null {
    return this.#current;
  }

  /** The rooms the client is in, in the order joined. */
  get rooms(): string[] {
    return [...this.#rooms.keys()];
  }

  /**
   * The server welcomed `alias` (the one given, or kept when absent or not
   * well formed: the prompt shows it, unsanitised): with rooms on, nothing
   * is sent until it says the current room.
   */
  welcomed(alias = this.#alias): void {
    if (isWellFormedAlias(alias)) this.#alias = alias;
    if (this.enabled) this.#change = { kind: "arrive" };
  }

  /**
   * The prompt: `alias #room [#other 3]> ` (just `alias> ` without rooms),
   * with `status` in brackets before the `>` when given.
   */
  prompt(status: string | null = null): string {
    const parts = [this.#alias];
    if (this.#current !== null) parts.push(this.#current);
    for (const [room, unread] of this.#rooms) {
      if (unread > 0 && room !== this.#current) {
        parts.push(`[${room} ${unread}]`);
      }
    }
    if (status !== null) parts.push(`(${status})`);
    return `${parts.join(" ")}> `;
  }

  /**
   * A line as typed, to send: one that starts with a room the client is in
   * (`#ops hi`, any case) goes there; any other to the room
   * {@linkcode RoomState.roomFor} says. `line` is what follows the prefix.
   */
  toSend(line: string): { room: string | null; line: string } {
    const space = line.indexOf(" ");
    const named = space > 0 ? toRoomName(line.slice(0, space)) : null;
    if (!this.enabled || named === null || !this.#rooms.has(named)) {
      return { room: this.roomFor(line), line };
    }
    const rest = line.slice(space + 1);
    this.roomFor(rest, named);
    return { room: named, line: rest };
  }

  /**
   * The room a line to send acts in, so gets as its prefix: `here` (the
   * current one), or null (no prefix) for a server-wide command, a `/part`
   * that names its room, a blank line, or without rooms. A `/join` or
   * `/part` makes the next lines wait (see {@linkcode RoomState.settled}).
   */
  roomFor(line: string, here = this.#current): string | null {
    if (!this.enabled || line.trim() === "") return null;
    if (!isCommand(line)) return here;
    const [command = "", first = "", key = ""] = line.slice(1).split(" ");
    const name = command.toLowerCase();
    if (name === "join") {
      // An invalid name gets ERR usage or room-invalid: nothing to wait for.
      const room = toRoomName(first);
      if (room !== null) this.#change = { kind: "join", room, key };
      return null;
    }
    if (name === "part") {
      const named = toRoomName(first);
      this.#change = { kind: "part", room: named ?? here };
      return named === null ? here : null;
    }
    return SERVER_WIDE.has(name) ? null : here;
  }

  /** `/join #room [KEY]`, KEY the one it was entered with (if not left). */
  joinLine(room: string): string {
    const key = this.#keys.get(room);
    return key === undefined ? `/join ${room}` : `/join ${room} ${key}`;
  }

  /** Resolves once no `/join` or `/part` waits for the server's answer. */
  settled(): Promise<void> {
    if (this.#change === null) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The connection ended: nothing waits any more. */
  ended(): void {
    this.#logins = 0;
    this.#settle();
  }

  /**
   * The server asked for a password (`PASSWORD`): the answer to the next
   * line is the login's (`NICK`, or an `ERR` of {@linkcode LOGIN_ERRORS}),
   * not a `/join`'s sent meanwhile (the server answers in order).
   */
  passwordAsked(): void {
    this.#logins++;
  }

  /**
   * Starts over for a new connection (the alias kept); returns the rooms
   * the client was in, in the order joined, and the current one.
   */
  lost(): { rooms: string[]; current: string | null } {
    const was = { rooms: this.rooms, current: this.#current };
    for (const [room, unread] of this.#rooms) {
      this.#unreadKept.set(room, unread);
    }
    this.#rooms.clear();
    this.#current = null;
    this.#arrived = false;
    this.#logins = 0;
    this.#settle();
    return was;
  }

  /**
   * The account read `room` on another device (`READ`) up to the last
   * line this client has of it: none of its messages is unread here.
   */
  readElsewhere(room: string): void {
    if (this.#rooms.has(room)) this.#rooms.set(room, 0);
  }

  /**
   * Takes in a server line (its prefix taken off: `room`; a string: one
   * that did not parse) and says what to show. A `past` line (caught up
   * from the log) changes nothing: it is only labelled. The client's own
   * `JOIN` of a room it is not in is never past: the server sends it
   * first, before the room's catch-up (docs/protocol.md, Catch-up), and it
   * is the entering that the catch-up follows. `id`: the id the line
   * carried (it answers the line sent with it, never a room change).
   */
  see(
    room: string | null,
    line: ServerLine | string,
    past = false,
    id: string | null = null,
  ): Shown[] {
    if (room === null) return this.#seeUnprefixed(line, id !== null);
    if (typeof line === "string") return [{ line, room }];
    const own = "alias" in line && this.#isSelf(line.alias);
    const entering = line.type === "JOIN" && own && !this.#rooms.has(room);
    if (past && !entering) {
      return [{ line, room: this.#rooms.size > 1 ? room : null }];
    }
    const before = this.#rooms.size;
    if (line.type === "JOIN" && own) this.#entered(room);
    if (line.type === "LEAVE" && own) this.#left(room);
    if ((line.type === "MSG" || line.type === "ME") && !own) {
      const unread = this.#rooms.get(room);
      if (unread !== undefined && room !== this.#current) {
        this.#rooms.set(room, unread + 1);
      }
    }
    if (line.type === "NICK" && own) this.#logins = 0; // logged in
    if (line.type === "NICK" && own && isWellFormedAlias(line.newAlias)) {
      this.#alias = line.newAlias;
    }
    const label = Math.max(before, this.#rooms.size) > 1 ? room : null;
    // Before the first CURRENT, the own joins are the welcome's: said.
    if (line.type === "JOIN" && own && !this.#arrived) return [];
    return [{ line, room: label }];
  }

  #seeUnprefixed(line: ServerLine | string, tagged: boolean): Shown[] {
    if (typeof line === "string") return [{ line, room: null }];
    if (line.type === "CURRENT" && this.enabled) return this.#moved(line.room);
    if (line.type !== "ERR" || tagged) {
      // Not an answer to a login, a /join or a /part.
    } else if (LOGIN_ERRORS.has(line.code) && this.#logins) {
      this.#logins--;
    } else if (answersChange(line, this.#change)) {
      if (this.#change?.kind === "join") this.#forget(this.#change.room);
      this.#settle();
    }
    if (line.type === "NICK" && this.#isSelf(line.alias)) {
      this.#logins = 0; // logged in
      if (isWellFormedAlias(line.newAlias)) this.#alias = line.newAlias;
    }
    return [{ line, room: null }];
  }

  /**
   * The server says the current room (`-`: none); the prompt shows it.
   * The first time, after the welcome, which rooms it put the client in.
   */
  #moved(room: string): Shown[] {
    this.#current = toRoomName(room);
    if (this.#current !== null) this.#rooms.set(this.#current, 0);
    this.#settle();
    if (this.#arrived) return [];
    this.#arrived = true;
    if (this.#rooms.size < 2) return [];
    const text = `You are in ${this.rooms.join(", ")}; talking in ${
      this.#current ?? "none of them"
    }`;
    return [{ line: { type: "INFO", text }, room: null }];
  }

  /** The client entered `room`, with the key its `/join` gave, if any. */
  #entered(room: string): void {
    this.#rooms.set(room, this.#unreadKept.get(room) ?? 0);
    this.#unreadKept.delete(room);
    const change = this.#change;
    if (change?.kind !== "join" || change.room !== room || !change.key) return;
    this.#keys.set(room, change.key);
  }

  /** The client left `room` (parted, kicked, banned from it). */
  #left(room: string): void {
    this.#rooms.delete(room);
    this.#forget(room);
    if (room === this.#current) {
      // The server says which room is current next (CURRENT).
      this.#current = null;
    } else if (this.#change?.kind === "part" && this.#change.room === room) {
      this.#settle();
    }
  }

  /** A room left or refused: its key and kept unread count go. */
  #forget(room: string): void {
    this.#keys.delete(room);
    this.#unreadKept.delete(room);
  }

  #isSelf(alias: string): boolean {
    return aliasKey(alias) === aliasKey(this.#alias);
  }

  #settle(): void {
    this.#change = null;
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
