/**
 * What the rooms grant and count, kept from outliving its holder: an
 * invitation of a member of this server is kept here by its member id
 * (an account's is in the room's record too), so a guest's follows its
 * renames and goes when it leaves, and never reaches the next holder of
 * its alias on any server; and what is counted an hour (room creations)
 * is counted per account, or per guest address group and IPv6 /48, and
 * forgotten after the hour.
 *
 * @module
 */

import { groupKey, parseAddressRange } from "../../address.ts";
import { ProtocolError } from "../../protocol.ts";
import type { Moderated } from "./moderator.ts";

/** A room as far as grants go: who of this server was invited to it. */
interface Granting {
  readonly invitedHere: Set<string>;
}

const HOUR_MS = 3_600_000;

/**
 * Whose acts count together: an account; or a guest's address group (an
 * IPv4 address, an IPv6 /64) and, for IPv6, its /48 too (a site, which one
 * holder can fill with /64s: before, a /48 made 10 rooms an hour with each
 * of its 65,536 /64s, and filled `--max-rooms` in minutes).
 */
export function countKeys(member: Moderated): string[] {
  if (member.account !== null) return [member.account.toLowerCase()];
  const group = `@${groupKey(member.host)}`;
  const site = parseAddressRange(`${member.host}/48`);
  return site === null ? [group] : [group, `@${site.text}`];
}

/** Times something happened in the last hour, by {@linkcode countKeys}. */
export class HourlyCounts {
  #times = new Map<string, number[]>();

  /** How many times the most counted of `keys` counted in the hour before `now`. */
  count(keys: readonly string[], now: number): number {
    // Forgets the older ones (and who has only those): nothing grows.
    for (const [who, times] of this.#times) {
      const kept = times.filter((t) => t > now - HOUR_MS);
      if (kept.length === 0) this.#times.delete(who);
      else this.#times.set(who, kept);
    }
    return Math.max(0, ...keys.map((key) => this.#times.get(key)?.length ?? 0));
  }

  /** Counts one for each of `keys` at `now`. */
  add(keys: readonly string[], now: number): void {
    for (const key of keys) {
      this.#times.set(key, [...this.#times.get(key) ?? [], now]);
    }
  }

  /** Takes back one count of each of `keys` made at `at`, if still counted. */
  remove(keys: readonly string[], at: number): void {
    for (const key of keys) {
      const times = this.#times.get(key) ?? [];
      const index = times.indexOf(at);
      if (index !== -1) times.splice(index, 1);
      if (times.length === 0) this.#times.delete(key);
    }
  }
}

/** A room creation counted against `--room-creations`: whose, and when. */
export interface Creation {
  readonly keys: readonly string[];
  readonly at: number;
}

/**
 * The rooms created an hour, by {@linkcode countKeys}: a creation counts
 * from its `/join`, and is given back if the log surely did not store it
 * (the room never came to be).
 */
export class CreationCounts {
  #counts = new HourlyCounts();

  /**
   * Counts a creation of `member`'s (of room `name`) at `now`; past
   * `limit` this hour (server operators excepted), throws `room-creations`
   * instead, naming the room first (as every refusal of a `/join` does).
   */
  take(member: Moderated, name: string, now: number, limit: number): Creation {
    const keys = countKeys(member);
    const made = this.#counts.count(keys, now);
    if (!member.operator && made >= limit) {
      throw new ProtocolError(
        "room-creations",
        `Cannot create ${name}: you created ${made} rooms this hour, the most allowed: try later`,
      );
    }
    this.#counts.add(keys, now);
    return { keys, at: now };
  }

  /** The creation did not happen: it counts no more. */
  giveBack(creation: Creation): void {
    this.#counts.remove(creation.keys, creation.at);
  }
}

/**
 * The invitations of this server's members, by member id: kept only while
 * the member is connected here (no other server, and no store, has them).
 */
export class GuestGrants {
  /** The rooms each member is invited to, by member id. */
  #invited = new Map<string, Set<Granting>>();

  /** `member` of this server was invited to `state` (its `MOD invite` handed on). */
  invited(state: Granting, member: { readonly id: string }): void {
    state.invitedHere.add(member.id);
    const rooms = this.#invited.get(member.id) ?? new Set();
    this.#invited.set(member.id, rooms.add(state));
  }

  /** `member` left the server: its invitations go with it. */
  departed(member: { readonly id: string }): void {
    for (const state of this.#invited.get(member.id) ?? []) {
      state.invitedHere.delete(member.id);
    }
    this.#invited.delete(member.id);
  }
}

/**
 * The text of `ERR room-taken` for a `/join` that would create `name`,
 * which looks like room `taken`: the room asked for first, as in every
 * refusal of a `/join` (an IRC client's numeric names that channel).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lookalikeText } from "./room_grants.ts";
 *
 * assert.equal(lookalikeText("#o-ps", "#ops"), "Cannot create #o-ps: it looks like #ops");
 * ```
 */
export function lookalikeText(name: string, taken: string): string {
  return `Cannot create ${name}: it looks like ${taken}`;
}
