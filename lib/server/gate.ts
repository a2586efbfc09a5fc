/**
 * Who may join, and as whom: the room password, accounts (registered
 * aliases), client certificates and bans, decided in one place. A session
 * asks the gate about every alias it wants (at join and on `/nick`); the gate
 * says whether it may have it now, or which password must come first, and
 * checks passwords under brute-force limits. The gate never sees a socket
 * and never sends a line: the session does.
 *
 * @module
 */

import { aliasKey, ProtocolError, validateAlias } from "../protocol.ts";
import type { Account, Accounts } from "./accounts.ts";
import type { LoginLimiter } from "./login_limiter.ts";
import type { Identity, Moderation, Sanction } from "./moderation.ts";
import { BusyError, type PasswordChecker, secretsEqual } from "./passwords.ts";
import type { PeerCertificate } from "./connection.ts";

/** What the gate knows of a client asking for an alias. */
export interface Applicant {
  /** Remote host, for address bans and the limiter. */
  readonly host: string;
  /** Its verified client certificate, if any. */
  readonly certificate: PeerCertificate | null;
  /** The account it is logged into already, if any. */
  readonly account: Account | null;
  /** Whether it gave the room password already. */
  readonly roomPasswordGiven: boolean;
}

/** What must happen before an applicant may have an alias. */
export type Claim =
  /** Nothing: take it (as `account`, or as a guest when null). */
  | { readonly need: "nothing"; readonly account: Account | null }
  /** The room password (a guest in a room that has one). */
  | { readonly need: "room" }
  /** The account's password (or a pretend one: see `accountsOnly`). */
  | { readonly need: "account" };

/** Options of {@linkcode Gate}. */
export interface GateOptions {
  readonly accounts: Accounts;
  readonly moderation: Moderation;
  readonly limiter: LoginLimiter;
  readonly checker: PasswordChecker;
  /** The room password guests must give; null for an open room. */
  readonly roomPassword: string | null;
  /** Only account holders may join. */
  readonly accountsOnly: boolean;
}

/** Decides who may join under which alias. */
export class Gate {
  readonly accounts: Accounts;
  readonly moderation: Moderation;
  #options: GateOptions;

  /** Creates the gate. */
  constructor(options: GateOptions) {
    this.accounts = options.accounts;
    this.moderation = options.moderation;
    this.#options = options;
  }

  /** The greeting's `auth` parameter. */
  get auth(): "room" | "accounts" | undefined {
    if (this.#options.accountsOnly) return "accounts";
    return this.#options.roomPassword === null ? undefined : "room";
  }

  /**
   * What an applicant must do to have `alias`. Throws a
   * {@linkcode ProtocolError} for an invalid alias, or one that looks like
   * a registered account's.
   */
  claim(alias: string, who: Applicant): Claim {
    validateAlias(alias);
    const account = this.accounts.get(alias);
    const key = aliasKey(alias);
    if (account) {
      const own = who.account !== null && aliasKey(who.account.alias) === key;
      const certified = this.accounts.forCertificate(who.certificate);
      if (own) return { need: "nothing", account: who.account };
      if (certified && aliasKey(certified.alias) === key) {
        return { need: "nothing", account: certified };
      }
      return { need: "account" };
    }
    // Not registered. Account holders may use other aliases too, unless
    // only accounts may be in the room.
    if (this.#options.accountsOnly) return { need: "account" };
    const lookalike = this.accounts.lookalike(alias);
    if (lookalike) {
      throw new ProtocolError(
        "alias-taken",
        `Alias "${alias}" looks like "${lookalike.alias}", a registered alias`,
      );
    }
    if (
      who.account === null && this.#options.roomPassword !== null &&
      !who.roomPasswordGiven
    ) {
      return { need: "room" };
    }
    return { need: "nothing", account: who.account };
  }

  /** Checks the room password; a wrong one counts as a failed login. */
  checkRoomPassword(password: string, host: string): boolean {
    const expected = this.#options.roomPassword;
    const ok = expected !== null && secretsEqual(password, expected);
    if (!ok) this.#options.limiter.failed(host, null);
    return ok;
  }

  /**
   * Checks an account's password: the account, or null for a wrong
   * password or no such account (the same answer, and the same time).
   * Throws a {@linkcode ProtocolError} when this address or this account
   * has failed too often lately, or when too many checks are waiting.
   */
  async login(
    alias: string,
    password: string,
    host: string,
  ): Promise<Account | null> {
    const { limiter, checker } = this.#options;
    const waitMs = limiter.waitMs(host, alias);
    if (waitMs > 0) {
      throw new ProtocolError(
        "too-many-attempts",
        `Too many failed logins: try again in ${Math.ceil(waitMs / 1000)} s`,
      );
    }
    let account: Account | null;
    try {
      account = await this.accounts.login(alias, password, checker);
    } catch (e) {
      if (e instanceof BusyError) throw new ProtocolError("busy", e.message);
      throw e;
    }
    if (account === null) limiter.failed(host, alias);
    return account;
  }

  /** The ban that keeps `who` out, or null. */
  banFor(who: Identity): Sanction | null {
    return this.moderation.find("ban", who);
  }
}
