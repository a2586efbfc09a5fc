/**
 * The Member seam: what the room needs of a member (a session, or a fake
 * in tests), and how a member dropped as too slow is told so. A member
 * only queues what it is given and reports a full queue; the room alone
 * removes it and tells it to close.
 *
 * @module
 */

import type { ByeReason } from "../../server_lines.ts";

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
   * Queues one encoded line for the member without waiting. Returns false
   * when the member cannot keep up (its queue is full); the room then
   * removes it as a slow consumer. Never removes or closes anything itself.
   * `room` marks the room's fan-out (what everyone gets): only those lines
   * count toward the member's watermark (`Room.reportQueue`).
   */
  deliver(line: Uint8Array, options?: { readonly room?: boolean }): boolean;
  /** Says goodbye (`BYE reason text`) and closes; the room calls it. */
  close(reason: ByeReason, text: string): void;
}

/** The goodbye of a member dropped as too slow (`BYE slow`). */
export const SLOW_TEXT =
  "Disconnected: too many lines were waiting for you to read them";
