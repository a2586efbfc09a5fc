/**
 * The options of the durable room log ({@linkcode SqliteLog} in
 * `sqlite_log.ts`), apart from it.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import type { Journal } from "./journal.ts";
import type { Retention } from "./retention.ts";
import type { RecentIdsOptions } from "../room/recent_ids.ts";
import type { ServerMetrics } from "../metrics/server_metrics.ts";

/** How the log writes: see the module documentation. */
export type Durability = "normal" | "full";

/** Options of {@linkcode SqliteLog}. */
export interface SqliteLogOptions {
  readonly clock: Clock;
  /** Messages and actions kept at hand in memory for history on join. */
  readonly keep: number;
  /** @default {"normal"} */
  readonly durability?: Durability;
  /**
   * Where a turn's lines are made durable before the database takes them,
   * many turns at once; none: each turn is committed to the database.
   */
  readonly journal?: Journal | null;
  /** With a journal: lines pending when the database takes them. @default {256} */
  readonly flushLines?: number;
  /** With a journal: the longest a line waits for the database. @default {200} */
  readonly flushMs?: number;
  /**
   * The retention running on the database: messages it deletes are no
   * longer kept at hand (none when it has none).
   */
  readonly retention?: Retention;
  /**
   * Told about writes that fail: once per outage (the first failure
   * after a success).
   */
  readonly onError?: (what: string, error: unknown) => void;
  /** Told when the database takes lines again after writes failed. */
  readonly onResume?: () => void;
  /** The window of ids kept (tests). */
  readonly ids?: RecentIdsOptions;
  /** The default room's name (`--default-room`). @default {"#lobby"} */
  readonly defaultRoom?: string;
  /** Where commit times are observed. @default {its own} */
  readonly metrics?: Pick<ServerMetrics, "historyCommit" | "historyFlush">;
}
