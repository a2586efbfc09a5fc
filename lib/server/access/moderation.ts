/**
 * What operators decide that outlives a connection: bans and mutes (by
 * account, or by address or prefix) and the room's topic, kept in the data
 * directory's database so that they survive restarts. Active sanctions are
 * also held in memory, so that checking a joining member or a speaker costs
 * no query. Expired ones are ignored, and deleted when the list is read.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import type { Clock } from "../../clock.ts";
import { aliasKey } from "../../protocol.ts";
import {
  type AddressRange,
  inRange,
  parseAddressRange,
} from "../../address.ts";
import { storedText } from "../../text.ts";

/** A ban keeps someone out; a mute keeps them from speaking. */
export type SanctionType = "ban" | "mute";

/** One ban or mute. */
export interface Sanction {
  readonly id: number;
  readonly type: SanctionType;
  /** By account (logged-in members) or by address (guests, ranges). */
  readonly kind: "account" | "address";
  /** The account's alias, or `address[/prefix]`. */
  readonly target: string;
  /**
   * What the operator named: the alias of a guest banned by address (shown
   * to the room instead of the address), or the target itself.
   */
  readonly label: string;
  /** End, in ms since the epoch; null: until lifted. */
  readonly until: number | null;
  /** Alias of the operator who decided it. */
  readonly by: string;
  readonly reason: string;
  /**
   * When it was set, in ms since the epoch; absent when not known (a
   * room's ban or mute an earlier release kept).
   */
  readonly at?: number;
}

/** Who someone is, for matching sanctions. */
export interface Identity {
  /** Account alias when logged in; null for a guest. */
  readonly account: string | null;
  /** Remote host (address without port). */
  readonly host: string;
}

/** The room's topic, who set it and when. */
export interface Topic {
  readonly text: string;
  readonly by: string;
  /**
   * When it was set, in ms since the epoch; absent when not known (one an
   * earlier release kept, whose setting the log no longer holds).
   */
  readonly at?: number;
}

interface Held extends Sanction {
  readonly range: AddressRange | null;
}

/** Bans, mutes and the topic. */
export class Moderation {
  #db: DatabaseSync;
  #clock: Clock;
  #active: Held[];

  /** Loads the active sanctions of an open store. */
  constructor(db: DatabaseSync, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
    this.#active = loadSanctions(db);
  }

  /** The first active sanction of `type` that applies to `who`, or null. */
  find(type: SanctionType, who: Identity): Sanction | null {
    const now = this.#clock.now();
    for (const held of this.#active) {
      if (held.type !== type || (held.until !== null && held.until <= now)) {
        continue;
      }
      if (applies(held, who)) return held;
    }
    return null;
  }

  /** Active sanctions of `type`, oldest first; expired ones are deleted. */
  list(type: SanctionType): Sanction[] {
    const now = this.#clock.now();
    const expired = this.#active.filter((s) =>
      s.until !== null && s.until <= now
    );
    for (const s of expired) this.#delete(s.id);
    return this.#active.filter((s) => s.type === type);
  }

  /**
   * Adds a sanction against an account (by alias) or an address range.
   * `durationMs` null means until lifted.
   */
  add(
    type: SanctionType,
    target: { account: string } | { range: AddressRange },
    options: {
      durationMs: number | null;
      by: string;
      reason: string;
      label?: string;
    },
  ): Sanction {
    const now = this.#clock.now();
    const kind = "account" in target ? "account" : "address";
    const text = "account" in target ? target.account : target.range.text;
    const label = options.label ?? text;
    const until = options.durationMs === null ? null : now + options.durationMs;
    const { lastInsertRowid } = this.#db.prepare(
      "INSERT INTO sanctions (type, kind, target, label, until, by, reason, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(type, kind, text, label, until, options.by, options.reason, now);
    const sanction: Sanction = {
      id: Number(lastInsertRowid),
      type,
      kind,
      target: text,
      label,
      until,
      by: options.by,
      reason: options.reason,
      at: now,
    };
    this.#active.push(hold(sanction));
    return sanction;
  }

  /**
   * Lifts every sanction of `type` named `name`: an account's alias, an
   * address range as written, or the alias a guest was banned under.
   * Returns how many.
   */
  remove(type: SanctionType, name: string): number {
    const range = parseAddressRange(name);
    const matches = this.#active.filter((s) =>
      s.type === type &&
      (aliasKey(s.label) === aliasKey(name) ||
        (s.kind === "account"
          ? aliasKey(s.target) === aliasKey(name)
          : range !== null && s.range!.text === range.text))
    );
    for (const s of matches) this.#delete(s.id);
    return matches.length;
  }

  /** Lifts every sanction of `type` that applies to `who`; returns how many. */
  removeFor(type: SanctionType, who: Identity): number {
    const matches = this.#active.filter((s) =>
      s.type === type && applies(s, who)
    );
    for (const s of matches) this.#delete(s.id);
    return matches.length;
  }

  /** Every sanction in force, oldest first (to share in a cluster). */
  all(): Sanction[] {
    return [...this.list("ban"), ...this.list("mute")];
  }

  /**
   * Replaces every sanction with `sanctions` (taken from the cluster, which
   * holds the ones in force).
   */
  replaceAll(sanctions: readonly SharedSanction[]): void {
    const now = this.#clock.now();
    this.#db.exec("BEGIN");
    try {
      this.#db.exec("DELETE FROM sanctions");
      const insert = this.#db.prepare(
        "INSERT INTO sanctions (type, kind, target, label, until, by, reason, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      );
      for (const s of sanctions) {
        insert.run(
          s.type,
          s.kind,
          s.target,
          s.label,
          s.until,
          s.by,
          s.reason,
          s.at ?? now,
        );
      }
      this.#db.exec("COMMIT");
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
    this.#active = loadSanctions(this.#db);
  }

  /**
   * The topic, or null when none was set; its text as `storedText` makes
   * it (one an older release stored is sent under today's rules).
   */
  get topic(): Topic | null {
    const row = this.#db.prepare(
      "SELECT value FROM settings WHERE key = 'topic'",
    ).get() as { value: string } | undefined;
    if (!row) return null;
    return readTopic(JSON.parse(row.value));
  }

  /** Sets the topic. */
  setTopic(topic: Topic): void {
    this.#db.prepare(
      "INSERT INTO settings (key, value) VALUES ('topic', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(JSON.stringify(topic));
  }

  #delete(id: number): void {
    this.#db.prepare("DELETE FROM sanctions WHERE id = ?").run(id);
    this.#active = this.#active.filter((s) => s.id !== id);
  }
}

/** A sanction as servers of a cluster share it (ids are each server's). */
export type SharedSanction = Omit<Sanction, "id">;

/** The sanctions in force, as they are shared with other servers. */
export function sharedSanctions(
  sanctions: readonly Sanction[],
): SharedSanction[] {
  return sanctions.map((
    { type, kind, target, label, until, by, reason, at },
  ): SharedSanction => ({
    type,
    kind,
    target,
    label,
    until,
    by,
    reason,
    ...(at === undefined ? {} : { at }),
  }));
}

/** Whether `value` is a time a `Date` holds (ms since the epoch). */
export function isTime(value: unknown): value is number {
  return typeof value === "number" && Math.abs(value) <= 8.64e15;
}

/**
 * A topic as it was stored or carried (parsed JSON), checked, or null when
 * it is not one: its text as `storedText` makes it, its time (`at`) kept
 * when it has a valid one (an earlier release stored none).
 */
export function readTopic(value: unknown): Topic | null {
  if (typeof value !== "object" || value === null) return null;
  const { text, by, at } = value as Record<string, unknown>;
  if (typeof text !== "string" || typeof by !== "string") return null;
  return { text: storedText(text), by, ...(isTime(at) ? { at } : {}) };
}

/** The sanctions in force as one JSON text, to share with other servers. */
export function shareSanctions(sanctions: readonly Sanction[]): string {
  return JSON.stringify(sharedSanctions(sanctions));
}

/**
 * Reads sanctions another server shared; null when `text` is not such a
 * list (it came from Redis: checked like any input). Each reason is made
 * as `storedText` makes it (one an older release stored is sent under
 * today's rules).
 */
export function readSharedSanctions(text: string): SharedSanction[] | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(value)) return null;
  const ok = value.every((s) =>
    typeof s === "object" && s !== null &&
    (s.type === "ban" || s.type === "mute") &&
    (s.kind === "account" ||
      s.kind === "address" && typeof s.target === "string" &&
        parseAddressRange(s.target) !== null) &&
    typeof s.target === "string" && typeof s.label === "string" &&
    (s.until === null || Number.isFinite(s.until)) &&
    typeof s.by === "string" && typeof s.reason === "string" &&
    (s.at === undefined || isTime(s.at))
  );
  if (!ok) return null;
  return (value as SharedSanction[]).map((s) => ({
    ...s,
    reason: storedText(s.reason),
  }));
}

/** Whether a sanction names `who` (by account, or by address range). */
export function applies(sanction: Sanction, who: Identity): boolean {
  if (sanction.kind === "account") {
    return who.account !== null &&
      aliasKey(sanction.target) === aliasKey(who.account);
  }
  const range = (sanction as Held).range ?? parseAddressRange(sanction.target);
  return range !== null && inRange(range, who.host);
}

/** How a sanction reads to whom it applies: "by X until T: reason". */
export function describeSanction(sanction: Sanction): string {
  const until = sanction.until === null
    ? "until lifted"
    : `until ${new Date(sanction.until).toISOString()}`;
  const reason = sanction.reason === "" ? "" : `: ${sanction.reason}`;
  return `by ${sanction.by} ${until}${reason}`;
}

/**
 * The sanctions the database keeps, oldest first, each reason as
 * `storedText` makes it, each dated by its row's `created` when that is a
 * time (one that is not, written by hand, is not known: a list shared
 * with it would be refused whole by every other server).
 */
function loadSanctions(db: DatabaseSync): Held[] {
  const rows = db.prepare(
    "SELECT id, type, kind, target, label, until, by, reason, created AS at FROM sanctions ORDER BY id",
  ).all() as unknown as (Sanction & { at: unknown })[];
  return rows.map(({ at, ...s }) =>
    hold({
      ...s,
      reason: storedText(s.reason),
      ...(isTime(at) ? { at } : {}),
    })
  );
}

function hold(sanction: Sanction): Held {
  const range = sanction.kind === "address"
    ? parseAddressRange(sanction.target)
    : null;
  return { ...sanction, range };
}
