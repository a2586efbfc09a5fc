/**
 * The options of a {@linkcode Room}, the counters it keeps, and the limits
 * of its catch-ups they make.
 *
 * @module
 */

import type { LeaveReason } from "../../server_lines.ts";
import type { Clock } from "../../clock.ts";
import type { Directory } from "./directory.ts";
import type { HoldLimits } from "./hold.ts";
import type { LineArena } from "./line_arena.ts";
import type { Member } from "./member.ts";
import type { RoomEvent, RoomLog } from "./room_log.ts";
import type { RoomLimits, RoomSetOptions } from "./rooms.ts";
import type { Topic } from "../access/moderation.ts";
import type { StartingPoints } from "./catch_up.ts";
import { CatchUpQuota } from "./catch_up_quota.ts";
import type { ServerMetrics } from "../metrics/server_metrics.ts";
import { SERVER_SETTINGS } from "../config.ts";

/** Lines of a room a resuming member is caught up with at most, by default. */
export const DEFAULT_RESUME_LINES = 10_000;

/** Options of `Room`. */
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
  /**
   * Where a member with `resume` starts in a room it gave no position for
   * (an account's read marker). @default {none}
   */
  startingPoints?: StartingPoints<M>;
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
  /** What the room counts. @default {new ServerMetrics()} */
  metrics?: ServerMetrics;
  /** Time, for the stall rule. @default {systemClock} */
  clock?: Clock;
  /**
   * How long a member's queue may stay above its watermark without a break
   * (`--stall-timeout`) before the room drops it as slow.
   * @default {Infinity}
   */
  stallMs?: number;
  /**
   * How long a member with `resume` whose connection dropped is held
   * (`--resume-grace`; `hold.ts`). 0: none is.
   * @default {0}
   */
  resumeGraceMs?: number;
  /**
   * How many members may be held at once, in all and from one address
   * group (`hold.ts`: `--max-clients`, `--max-per-ip`).
   * @default {no limit}
   */
  holdLimits?: HoldLimits;
  /**
   * Bytes of lines (about) appended and not yet handed on by the log
   * above which the room counts as congested.
   * @default {Infinity}
   */
  backlogBytes?: number;
  /**
   * The rooms (capability `rooms`): their limits, and the lines of history
   * each room keeps. @default {ONE_ROOM}
   */
  rooms?:
    & RoomLimits
    & Pick<
      RoomSetOptions,
      | "keys"
      | "store"
      | "shared"
      | "onStoreError"
      | "storedStarts"
      | "snapshot"
    >
    & {
      readonly history: number;
      /**
       * Most lines of a room a resuming member is caught up with
       * (`--resume-lines`; also at most `historyBytes`).
       * @default {DEFAULT_RESUME_LINES}
       */
      readonly resumeLines?: number;
      /**
       * Lines of catch-up a minute each address group may be read and
       * sent (`--resume-rate`, a minute's worth at once: `catch_up_quota.ts`);
       * 0: no limit. @default {0}
       */
      readonly resumeRate?: number;
      /** The default room's topic at start. */
      readonly topic?: Topic | null;
    };
}

/**
 * The rooms of a `Room` built without `rooms` (tests, embedding): the
 * flags' defaults, no history replayed on entering.
 */
export const ONE_ROOM: NonNullable<RoomOptions["rooms"]> = {
  defaultRoom: "#lobby",
  roomCreate: "operators",
  maxRooms: 1000,
  maxRoomsPerMember: 20,
  roomGraceMs: 600_000,
  maxRoomEntries: 100,
  roomCreations: 10,
  roomReasonBytes: SERVER_SETTINGS.roomReasonBytes,
  roomRecordBytes: SERVER_SETTINGS.roomRecordBytes,
  history: 0,
};

/**
 * What bounds the room's catch-ups (`Replies`): `--resume-lines` each, and
 * `--resume-rate` lines a minute for each address group, on `clock`.
 */
export function catchUpLimits(
  rooms: RoomOptions["rooms"],
  clock: Clock,
): { resumeLines?: number; quota: CatchUpQuota } {
  const linesPerMinute = rooms?.resumeRate ?? 0;
  const quota = new CatchUpQuota({ linesPerMinute, now: () => clock.now() });
  return { resumeLines: rooms?.resumeLines, quota };
}

/** Counters a server reports in its logs. */
export interface RoomStats {
  joins: number;
  messages: number;
  peakMembers: number;
}
