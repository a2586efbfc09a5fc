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
 * logged. The clock is injected: tests run the grace on a fake one.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { addressGroup } from "../../address.ts";
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
 */
export interface HoldLimits {
  /** In all (`--max-clients`). @default {Infinity} */
  readonly total?: number;
  /**
   * From one address group, an IPv4 address or an IPv6 /64
   * (`--max-per-ip`; 0: no cap). @default {0}
   */
  readonly perGroup?: number;
}

/** A member's token, and its grace while held. */
interface Hold {
  /** The token's SHA-256 hash (the token itself is not kept). */
  readonly hash: Buffer;
  /** While held: when its grace ends, and what then happens. */
  deadline: Deadline | null;
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
  /** How many are held by address group (those with a host). */
  #perGroup = new Map<string, number>();

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
    this.#holds.set(member, { hash, deadline: null });
    this.#byHash.set(hash.toString("hex"), member);
    this.#tell(member, { tokenHash: hash.toString("hex"), away: false });
    return token;
  }

  /**
   * `member`'s connection dropped: it is held for the grace, after which
   * `expire` is called (it then leaves). False when it has no token, or
   * when as many are held as the limits allow, in all or from its address
   * group (it leaves at once, as without `resume`).
   */
  hold(member: M, expire: () => void): boolean {
    const hold = this.#holds.get(member);
    if (hold === undefined) return false;
    if (!this.#held.has(member) && !this.#counted(member)) return false;
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
    if (this.#held.delete(member)) this.#count(member, -1);
    this.#byHash.delete(hold.hash.toString("hex"));
  }

  /** Counts `member` as held, when the limits leave it a place. */
  #counted(member: M): boolean {
    const { total = Infinity, perGroup = 0 } = this.#limits;
    if (this.#held.size >= total) return false;
    const group = this.#group(member);
    const count = group === null ? 0 : this.#perGroup.get(group) ?? 0;
    if (perGroup > 0 && count >= perGroup) return false;
    this.#count(member, 1);
    return true;
  }

  #count(member: M, change: 1 | -1): void {
    const group = this.#group(member);
    if (group === null) return;
    const count = (this.#perGroup.get(group) ?? 0) + change;
    if (count > 0) this.#perGroup.set(group, count);
    else this.#perGroup.delete(group);
  }

  /** The address group a member counts in (null: it has no host). */
  #group(member: M): string | null {
    if (member.host === undefined) return null;
    return addressGroup(member.host)?.text ?? member.host;
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
