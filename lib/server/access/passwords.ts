/**
 * Passwords: stored only as a slow, salted scrypt hash, compared in constant
 * time. The stored form names its parameters (`scrypt$N$r$p$salt$key`), so
 * they can be raised later without breaking old hashes. Hashing runs off the
 * event loop (`node:crypto` `scrypt`), two at once by default: a
 * {@linkcode PasswordChecker} queues up to 256 more, plus 256 from addresses
 * that logged into their account before, and turns away the rest.
 *
 * @module
 */

import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/**
 * scrypt parameters for new hashes: N = 2^15, r = 8, p = 1 (32 MiB and about
 * 120 ms per hash on the machine measured), a 16-byte random salt, a 32-byte
 * key.
 */
export const SCRYPT_PARAMS = { N: 1 << 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

function derive(
  password: string,
  salt: Uint8Array,
  params: { N: number; r: number; p: number },
): Promise<Uint8Array> {
  const maxmem = 256 * params.N * params.r;
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      KEY_BYTES,
      { ...params, maxmem },
      (error, key) => error ? reject(error) : resolve(key),
    );
  });
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) =>
  Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** Hashes a password for storage: `scrypt$N$r$p$salt$key` (base64). */
export async function hashPassword(password: string): Promise<string> {
  const salt = new Uint8Array(randomBytes(SALT_BYTES));
  const key = await derive(password, salt, SCRYPT_PARAMS);
  const { N, r, p } = SCRYPT_PARAMS;
  return `scrypt$${N}$${r}$${p}$${b64(salt)}$${b64(key)}`;
}

/**
 * Whether `password` matches a stored hash; false for a malformed one. The
 * comparison takes the same time wherever the keys differ.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashPassword, verifyPassword } from "./passwords.ts";
 *
 * const stored = await hashPassword("correct horse");
 * assert.match(stored, /^scrypt\$32768\$8\$1\$/);
 * assert.equal(await verifyPassword("correct horse", stored), true);
 * assert.equal(await verifyPassword("wrong", stored), false);
 * ```
 */
export async function verifyPassword(
  password: string,
  stored: string,
): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !key) return false;
  const expected = unb64(key);
  const actual = await derive(password, unb64(salt), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Compares two secrets held in memory (the room password) in constant time,
 * whatever their lengths.
 */
export function secretsEqual(a: string, b: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** Too many password checks are waiting already. */
export class BusyError extends Error {
  /** Creates the error. */
  constructor() {
    super("Too many logins at once: try again in a moment");
    this.name = "BusyError";
  }
}

/** Options of {@linkcode PasswordChecker}. */
export interface PasswordCheckerOptions {
  /**
   * Checks running at once (each uses 32 MiB and a core for ~120 ms).
   * @default {2}
   */
  readonly concurrent?: number;
  /**
   * Checks waiting their turn before more are refused with
   * {@linkcode BusyError}.
   * @default {256}
   */
  readonly queued?: number;
  /**
   * Checks with priority (from an address that logged into the account
   * before) waiting their turn, apart from the others: a flood of
   * strangers that fills `queued` does not keep them out.
   * @default {256}
   */
  readonly priorityQueued?: number;
}

/** One password check that holds its place in a {@linkcode PasswordChecker}. */
export interface PasswordCheck {
  /**
   * Whether `password` matches `stored` (null: no such account, which
   * costs the same and fails). Once only; frees the place when done.
   */
  check(password: string, stored: string | null): Promise<boolean>;
  /** Frees the place without checking (idempotent; not after `check`). */
  cancel(): void;
}

/** A stored hash no password matches, checked for accounts that do not exist. */
const NO_ACCOUNT_HASH =
  `scrypt$${SCRYPT_PARAMS.N}$${SCRYPT_PARAMS.r}$${SCRYPT_PARAMS.p}$${
    b64(new Uint8Array(SALT_BYTES))
  }$${b64(new Uint8Array(KEY_BYTES))}`;

/**
 * Checks passwords against stored hashes, a few at a time. Checking against
 * `null` (no such account) costs the same as a real check and fails, so that
 * timing does not tell whether an account exists. A place is taken first
 * ({@linkcode reserve}), so that a caller can be refused as busy before it
 * counts the attempt anywhere; checks with priority wait in their own queue
 * and go first.
 *
 * @example A flood of strangers does not keep out a known address
 * ```ts
 * import assert from "node:assert/strict";
 * import { BusyError, PasswordChecker } from "./passwords.ts";
 *
 * const checker = new PasswordChecker({ concurrent: 1, queued: 1, priorityQueued: 1 });
 * const running = checker.reserve();
 * const waiting = checker.reserve();
 * assert.throws(() => checker.reserve(), BusyError);
 * const known = checker.reserve(true); // goes before `waiting`
 * for (const place of [running, waiting, known]) place.cancel();
 * ```
 */
export class PasswordChecker {
  #concurrent: number;
  #limits: { normal: number; priority: number };
  #running = 0;
  #queues: { normal: (() => void)[]; priority: (() => void)[] } = {
    normal: [],
    priority: [],
  };

  /** Creates a checker with the given limits. */
  constructor(options: PasswordCheckerOptions = {}) {
    this.#concurrent = options.concurrent ?? 2;
    this.#limits = {
      normal: options.queued ?? 256,
      priority: options.priorityQueued ?? 256,
    };
  }

  /**
   * Takes a place for one check (`priority`: in the queue of known
   * addresses), or throws {@linkcode BusyError} at once when its queue is
   * full.
   */
  reserve(priority = false): PasswordCheck {
    let ready: Promise<void>;
    let queued: (() => void) | null = null;
    const queue = this.#queues[priority ? "priority" : "normal"];
    if (this.#running < this.#concurrent) {
      this.#running++;
      ready = Promise.resolve();
    } else {
      if (queue.length >= this.#limits[priority ? "priority" : "normal"]) {
        throw new BusyError();
      }
      const turn = Promise.withResolvers<void>();
      queued = () => {
        queued = null;
        turn.resolve();
      };
      queue.push(queued);
      ready = turn.promise;
    }
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      if (queued !== null) {
        queue.splice(queue.indexOf(queued), 1);
        queued = null;
      } else {
        this.#next();
      }
    };
    return {
      check: async (password, stored) => {
        await ready;
        try {
          const ok = await verifyPassword(password, stored ?? NO_ACCOUNT_HASH);
          return ok && stored !== null;
        } finally {
          release();
        }
      },
      cancel: release,
    };
  }

  /** Whether `password` matches `stored`; throws {@linkcode BusyError}. */
  async check(
    password: string,
    stored: string | null,
    priority = false,
  ): Promise<boolean> {
    return await this.reserve(priority).check(password, stored);
  }

  /** A slot was freed: hands it to the next waiting check, priority first. */
  #next(): void {
    const next = this.#queues.priority.shift() ?? this.#queues.normal.shift();
    // The slot of a check that ends is handed straight to the next one.
    if (next) next();
    else this.#running--;
  }
}
