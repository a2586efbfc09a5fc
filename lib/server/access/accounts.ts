/**
 * Registered aliases (accounts) in the data directory's database: who they
 * are, their password hashes, which are operators, which client certificate
 * (if any) is pinned to each (then only it logs in), and the address groups
 * each logged in from lately (at most 10, for 90 days: the login limiter
 * does not hold them back). Lookups are by alias, case-insensitively, and by
 * look-alike (TR39 skeleton without punctuation), so that guests can neither
 * take an account holder's alias while they are away nor one that looks
 * like it. Passwords never leave this module but as hashes.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { CertificateRole } from "../../cert_authority.ts";
import { aliasKey, isWellFormedAlias, validateAlias } from "../../protocol.ts";
import { aliasSkeleton } from "../../text.ts";
import { hashPassword, type PasswordCheck } from "./passwords.ts";
import type { KnownAddresses } from "./login_limiter.ts";

/** What a client's certificate says, when the server asked for one. */
export interface PeerCertificate {
  /** Subject common name (an account alias for our client certificates). */
  readonly subject: string;
  /** SHA-256 fingerprint, colon-separated upper-case hex. */
  readonly fingerprint: string;
  /** Whether it chains to the client CA and is valid now. */
  readonly verified: boolean;
  /** Why it is not verified (`CERT_HAS_EXPIRED`, ...); null when it is. */
  readonly error: string | null;
}

/** Address groups remembered per account (the most recent logins). */
const KNOWN_PER_ACCOUNT = 10;

/** How long a login from an address group is remembered. */
const KNOWN_FOR_MS = 90 * 86_400_000;

/** A registered alias. */
export interface Account {
  /** The alias as registered. */
  readonly alias: string;
  readonly operator: boolean;
  /** SHA-256 fingerprint of the pinned client certificate, if any. */
  readonly fingerprint: string | null;
}

interface Row {
  alias: string;
  hash: string;
  operator: number;
  fingerprint: string | null;
}

const toAccount = (row: Row): Account => ({
  alias: row.alias,
  operator: row.operator === 1,
  fingerprint: row.fingerprint,
});

/** The accounts table. */
export class Accounts implements KnownAddresses {
  #db: DatabaseSync;
  #lookalike: StatementSync | null = null;

  /** Uses the accounts table of an open store. */
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** The account registered under `alias` (any case), or null. */
  get(alias: string): Account | null {
    const row = this.#row(alias);
    return row ? toAccount(row) : null;
  }

  /** Every account, alphabetically. */
  list(): Account[] {
    return (this.#db.prepare(
      "SELECT alias, hash, operator, fingerprint FROM accounts ORDER BY key",
    ).all() as unknown as Row[]).map(toAccount);
  }

  /** How many accounts there are. */
  count(): number {
    return (this.#db.prepare("SELECT count(*) AS n FROM accounts").get() as {
      n: number;
    }).n;
  }

  /**
   * A registered account that looks like `alias` but is another one, or
   * null: guests may not take an alias that passes for an account's.
   */
  lookalike(alias: string): Account | null {
    this.#lookalike ??= this.#db.prepare(
      "SELECT alias, hash, operator, fingerprint FROM accounts WHERE skeleton = ? AND key != ? LIMIT 1",
    );
    const row = this.#lookalike.get(aliasSkeleton(alias), aliasKey(alias)) as
      | Row
      | undefined;
    return row ? toAccount(row) : null;
  }

  /**
   * The account a verified client certificate names: the one that pinned
   * its fingerprint, or else the one named by its subject CN (if that
   * account pinned no other certificate). Null for anything else.
   */
  forCertificate(peer: PeerCertificate | null): Account | null {
    if (peer === null || !peer.verified) return null;
    // Only an ASCII alias-shaped CN names an account (no case-folding
    // tricks such as the Kelvin sign).
    const pinned = this.#db.prepare(
      "SELECT alias, hash, operator, fingerprint FROM accounts WHERE fingerprint = ?",
    ).get(peer.fingerprint) as Row | undefined;
    if (pinned) return toAccount(pinned);
    if (!isWellFormedAlias(peer.subject)) return null;
    const named = this.get(peer.subject);
    return named && named.fingerprint === null ? named : null;
  }

  /**
   * Checks an alias's password with `checker` (slow, constant time); the
   * same cost and the same null whether the account is missing, the
   * password wrong, or a certificate pinned (then only it logs in). May
   * throw the checker's `BusyError`.
   */
  async login(
    alias: string,
    password: string,
    checker: Pick<PasswordCheck, "check">,
  ): Promise<Account | null> {
    const row = this.#row(alias);
    const ok = await checker.check(password, row?.hash ?? null);
    return ok && row && row.fingerprint === null ? toAccount(row) : null;
  }

  /** Whether an account is registered under `key` (or alias). */
  registered(key: string): boolean {
    return this.#row(key) !== undefined;
  }

  /** Whether account `key` logged in from address `group` lately. */
  knows(key: string, group: string, nowMs: number): boolean {
    return this.#db.prepare(
      "SELECT 1 FROM logins WHERE key = ? AND address = ? AND last > ?",
    ).get(key, group, nowMs - KNOWN_FOR_MS) !== undefined;
  }

  /**
   * Account `key` logged in from address `group`: remembered, with its
   * most recent others.
   */
  remember(key: string, group: string, nowMs: number): void {
    this.#db.prepare(
      "INSERT INTO logins (key, address, last) VALUES (?, ?, ?) ON CONFLICT (key, address) DO UPDATE SET last = excluded.last",
    ).run(key, group, nowMs);
    this.#db.prepare(
      `DELETE FROM logins WHERE key = ? AND (last <= ? OR address NOT IN
         (SELECT address FROM logins WHERE key = ? ORDER BY last DESC LIMIT ?))`,
    ).run(key, nowMs - KNOWN_FOR_MS, key, KNOWN_PER_ACCOUNT);
  }

  /**
   * Why `alias` cannot be registered (already registered, or it looks like
   * another account, which would then pass for it), or null when it can.
   * Throws when the alias is invalid.
   */
  refusal(alias: string): string | null {
    validateAlias(alias);
    if (this.#row(alias)) {
      return `Cannot add "${alias}": it is already registered`;
    }
    const like = this.lookalike(alias);
    return like === null
      ? null
      : `Cannot add "${alias}": it looks like the account "${like.alias}"`;
  }

  /**
   * Registers an alias; throws when it is invalid, already registered, or
   * looks like another account ({@linkcode refusal}).
   */
  async add(alias: string, password: string): Promise<Account> {
    const refusal = this.refusal(alias);
    if (refusal !== null) throw new TypeError(refusal);
    const hash = await hashPassword(password);
    this.#db.prepare(
      "INSERT INTO accounts (key, alias, skeleton, hash, created) VALUES (?, ?, ?, ?, ?)",
    ).run(aliasKey(alias), alias, aliasSkeleton(alias), hash, Date.now());
    return this.get(alias)!;
  }

  /** Deletes an account; false when there is none. */
  remove(alias: string): boolean {
    return this.#change("DELETE FROM accounts WHERE key = ?", alias);
  }

  /**
   * Sets a new password; false when there is no such account. The addresses
   * it logged in from are forgotten: they proved the old one.
   */
  async setPassword(alias: string, password: string): Promise<boolean> {
    if (!this.#row(alias)) return false;
    const hash = await hashPassword(password);
    this.#change("DELETE FROM logins WHERE key = ?", alias);
    return this.#change(
      "UPDATE accounts SET hash = ? WHERE key = ?",
      alias,
      hash,
    );
  }

  /** Makes an account an operator or not; false when there is none. */
  setOperator(alias: string, operator: boolean): boolean {
    return this.#change(
      "UPDATE accounts SET operator = ? WHERE key = ?",
      alias,
      operator ? 1 : 0,
    );
  }

  /**
   * Why `cert` cannot be pinned to account `alias`, or null when it can: a
   * CA's certificate (it would sign others, it is nobody's), one pinned to
   * another account already, or (unless `anyName`) one whose CN names
   * someone else than the account, as a certificate issued for another
   * alias does. Null too when there is no such account (the caller says so).
   */
  pinRefusal(
    alias: string,
    cert: CertificateRole,
    anyName = false,
  ): string | null {
    const account = this.get(alias);
    if (account === null) return null;
    const cannot = `Cannot pin this certificate to ${account.alias}`;
    if (cert.authority) {
      return `${cannot}: it is a CA certificate (it signs certificates), not a client's`;
    }
    const other = this.#db.prepare(
      "SELECT alias FROM accounts WHERE fingerprint = ? AND key != ?",
    ).get(cert.fingerprint, aliasKey(alias)) as { alias: string } | undefined;
    if (other !== undefined) {
      return `${cannot}: it is pinned to ${other.alias} already`;
    }
    const name = cert.commonName;
    if (anyName || (name !== null && aliasKey(name) === aliasKey(alias))) {
      return null;
    }
    return name === null
      ? `${cannot}: its subject names no one (no CN); pass --any-name to pin it anyway`
      : `${cannot}: it was issued to "${name}" (its subject CN), not to ${account.alias}; pass --any-name to pin it anyway`;
  }

  /**
   * Pins a client certificate (by SHA-256 fingerprint) to an account: then
   * it alone logs in, no password does. Null unpins. False when there is no
   * such account.
   */
  setFingerprint(alias: string, fingerprint: string | null): boolean {
    return this.#change(
      "UPDATE accounts SET fingerprint = ? WHERE key = ?",
      alias,
      fingerprint,
    );
  }

  #byKey: StatementSync | null = null;
  #row(alias: string): Row | undefined {
    this.#byKey ??= this.#db.prepare(
      "SELECT alias, hash, operator, fingerprint FROM accounts WHERE key = ?",
    );
    return this.#byKey.get(aliasKey(alias)) as Row | undefined;
  }

  /** Runs an update whose last parameter is the alias's key. */
  #change(
    sql: string,
    alias: string,
    ...values: (string | number | null)[]
  ): boolean {
    const result = this.#db.prepare(sql).run(...values, aliasKey(alias));
    return Number(result.changes) > 0;
  }
}
