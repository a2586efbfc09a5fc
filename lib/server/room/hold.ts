/**
 * Short drops made invisible (capability `resume`): each member that may
 * come back holds a resume token (`RESUME TOKEN SECONDS`), and when its
 * connection drops it is **held** for the grace (`--resume-grace`): still
 * in its rooms, its alias still claimed, no `LEAVE`. A new connection that
 * brings the token (`/resume ... TOKEN`), or logs into the same account,
 * takes the member over before the grace ends; once it ends, the member
 * leaves as any dropped one does (the room, `membership.ts`, removes it,
 * as it removes every member). Tokens are 128 random bits, kept only as
 * their SHA-256 hash, compared in constant time, used once, and never
 * logged. How many are held is capped ({@linkcode HoldLimits}): guests by
 * address group, account holders by account, each kind in all on its own,
 * so guests never take an account holder's place. The clock is injected:
 * tests run the grace on a fake one.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { groupKey } from "../../address.ts";
import { aliasKey } from "../../protocol.ts";
import type { Clock } from "../../clock.ts";
import { type Deadline, deadlinesOf } from "./deadlines.ts";

/** What the other servers hear of a member that may be held (`hold.ts`). */
export interface HoldNews {
  /**
   * The SHA-256 of its new resume token, hex; null: it has none any more
   * (used up by a takeover here); absent: the same one.
   */
  readonly tokenHash?: string | null;
  /** Whether it is held now (its connection dropped). */
  readonly away: boolean;
}

/**
 * What proves a new connection is a member of another server, and
 * whether it has `rooms` (it takes over only a member that has it too).
 */
export type TakeoverProof =
  & ({ readonly tokenHash: string } | { readonly account: string })
  & { readonly roomsOn: boolean };

/** What a held member is known by (a session, or a fake in tests). */
export interface Holdable {
  readonly alias: string;
  /** The account it logged into; null (or none) for a guest. */
  readonly account?: string | null;
  /** Its connection's remote host, whose address group it counts in. */
  readonly host?: string;
}

/**
 * How many members may be held at once: they hold no connection, so the
 * connection caps do not count them; these do, as they count connections.
 * Guests and account holders are counted apart, each against both caps:
 * a guest in its address group, an account holder in its account. So the
 * guests behind one NAT, or from anywhere, never stop an account holder
 * being held; the held account holders are bounded by the accounts the
 * operator made (each at most `perGroup`) and by `total`.
 */
export interface HoldLimits {
  /**
   * In all: guests, and account holders apart (`--max-clients` each).
   * @default {Infinity}
   */
  readonly total?: number;
  /**
   * Guests from one address group, an IPv4 address or an IPv6 /64, and
   * members of one account (`--max-per-ip`; 0: no cap). @default {0}
   */
  readonly perGroup?: number;
}

/** The held of one kind (guests, or account holders): in all, by group. */
interface Tally {
  size: number;
  readonly byGroup: Map<string, number>;
}

/** Where a held member is counted: its kind's tally, its group there. */
interface Place {
  readonly tally: Tally;
  /** Its address group or account; null: counted in all only. */
  readonly group: string | null;
}

/** A member's token, and its grace while held. */
interface Hold {
  /** The token's SHA-256 hash (the token itself is not kept). */
  readonly hash: Buffer;
  /** While held: when its grace ends, and what then happens. */
  deadline: Deadline | null;
  /** While held: where it is counted (as it was when it dropped). */
  place: Place | null;
}

/** The address group a guest counts in (null: it has no host). */
function addressGroupOf(member: Holdable): string | null {
  if (member.host === undefined) return null;
  return groupKey(member.host);
}

/** One more, or one fewer, held at `place`. */
function count({ tally, group }: Place, change: 1 | -1): void {
  tally.size += change;
  if (group === null) return;
  const held = (tally.byGroup.get(group) ?? 0) + change;
  if (held > 0) tally.byGroup.set(group, held);
  else tally.byGroup.delete(group);
}

/** A new resume token: 128 random bits in base64url (22 characters). */
export function newResumeToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The SHA-256 hash of a token, as kept (and, in a cluster, shared). */
export function hashResumeToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/**
 * The tokens of the members that may be held, and those held now (see the
 * module).
 *
 * @example A dropped member is held, then taken over once with its token
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "../../clock.ts";
 * import { Holds } from "./hold.ts";
 *
 * const holds = new Holds(systemClock, 30_000);
 * const alice = { alias: "alice", account: null };
 * const token = holds.issue(alice)!;
 * assert.ok(holds.hold(alice, () => assert.fail("not taken over")));
 * assert.equal(holds.take(token), alice);
 * assert.equal(holds.take(token), null); // single use
 * ```
 */
export class Holds<M extends Holdable> {
  #clock: Clock;
  /** The grace, in ms: 0 turns holding (and `RESUME`) off. */
  readonly graceMs: number;
  #holds = new Map<M, Hold>();
  /** Members by their token's hash (hex), for a lookup by token. */
  #byHash = new Map<string, M>();
  /** The members held now. */
  #held = new Set<M>();

  /** Told of each new token and each hold, for the other servers. */
  #tell: (member: M, news: HoldNews) => void;
  #limits: HoldLimits;
  /** The held guests, by address group (those with a host). */
  #guests: Tally = { size: 0, byGroup: new Map() };
  /** The held account holders, by account. */
  #accounts: Tally = { size: 0, byGroup: new Map() };

  /**
   * No tokens yet; members are held for `graceMs` on `clock`, at most as
   * many as `limits` say; `tell` hears each new token's hash and each hold
   * (@default {nobody}).
   */
  constructor(
    clock: Clock,
    graceMs: number,
    tell: (member: M, news: HoldNews) => void = () => {},
    limits: HoldLimits = {},
  ) {
    this.#clock = clock;
    this.graceMs = graceMs;
    this.#tell = tell;
    this.#limits = limits;
  }

  /** How many members are held now. */
  get held(): number {
    return this.#held.size;
  }

  /** Whether `member` is held (its connection dropped, its grace running). */
  isHeld(member: M): boolean {
    return this.#held.has(member);
  }

  /**
   * A new token for `member` (its previous one, if any, no longer holds);
   * null when the grace is 0 (no `RESUME` is sent).
   */
  issue(member: M): string | null {
    if (this.graceMs <= 0) return null;
    this.release(member);
    const token = newResumeToken();
    const hash = hashResumeToken(token);
    this.#holds.set(member, { hash, deadline: null, place: null });
    this.#byHash.set(hash.toString("hex"), member);
    this.#tell(member, { tokenHash: hash.toString("hex"), away: false });
    return token;
  }

  /**
   * `member`'s connection dropped: it is held for the grace, after which
   * `expire` is called (it then leaves). False when it has no token, or
   * when as many of its kind are held as the limits allow, in all or from
   * its address group (a guest) or account (it leaves at once, as without
   * `resume`).
   */
  hold(member: M, expire: () => void): boolean {
    const hold = this.#holds.get(member);
    if (hold === undefined) return false;
    if (hold.place === null) hold.place = this.#place(member);
    if (hold.place === null) return false;
    deadlinesOf(this.#clock).clear(hold.deadline ?? undefined);
    hold.deadline = deadlinesOf(this.#clock).set(() => {
      this.release(member);
      expire();
    }, this.graceMs);
    this.#held.add(member);
    this.#tell(member, { away: true });
    return true;
  }

  /**
   * The member whose token this is, which its new connection takes over:
   * a held one, or one whose connection still looks alive (a half-open
   * one the server has not seen drop; the session closes it). The token
   * is used up (and a grace stopped). Null for a wrong, used or expired
   * token, one of a member that left, or one that does not `fit` the new
   * connection (it then stays as it was).
   */
  take(token: string, fits: (member: M) => boolean = () => true): M | null {
    const hash = hashResumeToken(token);
    const member = this.#byHash.get(hash.toString("hex"));
    const hold = member === undefined ? undefined : this.#holds.get(member);
    if (
      member === undefined || hold === undefined ||
      !timingSafeEqual(hash, hold.hash) || !fits(member)
    ) return null;
    return this.#taken(member);
  }

  /** `member` is taken over: its token is used up, it is back. */
  #taken(member: M): M {
    this.release(member);
    this.#tell(member, { tokenHash: null, away: false });
    return member;
  }

  /**
   * The member with a token (held, or live: the session closes its old
   * connection) logged into `account` under that alias, which a new login
   * to the account takes over (its token is used up); null: none.
   */
  takeAccount(
    account: string,
    fits: (member: M) => boolean = () => true,
  ): M | null {
    const key = aliasKey(account);
    for (const member of this.#holds.keys()) {
      if (
        typeof member.account === "string" &&
        aliasKey(member.account) === key && aliasKey(member.alias) === key &&
        fits(member)
      ) return this.#taken(member);
    }
    return null;
  }

  /** Forgets `member`'s token and grace (it left, or was taken over). */
  release(member: M): void {
    const hold = this.#holds.get(member);
    if (hold === undefined) return;
    deadlinesOf(this.#clock).clear(hold.deadline ?? undefined);
    this.#holds.delete(member);
    this.#held.delete(member);
    if (hold.place !== null) count(hold.place, -1);
    this.#byHash.delete(hold.hash.toString("hex"));
  }

  /**
   * Counts `member` as held where it belongs (an account holder by its
   * account, a guest by its address group), when the limits leave it a
   * place there; null: they do not.
   */
  #place(member: M): Place | null {
    const { total = Infinity, perGroup = 0 } = this.#limits;
    const place = typeof member.account === "string"
      ? { tally: this.#accounts, group: aliasKey(member.account) }
      : { tally: this.#guests, group: addressGroupOf(member) };
    if (place.tally.size >= total) return null;
    const { group, tally } = place;
    const held = group === null ? 0 : tally.byGroup.get(group) ?? 0;
    if (perGroup > 0 && held >= perGroup) return null;
    count(place, 1);
    return place;
  }

  /**
   * Forgets every token and stops every grace (shutdown); returns the
   * members that were held, for the room to let go.
   */
  close(): M[] {
    const held = [...this.#held];
    for (const member of [...this.#holds.keys()]) this.release(member);
    return held;
  }
}
