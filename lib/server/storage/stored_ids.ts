/**
 * The window of ids of the durable room log (`sqlite_log.ts`): each id is
 * held with the number of its line, not its sign; the sign
 * ({@linkcode lineSign}) is computed from the line (among the rows not yet
 * in the database, or read from it) only when the id comes again, or when
 * retention deletes the line while the id is still held: the id and its
 * sign then go to `line_ids`, which the window is loaded from at start
 * with the ids of the lines in `events`. A line costs no hash unless its id
 * is used again.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import {
  DEDUPE_MAX_LINES,
  RecentIds,
  type RecentIdsOptions,
} from "../room/recent_ids.ts";
import {
  type AppendOutcome,
  lineSign,
  type RoomLine,
  type StoredAt,
} from "../room/room_log.ts";
import { LineIdsTable, rowLine, storedLineSign } from "./events_table.ts";
import type { JournalValue } from "./journal.ts";
import type { DeletedLine } from "./retention.ts";

/** The ids of the lines a durable log stored lately, signed when needed. */
export class StoredIds {
  #ids: RecentIds;
  /** A stored line by its number. */
  #read: StatementSync;

  /** The window of `db`'s newest ids (`options`: its size, for tests). */
  constructor(db: DatabaseSync, options?: RecentIdsOptions) {
    this.#ids = new RecentIds(options);
    new LineIdsTable(db, options?.maxLines ?? DEDUPE_MAX_LINES).load(this.#ids);
    this.#read = db.prepare("SELECT line FROM events WHERE seq = ?");
  }

  /**
   * What `line` under `id` is: `new` (the id is free), `duplicate` (the
   * same line is stored under it) or `reused` (another is; also when the
   * line held is nowhere any more: deleted by hand). The line held is
   * looked for in `unsaved` (rows not in the database yet, seven values
   * each, numbered one after the other), then in the database.
   */
  check(
    id: string,
    line: RoomLine,
    ...unsaved: readonly (readonly JournalValue[])[]
  ): "new" | "duplicate" | "reused" {
    const held = this.#ids.held(id);
    if (held === undefined) return "new";
    let sign = typeof held === "string" ? held : null;
    if (typeof held === "number") {
      let stored: string | undefined;
      for (const rows of unsaved) stored ??= rowLine(rows, held);
      stored ??= (this.#read.get(held) as { line: string } | undefined)?.line;
      sign = stored === undefined ? null : storedLineSign(stored);
      if (sign !== null) this.#ids.sign(id, sign);
    }
    return sign === lineSign(line) ? "duplicate" : "reused";
  }

  /** Holds `id`, the id of line number `seq`, taken at `time`. */
  add(id: string, time: number, seq: number): void {
    this.#ids.add(id, time, seq, seq);
  }

  /** The number and time of the line held under `id` (see `RecentIds`). */
  stored(id: string): StoredAt | undefined {
    return this.#ids.stored(id);
  }

  /**
   * A batch not kept: forgets the ids of its `examined` lines (but those
   * `taken` before it), which may come again, and sorts the batch by what
   * each line is now: `refused`, or `duplicate`/`reused` if its id was
   * stored before the batch (looked for in `unsaved` too).
   */
  unstored<L extends { readonly id?: string; readonly line: RoomLine }>(
    examined: readonly L[],
    batch: readonly L[],
    taken: ReadonlyMap<L, unknown> | undefined,
    unsaved: readonly JournalValue[],
  ): Map<AppendOutcome, L[]> {
    for (const pending of examined) {
      if (pending.id !== undefined && !taken?.has(pending)) {
        this.#ids.delete(pending.id);
      }
    }
    return Map.groupBy(batch, (pending): AppendOutcome => {
      const known = pending.id === undefined
        ? "new"
        : this.check(pending.id, pending.line, unsaved);
      return known === "new" ? "refused" : known;
    });
  }

  /**
   * The sign to keep in `line_ids` for a line retention deletes: that of
   * a line whose id is still held, none for the others.
   */
  signOfDeleted(deleted: DeletedLine): string | null {
    const held = this.#ids.held(deleted.id);
    if (typeof held === "string") return held;
    if (held !== deleted.seq) return null;
    const sign = storedLineSign(deleted.line);
    if (sign !== null) this.#ids.sign(deleted.id, sign);
    return sign;
  }
}
