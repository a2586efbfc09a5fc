/**
 * The room's fan-out: each line encoded once into the shared
 * {@linkcode LineArena} and the same bytes handed to every member in one
 * synchronous loop (a sender with line ids on gets its own copy, with the
 * id, encoded apart; members with `seq` one with the event's tags, encoded
 * once, when the first of them comes), and joins and leaves above the announce limit
 * counted and summed up in one `PRESENCE` line instead. It never removes
 * anyone: it returns who could not take a line. Each form a member may be
 * sent (plain, prefixed, each with the tags or not) is encoded in a lane of
 * its own, and lines for one member in another, so that a member's room
 * lines stay adjacent in memory whatever forms the others take.
 *
 * @module
 */

import { tagLine } from "../../protocol.ts";
import { seqTags } from "../../resume.ts";
import {
  formatServerLine,
  isNotice,
  noticeForm,
  type ServerLine,
} from "../../server_lines.ts";
import type { LineArena } from "./line_arena.ts";
import { formFor, type Member } from "./member.ts";
import { type RoomEvent, type RoomLine, roomsOnly } from "./room_log.ts";
import type { ServerMetrics } from "../metrics/server_metrics.ts";

/** An event's tags: its number in the log and when the log took it. */
export type Tags = Pick<RoomEvent, "seq" | "time">;

/** How the fan-out is delivered: counted toward each member's watermark. */
const ROOM_LINE = { room: true } as const;

/** The arena's lanes: lines for one member, then the room's four forms. */
const APART = 0;
const PLAIN = 1;
const PREFIXED = 2;
const PLAIN_SEQ = 3;
const PREFIXED_SEQ = 4;
/** How far a notice's forms for members with `notice` lie from the others. */
const NOTICE_LANES = 4;

/** Encodes lines once and delivers them to every member. */
export class FanOut<M extends Member> {
  #arena: LineArena;
  #announceLimit: number;
  #unannouncedJoins = 0;
  #unannouncedLeaves = 0;
  /** Online count after the last unannounced join or leave. */
  #unannouncedOnline = 0;
  #metrics: ServerMetrics;

  /**
   * A fan-out into `arena`, announcing joins and leaves up to a size,
   * counting its deliveries in `metrics`.
   */
  constructor(
    arena: LineArena,
    announceLimit: number,
    metrics: ServerMetrics,
  ) {
    this.#arena = arena;
    this.#announceLimit = announceLimit;
    this.#metrics = metrics;
  }

  /** Encodes a line once, next to the previous one (see LineArena). */
  encode(line: ServerLine): Uint8Array {
    return this.#arena.encode(formatServerLine(line), APART);
  }

  /** Encodes a line's text once (as `encode`). */
  encodeText(text: string): Uint8Array {
    return this.#arena.encode(text, APART);
  }

  /**
   * Encodes an event's line for a member with `seq`: its tags (with `id`
   * first when given), then the line (`room`: with its prefix), in
   * `lane` (by default with the lines for one member).
   */
  encodeEvent(
    event: Tags,
    line: ServerLine,
    room?: string,
    id?: string,
    lane = APART,
  ): Uint8Array {
    const text = formatServerLine(line);
    const tags = seqTags(event.seq, event.time, id);
    return this.#arena.encode(
      room === undefined ? `${tags}${text}` : `${tags}${room} ${text}`,
      lane,
    );
  }

  /** Encodes a line with the `@id=ID ` prefix. */
  encodeTagged(id: string, line: ServerLine): Uint8Array {
    return this.#arena.encode(tagLine(id, formatServerLine(line)), APART);
  }

  /**
   * Encodes the echo of `sender`'s own line (its id `own.id`, in room
   * `own.room`) as the sender is sent it: with the room's prefix when it
   * has `rooms`, after the event's tags (`@id=ID;seq=N;time=T `) when it
   * has `seq` and the event is known, else after `@id=ID `. The same bytes
   * when the line is handed on and when a resend is echoed again.
   */
  encodeOwn(
    sender: Member,
    line: ServerLine,
    own: { readonly id: string; readonly room: string; readonly event?: Tags },
  ): Uint8Array {
    line = formFor(sender, line);
    const where = sender.roomsOn ? own.room : undefined;
    if (sender.seqOn && own.event !== undefined) {
      return this.encodeEvent(own.event, line, where, own.id);
    }
    const text = formatServerLine(line);
    return this.#arena.encode(
      tagLine(own.id, where === undefined ? text : `${where} ${text}`),
      APART,
    );
  }

  /** Counts a join or leave that is not announced one by one; true if so. */
  countsAsPresence(line: RoomLine): boolean {
    if (line.type === "JOIN" && Number(line.online) > this.#announceLimit) {
      this.#unannouncedJoins++;
    } else if (
      line.type === "LEAVE" && Number(line.online) + 1 > this.#announceLimit
    ) {
      this.#unannouncedLeaves++;
    } else {
      return false;
    }
    this.#unannouncedOnline = Number(line.online);
    return true;
  }

  /**
   * The `PRESENCE` line summing up the joins and leaves counted since the
   * last one, or null when none was; the count starts again.
   */
  takeSummary(): ServerLine<"PRESENCE"> | null {
    if (this.#unannouncedJoins === 0 && this.#unannouncedLeaves === 0) {
      return null;
    }
    const summary: ServerLine<"PRESENCE"> = {
      type: "PRESENCE",
      joined: String(this.#unannouncedJoins),
      left: String(this.#unannouncedLeaves),
      online: String(this.#unannouncedOnline),
    };
    this.#unannouncedJoins = 0;
    this.#unannouncedLeaves = 0;
    return summary;
  }

  /**
   * Delivers a line of room `room` to its members: those with `rooms` get
   * it with the `#room ` prefix (and their own `JOIN`), the others as
   * today; each form encoded once, when first needed.
   */
  toRoom(
    members: ReadonlyMap<string, M>,
    line: ServerLine,
    room: string,
    event?: RoomEvent,
  ): M[] | undefined {
    const text = formatServerLine(line);
    // A notice: its own form for members with `notice` (`noticeForm`).
    const notice = isNotice(line) ? formatServerLine(noticeForm(line)) : null;
    /** Each form, by its lane, once encoded. */
    const forms: (Uint8Array | undefined)[] = [];
    const origin = event?.origin;
    const sender = origin === undefined ? undefined : members.get(origin);
    // Counted once stored and handed on (a resent id is not), by the
    // sender's door: this server's member.
    if (sender !== undefined && (line.type === "MSG" || line.type === "ME")) {
      this.#metrics.spoke(line.type, sender.door);
    }
    let skip: string | undefined;
    let own: Uint8Array | undefined;
    if (sender !== undefined) {
      if (line.type === "JOIN" && !sender.roomsOn) skip = sender.id;
      if (event?.id !== undefined && sender.lineIds) {
        own = this.encodeOwn(sender, line, { id: event.id, room, event });
      }
    }
    // The rooms' own actions (`op`, `deop`...) mean nothing without rooms.
    const hidden = roomsOnly(line);
    let slow: M[] | undefined;
    let delivered = 0;
    for (const member of members.values()) {
      if (member.id === skip || (hidden && !member.roomsOn)) continue;
      const asNotice = notice !== null && member.noticeOn === true;
      const form = lane(member, event) + (asNotice ? NOTICE_LANES : 0);
      const bytes = own !== undefined && member === sender
        ? own
        : (forms[form] ??= this.#form(
          form,
          asNotice ? notice : text,
          room,
          event,
        ));
      // A member held away takes the line without sending it: not counted.
      if (!member.deliver(bytes, ROOM_LINE)) (slow ??= []).push(member);
      else if (!member.away) delivered++;
    }
    this.#metrics.deliveries += delivered;
    return slow;
  }

  /**
   * The room's line in a form (its lane), with the event's tags or not
   * (`text`: the line, or its notice form in a notice's lanes).
   */
  #form(
    lane: number,
    text: string,
    room: string,
    event: RoomEvent | undefined,
  ): Uint8Array {
    const form = lane > PREFIXED_SEQ ? lane - NOTICE_LANES : lane;
    const body = form === PREFIXED || form === PREFIXED_SEQ
      ? `${room} ${text}`
      : text;
    const tags = form === PLAIN_SEQ || form === PREFIXED_SEQ
      ? seqTags(event!.seq, event!.time)
      : "";
    return this.#arena.encode(tags + body, lane);
  }
}

/** The lane of the form of the room's lines `member` is sent. */
function lane(member: Member, event: RoomEvent | undefined): number {
  if (member.seqOn && event !== undefined) {
    return member.roomsOn ? PREFIXED_SEQ : PLAIN_SEQ;
  }
  return member.roomsOn ? PREFIXED : PLAIN;
}
