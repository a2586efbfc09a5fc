/**
 * What the room does with lines its log did not hand on: each sender
 * hears what became of its own (not sent, perhaps sent, or out of the
 * room), operators hear that their action was not announced (or, for a
 * room's change the log refused, that it was undone), the
 * directory undoes a join or rename, a joiner whose room looks like one
 * created first elsewhere hears so, and a `LEAVE` is held and appended
 * again before anything else (at most {@linkcode MAX_HELD_LEAVES}), so
 * that the others see the member until it is stored.
 *
 * @module
 */

import type { ServerLine } from "../../server_lines.ts";
import type { Clock, TimerId } from "../../clock.ts";
import type { Directory, Dismissal } from "./directory.ts";
import type { FanOut } from "./fan_out.ts";
import type { Member } from "./member.ts";
import type { AppendOutcome, RoomLine, UnsentLine } from "./room_log.ts";
import { lookalikeText } from "./room_grants.ts";

/** What {@linkcode UnsentLines} needs of the room. */
export interface UnsentHost<M extends Member> {
  readonly clock: Clock;
  readonly directory: Directory<M>;
  /** The member of this server with that id, if any. */
  member(id: string): M | undefined;
  /** Whether the member is in the room. */
  has(member: M): boolean;
  /** Every member of this server. */
  members(): Iterable<M>;
  /** Sends one line to one member. */
  send(member: M, line: ServerLine): void;
  /** The room's fan-out, which encodes what is sent to one member. */
  readonly fan: FanOut<M>;
  /** The default room's name (a line appended without a room is in it). */
  defaultRoom(): string;
  /** Hands encoded lines to one member (dropped if it cannot take them). */
  deliver(member: M, bytes: Uint8Array): void;
  /** Takes a member out, announced, and tells it why. */
  dismiss(member: M, reason: Dismissal, text: string): void;
  /** Appends a held line again (not counted as new). */
  reappend(line: RoomLine, origin: string): void;
}

/**
 * What an operator hears when the log refused its change of a room other
 * than the default one: undone (`RoomReplica.undoRefused`).
 */
export const UNDONE_TEXT =
  "Not done: the other servers could not be told; do it again later";

/** Most `LEAVE`s held while the log cannot store them. */
export const MAX_HELD_LEAVES = 10_000;

/** How often held `LEAVE`s are tried again when nothing else is appended. */
const LEAVE_RETRY_MS = 1000;

/** The room's answers to lines its log did not store, and held leaves. */
export class UnsentLines<M extends Member> {
  #host: UnsentHost<M>;
  /** `LEAVE`s the log could not store: appended again, before anything. */
  #heldLeaves: { line: RoomLine; origin: string }[] = [];
  #retryTimer: TimerId | undefined;

  /** Answers for `host`'s room. */
  constructor(host: UnsentHost<M>) {
    this.#host = host;
  }

  /** Whether `LEAVE`s are held, to append before the next line. */
  get holding(): boolean {
    return this.#heldLeaves.length > 0;
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
  unsent(lost: readonly UnsentLine[], outcome: AppendOutcome): void {
    if (outcome === "duplicate") return this.#echoAgain(lost);
    if (outcome === "reused") return this.#refuseReused(lost);
    if (outcome === "lookalike") return this.#refuseLookalike(lost);
    if (outcome === "outside" || outcome === "muted") {
      return this.#refuseOutside(lost, outcome);
    }
    const { senders, operators } = this.#sort(lost, outcome);
    const host = this.#host;
    for (const member of [...host.members()]) {
      const count = senders.get(member.id);
      if (outcome === "gone") {
        if (count !== undefined) {
          host.dismiss(member, "server-lost", goneText(count));
        }
        continue;
      }
      if (count !== undefined) host.send(member, unsentError(count, outcome));
      const undone = operators.get(member.id);
      if (undone !== undefined) {
        host.send(member, {
          type: "ERR",
          code: outcome === "unknown" ? "unknown" : "unavailable",
          text: outcome === "unknown"
            ? "Done on this server; the other servers may not have been told (the room's store did not answer): check, and do it again if not"
            : undone
            ? UNDONE_TEXT
            : host.directory.unannounced,
        });
      }
    }
  }

  /**
   * Sorts lost lines: answers each line of a sender with `ids` at once
   * (naming it), counts the others' per sender, notes the operators, has
   * the directory undo joins and renames, and holds leaves.
   */
  #sort(
    lost: readonly UnsentLine[],
    outcome: Exclude<
      AppendOutcome,
      "duplicate" | "reused" | "lookalike" | "outside" | "muted"
    >,
  ) {
    const host = this.#host;
    const senders = new Map<string, number>();
    /** Operators, and whether their change of a room was undone. */
    const operators = new Map<string, boolean>();
    /** Members whose rename was undone, and the alias they keep. */
    const kept = new Map<string, string>();
    for (const { line, origin, id, room } of lost) {
      if (outcome === "gone" || line.type === "MSG" || line.type === "ME") {
        const sender = id === undefined ? undefined : host.member(origin);
        if (outcome !== "gone" && sender?.lineIds && host.has(sender)) {
          // One answer per line, naming it.
          this.#sendTagged(sender, id!, unsentError(null, outcome));
          continue;
        }
        senders.set(origin, (senders.get(origin) ?? 0) + 1);
      } else if (line.type === "MOD" || line.type === "TOPIC") {
        // A room's record goes back to the log's (`room_replica.ts`).
        const undone = outcome === "refused" && room !== undefined &&
          room !== host.defaultRoom();
        operators.set(origin, (operators.get(origin) ?? false) || undone);
      } else if (host.directory.unsent(line, origin, outcome)) {
        // A join refused, a rename undone (ERR unavailable to each).
        if (line.type === "NICK") kept.set(origin, line.alias);
      } else if (line.type === "LEAVE") {
        // Said after a rename that was undone: under the alias it kept.
        const alias = kept.get(origin) ?? line.alias;
        this.#holdLeave({ ...line, alias }, origin);
      }
    }
    return { senders, operators };
  }

  /**
   * Lines the log already held under their ids (resent): each sender with
   * `ids` gets its echo again, alone, so that every line it sent with an id
   * has an answer: the line its echo was when stored (prefix, number and
   * time as it asked for). (Without `ids`, no line has an id of its
   * sender's.)
   */
  #echoAgain(lines: readonly UnsentLine[]): void {
    for (const resent of lines) {
      const { line, origin, id } = resent;
      // A JOIN's id is the server's (a /join sent again after a doubt).
      if (line.type !== "MSG" && line.type !== "ME") continue;
      const sender = this.#host.member(origin);
      if (id !== undefined && sender?.lineIds && this.#host.has(sender)) {
        // As its echo was when stored: prefix, number and time as asked.
        const room = resent.room ?? this.#host.defaultRoom();
        const event = resent.first;
        const echo = this.#host.fan.encodeOwn(sender, line, {
          id,
          room,
          event,
        });
        this.#host.deliver(sender, echo);
      }
    }
  }

  /**
   * Lines sent under an id the log holds for another line: each sender
   * gets `@id=ID ERR usage`, alone (only a client with `ids` chooses ids).
   */
  #refuseReused(lines: readonly UnsentLine[]): void {
    for (const { line, origin, id } of lines) {
      // A JOIN's id is the server's (resent after a doubt and a rename).
      if (line.type === "JOIN") continue;
      const sender = this.#host.member(origin);
      if (id !== undefined && sender?.lineIds && this.#host.has(sender)) {
        this.#sendTagged(sender, id, {
          type: "ERR",
          code: "usage",
          text:
            `Line dropped: id "${id}" was used for another line; give each line an id of its own`,
        });
      }
    }
  }

  /** Sends one line with the `@id=ID ` prefix to one member. */
  #sendTagged(member: M, id: string, line: ServerLine): void {
    this.#host.deliver(member, this.#host.fan.encodeTagged(id, line));
  }

  /**
   * Joins that would have created a room whose name looks like one the
   * log knows, created first elsewhere: each joiner gets the `ERR` one
   * server gives (`room-taken Cannot create #r00m: it looks like #room`).
   */
  #refuseLookalike(lines: readonly UnsentLine[]): void {
    for (const { line, origin, room, taken } of lines) {
      const joiner = line.type === "JOIN" ? this.#host.member(origin) : null;
      if (!joiner || taken === undefined) continue;
      // A creation is never of the default room (no `room`): named always.
      const text = lookalikeText(room ?? "this room", taken);
      this.#host.send(joiner, { type: "ERR", code: "room-taken", text });
    }
  }

  /**
   * Messages and actions in a room their member was out of, or muted in,
   * as the log says, when they came (see {@linkcode droppedError}): each
   * sender is told, one answer per line.
   */
  #refuseOutside(
    lines: readonly UnsentLine[],
    outcome: "outside" | "muted",
  ): void {
    for (const { origin, id, room } of lines) {
      const sender = this.#host.member(origin);
      if (!sender || !this.#host.has(sender)) continue;
      const tagged = id !== undefined && sender.lineIds;
      const why = outcome === "outside" ? "out" : "muted";
      const error = droppedError(why, room ?? "the room", !tagged);
      if (tagged) this.#sendTagged(sender, id, error);
      else this.#host.send(sender, error);
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
    this.#retryTimer ??= this.#host.clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.appendHeld();
    }, LEAVE_RETRY_MS);
  }

  /** Appends the held `LEAVE`s again, oldest first. */
  appendHeld(): void {
    this.#host.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const held = this.#heldLeaves;
    this.#heldLeaves = [];
    for (const { line, origin } of held) this.#host.reappend(line, origin);
  }

  /** Stops the retry timer; what is held is not stored (at shutdown). */
  close(): void {
    this.#host.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#heldLeaves = [];
  }
}

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

/**
 * The answer to a message or action in `room` that reached nobody: the log
 * put first its member's leaving the room (`out`: a kick, ban or part) or
 * a mute there (`muted`), which its server had not read when it sent it.
 * `ERR unavailable` for `out` (not `not-in-room`, which a client takes for
 * the answer of a `/join` or `/part` it waits for), `ERR muted` for
 * `muted`. `counted`: without an id to name it.
 */
export function droppedError(
  why: "out" | "muted",
  room: string,
  counted: boolean,
): ServerLine<"ERR"> {
  const where = why === "out" ? `out of ${room}` : `muted in ${room}`;
  return {
    type: "ERR",
    code: why === "out" ? "unavailable" : "muted",
    text: `Not sent${
      counted ? " (1 line)" : ""
    }: you were ${where} before it was stored`,
  };
}

/** The goodbye of a member whose lines came after it left the room. */
function goneText(count: number): string {
  return `Disconnected: your server lost touch with the room, and your last ${
    count === 1 ? "line was" : `${count} lines were`
  } not sent; join again`;
}
