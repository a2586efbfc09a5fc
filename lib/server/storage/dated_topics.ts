/**
 * The migration that dates the topics kept before topics kept when they
 * were set (`Topic.at`): the default room's (`settings`) and each
 * registered room's (`rooms.topic`) get the time of the newest `TOPIC`
 * event of their room the log still holds, when that event set this very
 * topic (same setter, same text). One pass over the events, newest first,
 * ending once every such room's newest `TOPIC` was seen. A topic whose
 * event retention deleted, or that the newest `TOPIC` does not match (one
 * set while the log was not the data directory's), stays undated: not
 * known, and shown so.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/** The default room's key here (its events name no room). */
const DEFAULT_ROOM = "";

/** A stored topic (JSON): `at` absent before this migration. */
interface StoredTopic {
  text?: unknown;
  by?: unknown;
  at?: unknown;
}

/**
 * Dates the topics of the default room and of the registered rooms that
 * have none (see the module); nothing to do on a database made since.
 */
export function dateTopics(db: DatabaseSync): void {
  const undated = new Map<string, StoredTopic>();
  const setting = db.prepare(
    "SELECT value FROM settings WHERE key = 'topic'",
  ).get() as { value: string } | undefined;
  const read = (json: string): StoredTopic | null => {
    try {
      const topic = JSON.parse(json) as StoredTopic | null;
      return topic !== null && typeof topic === "object" &&
          topic.at === undefined
        ? topic
        : null;
    } catch {
      return null; // written by hand: left as it is, refused where read
    }
  };
  const own = setting && read(setting.value);
  if (own) undated.set(DEFAULT_ROOM, own);
  const rooms = db.prepare(
    "SELECT name, topic FROM rooms WHERE topic IS NOT NULL",
  ).all() as { name: string; topic: string }[];
  for (const { name, topic } of rooms) {
    const stored = read(topic);
    if (stored) undated.set(name, stored);
  }
  for (const [room, topic] of newestTopics(db, new Set(undated.keys()))) {
    const kept = undated.get(room)!;
    if (kept.by !== topic.alias || kept.text !== topic.text) continue;
    const value = JSON.stringify({ ...kept, at: topic.time });
    if (room === DEFAULT_ROOM) {
      db.prepare("UPDATE settings SET value = ? WHERE key = 'topic'").run(
        value,
      );
    } else {
      db.prepare("UPDATE rooms SET topic = ? WHERE name = ?").run(value, room);
    }
  }
}

/** The newest `TOPIC` event of each of `rooms` the log holds. */
function newestTopics(
  db: DatabaseSync,
  rooms: Set<string>,
): Map<string, { alias: unknown; text: unknown; time: number }> {
  const found = new Map<
    string,
    { alias: unknown; text: unknown; time: number }
  >();
  if (rooms.size === 0) return found;
  const rows = db.prepare(
    "SELECT time, line FROM events WHERE type = 'TOPIC' ORDER BY seq DESC",
  ).iterate() as Iterable<{ time: number; line: string }>;
  for (const { time, line } of rows) {
    let fields: { room?: unknown; alias?: unknown; text?: unknown };
    try {
      fields = JSON.parse(line);
    } catch {
      continue; // not a line: stored by hand
    }
    const room = typeof fields.room === "string" ? fields.room : DEFAULT_ROOM;
    if (!rooms.has(room) || found.has(room)) continue;
    found.set(room, { alias: fields.alias, text: fields.text, time });
    if (found.size === rooms.size) break;
  }
  return found;
}
