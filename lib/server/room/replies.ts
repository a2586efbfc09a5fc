/**
 * What the room answers one member alone, never through the room log:
 * history on joining or asked (`HIST` lines, `replay.ts`'s), `/help`,
 * a private message (`PRIV` to its target wherever it is, `SENT` to its
 * sender) and any one line. A member whose queue cannot take an answer is
 * dropped as slow, by the room (the one owner of that decision).
 *
 * @module
 */

import { ProtocolError } from "../../protocol.ts";
import { commandHelp } from "../../command_help.ts";
import { formatServerLine, type ServerLine } from "../../server_lines.ts";
import type { Topic } from "../access/moderation.ts";
import type { Directory } from "./directory.ts";
import { type Member, privateLine, type PrivateText } from "./member.ts";
import { Replay, REPLAY_CUT, type ReplayBudget } from "./replay.ts";
import { catchUp, type CatchUpRoom } from "./catch_up.ts";
import type { CatchUpQuota } from "./catch_up_quota.ts";
import type { RoomLog } from "./room_log.ts";
import type { RecentEvents } from "./recent_events.ts";

const encoder = new TextEncoder();

/** Options of {@linkcode Replies}: the room's parts it answers with. */
export interface RepliesOptions<M extends Member> {
  /** Who holds which alias (`/who`, `/msg`). */
  readonly directory: Directory<M>;
  /** Where history is read (its recent messages). */
  readonly log: RoomLog;
  /**
   * Most bytes of history and catch-ups sent in one go (see
   * `RoomOptions.historyBytes`).
   */
  readonly historyBytes: number;
  /** Most lines of a catch-up (`--resume-lines`). @default {10_000} */
  readonly resumeLines?: number;
  /**
   * Lines of catch-up each address group may still be read
   * (`--resume-rate`). @default {no bound}
   */
  readonly quota?: CatchUpQuota;
  /** The room's counters (a private message counts as a message). */
  readonly stats: { messages: number };
  /** Sends one line to one member (the room drops it if it cannot take it). */
  readonly send: (member: M, line: ServerLine) => void;
  /** Sends one line with a `#room ` prefix to one member. */
  readonly sendIn: (member: M, room: string, line: ServerLine) => void;
  /** The room's one decision about slow members: out, then closed. */
  readonly dropSlow: (members: readonly M[]) => void;
}

/** The room's answers to one member (see the module). */
export class Replies<M extends Member = Member> {
  #options: RepliesOptions<M>;
  #replay = new Replay();

  /** Answers with the room's `options`. */
  constructor(options: RepliesOptions<M>) {
    this.#options = options;
  }

  /**
   * Sends a private message: only the target receives `PRIV`, wherever it
   * is; the sender gets `SENT` as confirmation (both marked as a notice
   * for `/privnotice`: `markNotice`). Rejects when no member has
   * that alias, or when the target cannot be reached now.
   */
  async whisper(
    member: M,
    to: string,
    { text, notice }: PrivateText,
  ): Promise<void> {
    const said = { text, notice };
    let alias: string;
    try {
      const found = await this.#options.directory.find(to);
      if (found === null) {
        throw new ProtocolError(
          "no-such-alias",
          `Cannot send private message: nobody is called "${to}"`,
        );
      }
      const { alias: holder, away } = "here" in found
        ? found.here
        : found.elsewhere;
      alias = holder;
      // Held (here, or by another server): its connection dropped.
      if (away) {
        throw new ProtocolError(
          "away",
          `${alias} is reconnecting; try again shortly`,
        );
      }
      if ("here" in found) {
        this.#options.send(
          found.here,
          privateLine("PRIV", member.alias, said),
        );
      } else {
        await this.#options.directory.message(
          found.elsewhere,
          member.alias,
          said,
        );
      }
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      throw new ProtocolError(
        "unavailable",
        `Cannot send private message to "${to}" now: try again later`,
        { cause: error },
      );
    }
    this.#options.stats.messages++;
    this.#options.send(member, privateLine("SENT", alias, said));
  }

  /**
   * A budget of `historyBytes` less what `member`'s queue holds already
   * (several joins, or a join of many IRC channels, in one go), for the
   * replays and catch-ups sent to it in one go (its rooms at login, or at a
   * takeover) to share.
   */
  budget(member?: M): ReplayBudget {
    const queued = member?.queued ?? 0;
    return { left: Math.max(0, this.#options.historyBytes - queued) };
  }

  /**
   * Sends the member the last `limit` messages and actions the log holds,
   * oldest first, as `HIST` lines (at most as many as fit in what `budget`
   * has left, by default all of `historyBytes`), then `HISTEND` with their
   * count. On joining (`asked` false) a room without history sends
   * nothing at all (one whose lines did not fit says `HISTEND 0`).
   */
  history(
    member: M,
    limit: number,
    asked: boolean,
    from?: { readonly recent: RecentEvents; readonly room?: string },
    budget: ReplayBudget = this.budget(member),
  ): void {
    const events = from
      ? from.recent.last(limit)
      : this.#options.log.recent(limit);
    const { noticeOn } = member;
    const lines = this.#replay.lines(events, budget, from?.room, noticeOn);
    for (const line of lines) {
      if (!member.deliver(line)) return this.#options.dropSlow([member]);
    }
    const count = lines.length;
    if (events.length === 0 && !asked) return;
    const more = count < events.length ? ` ${REPLAY_CUT}` : "";
    const send = from?.room === undefined
      ? this.#options.send
      : (m: M, line: ServerLine) => this.#options.sendIn(m, from.room!, line);
    send(member, {
      type: "HISTEND",
      count: String(count),
      text: `End of history: ${count} message${count === 1 ? "" : "s"}${more}`,
    });
  }

  /** The epoch of the log (a position of another one is not caught up). */
  get epoch(): string {
    return this.#options.log.epoch;
  }

  /**
   * Catches `member` up with `room` from number `after` (`catch_up.ts`):
   * at most `resumeLines` lines, what its address group's `quota` has
   * left and what `budget` has left.
   */
  catchUp(
    member: M,
    after: number,
    room: CatchUpRoom,
    budget: ReplayBudget = this.budget(member),
  ): void {
    const { log, resumeLines, quota } = this.#options;
    const options = { log, resumeLines: resumeLines ?? 10_000, budget, quota };
    catchUp(member, after, room, options, (m) => this.deliver(m as M, []));
  }

  /** Sends encoded lines to one member; drops it if it cannot take them. */
  deliver(member: M, lines: readonly Uint8Array[]): void {
    for (const line of lines) {
      if (!member.deliver(line)) return this.#options.dropSlow([member]);
    }
  }

  /**
   * Sends the member the command list as `INFO` lines: those for what its
   * client can do (rooms, or one room).
   */
  help(member: M): void {
    for (const text of commandHelp(member.roomsOn ?? false)) {
      this.#options.send(member, { type: "INFO", text });
    }
  }

  /**
   * Tells `member` a list's lines in order, as many as fit in its budget
   * ({@linkcode budget}: a list of long lines, rooms' topics or bans'
   * reasons, must not get whoever asked dropped as slow); returns how many.
   */
  list(member: M, lines: Iterable<ServerLine | DatedLine>): number {
    const budget = this.budget(member);
    let told = 0;
    for (const item of lines) {
      const { line, at } = "line" in item
        ? item
        : { line: item, at: undefined };
      const text = datedText(member, line, at) ?? `${formatServerLine(line)}\n`;
      budget.left -= encoder.encode(text).length;
      if (budget.left < 0) break;
      this.tellDated(member, line, at);
      told++;
    }
    return told;
  }

  /** Sends one line to one member (the room drops it if it cannot take it). */
  tell(member: M, line: ServerLine): void {
    this.#options.send(member, line);
  }

  /**
   * Tells a member a topic (on entering its room, or asked), who set it
   * and, to a member with `seq`, when: see {@linkcode tellDated}.
   */
  tellTopic(member: M, topic: Topic, room?: string): void {
    const line = { type: "TOPIC" as const, alias: topic.by, text: topic.text };
    this.tellDated(member, line, topic.at, room);
  }

  /**
   * Sends one line about something set earlier (a topic, a ban) to one
   * member, with a `#room ` prefix when `room` is given, and to a member
   * with `seq` the time it was set (`at`, ms) as a `@time=T ` tag: see
   * {@linkcode datedText}. Untagged when that time is not known.
   */
  tellDated(member: M, line: ServerLine, at?: number, room?: string): void {
    const text = datedText(member, line, at, room);
    if (text !== null) return this.deliver(member, [encoder.encode(text)]);
    if (room === undefined) this.#options.send(member, line);
    else this.#options.sendIn(member, room, line);
  }
}

/** A line of a list with the time what it shows was set (ms), if known. */
export interface DatedLine {
  readonly line: ServerLine;
  readonly at?: number | undefined;
}

/**
 * A line about something set earlier, as a member with `seq` gets it:
 * `@time=T ` (UTC ISO 8601 with ms, as a log line's) and the line, with
 * its `#room ` prefix and LF; null for a member without `seq` or a time
 * not known (an earlier release kept none), which get the line as it was.
 * A `time` tag without `seq` is no log line's: a client dedupes and
 * resumes by `seq` alone.
 */
export function datedText(
  member: Pick<Member, "seqOn">,
  line: ServerLine,
  at?: number,
  room?: string,
): string | null {
  if (!member.seqOn || at === undefined) return null;
  const prefix = room === undefined ? "" : `${room} `;
  const time = new Date(at).toISOString();
  return `@time=${time} ${prefix}${formatServerLine(line)}\n`;
}

/**
 * What ends the `INFO` line of a list {@linkcode Replies.list} cut: nothing
 * when all `listed` were shown, else which of them were (`which`: "busiest",
 * "first").
 */
export function cutNote(shown: number, listed: number, which: string): string {
  return shown < listed
    ? ` (the ${which} ${shown}: those that fit at once)`
    : "";
}
