/**
 * Who may join, and as whom: the room password, accounts (registered
 * aliases), client certificates, bans and mutes, decided in one place. A
 * session asks the gate about every alias it wants (at join and on `/nick`);
 * the gate says whether it may have it now, or which password must come
 * first, and checks passwords under brute-force limits. The gate never sees
 * a socket and never sends a line: the session does.
 *
 * @module
 */

import { aliasKey, ProtocolError, validateAlias } from "../../protocol.ts";
import { groupKey } from "../../address.ts";
import type { DatabaseSync } from "node:sqlite";
import type { Clock } from "../../clock.ts";
import { type Account, Accounts, type PeerCertificate } from "./accounts.ts";
import { type AttemptTarget, LoginLimiter } from "./login_limiter.ts";
import {
  type Identity,
  Moderation,
  type Sanction,
  type SanctionType,
} from "./moderation.ts";
import {
  BusyError,
  type PasswordCheck,
  PasswordChecker,
  secretsEqual,
} from "./passwords.ts";
import {
  type LoginFailures,
  noLoginFailures,
} from "../metrics/server_metrics.ts";

/** Password checks one address (group) may have running or waiting. */
const CHECKS_PER_ADDRESS = 2;

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
  /** Where failed logins are counted, by reason. @default {its own} */
  readonly failures?: LoginFailures;
}

/** The config's login limits a gate is opened with ({@linkcode Gate.open}). */
export interface GateLimits {
  readonly loginAttempts: number;
  readonly accountAttempts: number;
  readonly loginRefillMs: number;
  readonly accountsOnly: boolean;
}

/** Decides who may join under which alias. */
export class Gate {
  readonly accounts: Accounts;
  readonly moderation: Moderation;
  #options: GateOptions;
  /** Password checks running or waiting, per address group. */
  #checking = new Map<string, number>();
  /** Failed logins by reason (the server's metrics). */
  readonly failures: LoginFailures;

  /** Creates the gate. */
  constructor(options: GateOptions) {
    this.accounts = options.accounts;
    this.moderation = options.moderation;
    this.#options = options;
    this.failures = options.failures ?? noLoginFailures();
  }

  /**
   * The gate of a data directory's database: its accounts, bans and
   * mutes, logins limited as `limits` say.
   */
  static open(
    db: DatabaseSync,
    limits: GateLimits,
    options: Pick<GateOptions, "roomPassword" | "failures"> & { clock: Clock },
  ): Gate {
    const accounts = new Accounts(db);
    return new Gate({
      ...options,
      accounts,
      moderation: new Moderation(db, options.clock),
      limiter: new LoginLimiter(options.clock, {
        burst: limits.loginAttempts,
        targetBurst: limits.accountAttempts,
        refillMs: limits.loginRefillMs,
        known: accounts,
      }),
      checker: new PasswordChecker(),
      accountsOnly: limits.accountsOnly,
    });
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

  /**
   * Checks the room password under the login limits (a wrong one counts as
   * a failed login from this address). Throws a {@linkcode ProtocolError}
   * when this address has failed too often lately.
   */
  checkRoomPassword(password: string, host: string): boolean {
    const { limiter, roomPassword } = this.#options;
    this.#mayTry(host, null);
    const ok = roomPassword !== null && secretsEqual(password, roomPassword);
    if (ok) limiter.succeeded(host, null);
    else this.failures["room-password"]++;
    return ok;
  }

  /**
   * Checks an account's password: the account, or null for a wrong
   * password or no such account (the same answer, and the same time).
   * Throws a {@linkcode ProtocolError} when this address or this account
   * has failed too often lately, or when too many checks are waiting (from
   * this address, or in all: then nothing is counted, and an address that
   * logged into the account before still has a queue of its own).
   */
  async login(
    alias: string,
    password: string,
    host: string,
  ): Promise<Account | null> {
    const { limiter, checker } = this.#options;
    const group = groupKey(host);
    const checking = this.#checking.get(group) ?? 0;
    if (checking >= CHECKS_PER_ADDRESS) {
      this.failures.busy++;
      throw new ProtocolError(
        "busy",
        "Another login from your address is being checked: try again in a moment",
      );
    }
    // Busy is said before the attempt counts anywhere; an address that
    // logged into the account before waits in the queue of its own.
    let place: PasswordCheck;
    try {
      place = checker.reserve(limiter.knows(host, alias));
    } catch (e) {
      if (e instanceof BusyError) {
        this.failures.busy++;
        throw new ProtocolError("busy", e.message);
      }
      throw e;
    }
    try {
      this.#mayTry(host, alias);
    } catch (e) {
      place.cancel();
      throw e;
    }
    this.#checking.set(group, checking + 1);
    let account: Account | null;
    try {
      account = await this.accounts.login(alias, password, place);
    } finally {
      const left = (this.#checking.get(group) ?? 1) - 1;
      if (left === 0) this.#checking.delete(group);
      else this.#checking.set(group, left);
    }
    if (account !== null) limiter.succeeded(host, alias);
    else this.failures["account-password"]++;
    return account;
  }

  /**
   * Checks a room's key (`matches` says whether the key given is right)
   * under the login limits: a wrong key counts as a failed login from
   * `host`'s address group (see `AttemptTarget`). Throws a
   * {@linkcode ProtocolError} (`too-many-attempts`) instead, without
   * calling `matches`, once that has failed too often: the answer then
   * says nothing of the key.
   */
  checkRoomKey(host: string, room: string, matches: () => boolean): boolean {
    const target = { room };
    this.#mayTry(host, target, "wrong room keys");
    const ok = matches();
    if (ok) this.#options.limiter.succeeded(host, target);
    else this.failures["room-key"]++;
    return ok;
  }

  /**
   * The ban or mute that applies to `who`, or null. Sanctions by address do
   * not apply to operators: an operator cannot lock out or silence another
   * through an address they share with someone (a NAT, a load balancer).
   */
  sanctionFor(
    type: SanctionType,
    who: Identity,
    operator = false,
  ): Sanction | null {
    // No host matches no address range.
    return this.moderation.find(
      type,
      operator ? { account: who.account, host: "" } : who,
    );
  }

  /**
   * The address ban that keeps a new connection out before it is greeted,
   * or null. Nothing it could say would count yet (a password would tell a
   * right guess from a wrong one), so only what the connection proves by
   * itself lets it pass: a verified client certificate of an operator's
   * account, as address bans never apply to operators.
   */
  doorBan(host: string, certificate: PeerCertificate | null): Sanction | null {
    const ban = this.moderation.find("ban", { account: null, host });
    if (ban === null) return null;
    const certified = this.accounts.forCertificate(certificate);
    return certified?.operator ? null : ban;
  }

  /**
   * The ban that answers a `/pass` before the password is looked at, or
   * null: an address ban placed since the greeting (as {@linkcode doorBan}),
   * or a ban on the registered account the password is for (`account`;
   * null for the room password). Nothing is checked or counted for a banned
   * applicant, so that the answer is the same for a right password and a
   * wrong one.
   */
  passwordBan(
    host: string,
    certificate: PeerCertificate | null,
    account: string | null,
  ): Sanction | null {
    const door = this.doorBan(host, certificate);
    if (door !== null || account === null) return door;
    const registered = this.accounts.get(account);
    if (registered === null) return null;
    return this.moderation.find("ban", { account: registered.alias, host: "" });
  }

  /** Starts an attempt, or throws when it must wait. */
  #mayTry(host: string, target: AttemptTarget, failed = "failed logins"): void {
    const waitMs = this.#options.limiter.begin(host, target);
    if (waitMs > 0) {
      this.failures.throttled++;
      throw new ProtocolError(
        "too-many-attempts",
        `Too many ${failed}: try again in ${Math.ceil(waitMs / 1000)} s`,
      );
    }
  }
}
