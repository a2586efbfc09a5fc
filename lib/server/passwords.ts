/**
 * Passwords: stored only as a slow, salted scrypt hash, compared in constant
 * time. The stored form names its parameters (`scrypt$N$r$p$salt$key`), so
 * they can be raised later without breaking old hashes. Hashing runs off the
 * event loop (`node:crypto` `scrypt`), at most a few at once: a
 * {@linkcode PasswordChecker} queues the rest and turns away a flood.
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
}

/** A stored hash no password matches, checked for accounts that do not exist. */
const NO_ACCOUNT_HASH =
  `scrypt$${SCRYPT_PARAMS.N}$${SCRYPT_PARAMS.r}$${SCRYPT_PARAMS.p}$${
    b64(new Uint8Array(SALT_BYTES))
  }$${b64(new Uint8Array(KEY_BYTES))}`;

/**
 * Checks passwords against stored hashes, a few at a time. Checking against
 * `null` (no such account) costs the same as a real check and fails, so that
 * timing does not tell whether an account exists.
 */
export class PasswordChecker {
  #concurrent: number;
  #queued: number;
  #running = 0;
  #waiting: (() => void)[] = [];

  /** Creates a checker with the given limits. */
  constructor(options: PasswordCheckerOptions = {}) {
    this.#concurrent = options.concurrent ?? 2;
    this.#queued = options.queued ?? 256;
  }

  /** Whether `password` matches `stored`; throws {@linkcode BusyError}. */
  async check(password: string, stored: string | null): Promise<boolean> {
    if (this.#running < this.#concurrent) {
      this.#running++;
    } else {
      if (this.#waiting.length >= this.#queued) throw new BusyError();
      // The slot of a check that ends is handed straight to this one.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    try {
      const ok = await verifyPassword(password, stored ?? NO_ACCOUNT_HASH);
      return ok && stored !== null;
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
