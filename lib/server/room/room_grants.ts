/**
 * What the rooms grant and count by name, kept from outliving its holder:
 * a guest operates a room and is invited to one by its alias, so its rights
 * follow its renames and go when it leaves (never to the next holder of the
 * alias); and what is counted an hour (room creations) is counted per
 * account, or per guest address group, and forgotten after the hour.
 *
 * @module
 */

import { addressGroup } from "../../address.ts";
import type { Moderated } from "./moderator.ts";
import type { RoomRecord } from "./room_record.ts";

/** A room as far as grants go: its record. */
interface Granting {
  readonly record: RoomRecord;
}

const HOUR_MS = 3_600_000;

/** Whose acts count together: an account, or a guest's address group. */
export function countKey(member: Moderated): string {
  if (member.account !== null) return member.account.toLowerCase();
  return `@${addressGroup(member.host)?.text ?? member.host}`;
}

/** Times something happened in the last hour, by {@linkcode countKey}. */
export class HourlyCounts {
  #times = new Map<string, number[]>();

  /** How many times `key` counted in the hour before `now`. */
  count(key: string, now: number): number {
    // Forgets the older ones (and who has only those): nothing grows.
    for (const [who, times] of this.#times) {
      const kept = times.filter((t) => t > now - HOUR_MS);
      if (kept.length === 0) this.#times.delete(who);
      else this.#times.set(who, kept);
    }
    return this.#times.get(key)?.length ?? 0;
  }

  /** Counts one for `key` at `now`. */
  add(key: string, now: number): void {
    const times = this.#times.get(key) ?? [];
    this.#times.set(key, [...times, now]);
  }
}

/** A connected guest's grants by alias: rooms it operates or is invited to. */
export class GuestGrants {
  /** The rooms each guest is invited to, by member id. */
  #invited = new Map<string, Set<Granting>>();

  /**
   * `member` of this server was invited to `state` (its `MOD invite` handed
   * on): a guest's invitation by alias follows it while it is here.
   */
  invited(
    state: Granting,
    member: { readonly id: string; readonly account?: string | null },
  ): void {
    if (member.account !== null) return;
    const rooms = this.#invited.get(member.id) ?? new Set();
    this.#invited.set(member.id, rooms.add(state));
  }

  /**
   * A guest renamed: its invitations go along (its operator rights are the
   * replica's to rename, `room_replica.ts`).
   */
  renamed(
    member: { readonly id?: string; readonly account?: string | null },
    from: string,
    to: string,
  ): void {
    if (member.account !== null) return;
    for (const state of this.#invited.get(member.id ?? "") ?? []) {
      rename(state.record.invites, from.toLowerCase(), to.toLowerCase());
    }
  }

  /** A guest left the server: its invitations go with it (their rooms returned). */
  departed(member: Moderated): RoomRecord[] {
    const rooms = [...this.#invited.get(member.id) ?? []];
    for (const state of rooms) {
      rename(state.record.invites, member.alias.toLowerCase(), null);
    }
    this.#invited.delete(member.id);
    return rooms.map((state) => state.record);
  }
}

/** Renames `from` to `to` in a list of keys (null: takes it out). */
function rename(names: string[], from: string, to: string | null): void {
  const at = names.indexOf(from);
  if (at === -1) return;
  if (to === null) names.splice(at, 1);
  else names[at] = to;
}
