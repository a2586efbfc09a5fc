/**
 * The Member seam: what the room needs of a member (a session, or a fake
 * in tests), how a member dropped as too slow is told so, and how the
 * others hear that a member's connection ended. A member
 * only queues what it is given and reports a full queue; the room alone
 * removes it and tells it to close.
 *
 * @module
 */

import {
  type ByeReason,
  type LeaveReason,
  markNotice,
  noticeForm,
  type ServerLine,
} from "../../server_lines.ts";
import type { ConnectionInfo } from "./connection.ts";

/** What the room needs from a member. */
export interface Member {
  /** Unique among the room's members, for as long as it is connected. */
  readonly id: string;
  /** The member's alias; set by the room on join and rename. */
  alias: string;
  /** Whether it is an operator (marked in `WHO`). */
  readonly operator: boolean;
  /** The door its connection came through (what it says is counted by). */
  readonly door?: ConnectionInfo["door"];
  /**
   * It turned on the `ids` capability: the echo of each of its messages
   * and actions, and any `ERR` about one, carries `@id=ID ` (its own copy
   * is encoded apart from everyone's).
   * @default {false}
   */
  readonly lineIds?: boolean;
  /**
   * It turned on the `rooms` capability: room lines reach it with their
   * `#room ` prefix, and it may be in many rooms.
   * @default {false}
   */
  readonly roomsOn?: boolean;
  /**
   * It turned on `seq` (or `resume`): room lines from the log reach it
   * with `@seq=N;time=T ` tags (encoded apart, once per event, only when
   * such a member is in the room).
   * @default {false}
   */
  readonly seqOn?: boolean;
  /**
   * It turned on `notice`: a notice reaches it as `NOTICE`, `PRIVNOTICE`,
   * `SENTNOTICE` or `HIST` kind `NOTICE` (`noticeForm`), not as a message.
   * @default {false}
   */
  readonly noticeOn?: boolean;
  /**
   * Its connection dropped and it is held (`hold.ts`): it may come back
   * within the grace; private messages to it are refused meanwhile.
   * @default {false}
   */
  readonly away?: boolean;
  /**
   * Queues one encoded line for the member without waiting. Returns false
   * when the member cannot keep up (its queue is full); the room then
   * removes it as a slow consumer. Never removes or closes anything itself.
   * `room` marks the room's fan-out (what everyone gets): only those lines
   * count toward the member's watermark (`Room.reportQueue`).
   */
  deliver(line: Uint8Array, options?: { readonly room?: boolean }): boolean;
  /**
   * Bytes its queue holds now (`Connection.queued`): a replay takes no
   * more than half its queue minus these. @default {0}
   */
  readonly queued?: number;
  /**
   * Holds what it is sent from now on behind a slot, and returns what
   * fills the slot (a catch-up read later): those lines go out first,
   * then what was held. None: lines are delivered when they come.
   */
  reserve?(): (lines: readonly Uint8Array[]) => void;
  /**
   * Takes, once, the position it gave with `/resume` for room `room`
   * (`inDefault`: the server's default room).
   */
  takePosition?(
    room: string,
    inDefault: boolean,
  ): { readonly epoch: string; readonly seq: number } | undefined;
  /** It turned on `resume`. @default {false} */
  readonly resumeOn?: boolean;
  /**
   * Its connection's remote host: its address group's catch-ups share one
   * `--resume-rate` (`catch_up_quota.ts`). @default {none: not counted}
   */
  readonly host?: string;
  /** Says goodbye (`BYE reason text`) and closes; the room calls it. */
  close(reason: ByeReason, text: string): void;
}

/** The goodbye of a member dropped as too slow (`BYE slow`). */
export const SLOW_TEXT =
  "Disconnected: too many lines were waiting for you to read them";

/**
 * How the others hear that a session ended, by its goodbye (`disconnect`:
 * the peer went, no goodbye; and any goodbye not listed).
 */
export const LEAVE_FOR_END: Partial<
  Record<ByeReason | "disconnect", LeaveReason>
> = {
  disconnect: "disconnect",
  quit: "quit",
  timeout: "timeout",
  flood: "flood",
  slow: "slow",
  shutdown: "shutdown",
  "line-too-long": "line-too-long",
  kicked: "kicked",
  banned: "banned",
  replaced: "replaced",
  "server-lost": "server-lost",
};

/**
 * `line` as `member` is sent it: a notice in its own form to a member with
 * `notice` (`noticeForm`), as the line it is to any other.
 */
export function formFor(
  member: Pick<Member, "noticeOn">,
  line: ServerLine,
): ServerLine {
  return member.noticeOn ? noticeForm(line) : line;
}

/** A private message's text, and whether it is a notice (`/privnotice`). */
export interface PrivateText {
  readonly text: string;
  readonly notice?: true;
}

/**
 * A private message's line: `PRIV` for its target, `SENT` for its sender,
 * marked as a notice's when it is one (`markNotice`).
 */
export function privateLine(
  type: "PRIV" | "SENT",
  alias: string,
  { text, notice }: PrivateText,
): ServerLine<"PRIV" | "SENT"> {
  return markNotice({ type, alias, text }, notice);
}
