/**
 * The login dialogue of a session: the greeting, the capabilities it
 * turns on (`capabilities.ts`, its base), which alias, and as whom. The
 * {@linkcode Gate} says what an alias needs first (nothing, the room
 * password, or its account's password); a password comes only as a
 * `/pass` line, a wrong one is answered and counted (too many end the
 * session), and a ban is checked before any password is and again before
 * the alias is taken. What is decided here is taken by the session
 * (joining the room, or renaming in it): this class is its base, so that
 * the dialogue's state costs a member no object of its own.
 *
 * @module
 */

import type { Logger } from "../../log.ts";
import {
  aliasKey,
  MAX_ALIAS_LENGTH,
  PROTOCOL,
  ProtocolError,
} from "../../protocol.ts";
import { parseCommand } from "../../commands.ts";
import { type ByeReason, formatHelloParams } from "../../server_lines.ts";
import type { Account } from "../access/accounts.ts";
import type { Applicant, Claim, Gate } from "../access/gate.ts";
import { describeSanction } from "../access/moderation.ts";
import type { ServerConfig } from "../config.ts";
import type { Connection } from "./connection.ts";
import { OFFERED_CAPABILITIES, SessionCapabilities } from "./capabilities.ts";

/** What the login dialogue needs from its server. */
export interface LoginContext {
  readonly config: ServerConfig;
  /** Who may join as whom; bans, mutes and the topic. */
  readonly gate: Gate;
  readonly log: Logger;
}

/** A password the session waits for: its next line. */
interface PendingPassword {
  readonly kind: "room" | "account";
  /** The alias it is for. */
  readonly alias: string;
  /** Asked for by `/nick` (a rename), not at join. */
  readonly rename: boolean;
}

/** A session's login: the alias it asks for, its passwords, its account. */
export abstract class LoginDialogue extends SessionCapabilities {
  /** The connection the dialogue runs over. */
  abstract readonly conn: Connection;
  #login: LoginContext;
  #account: Account | null = null;
  #roomPasswordGiven = false;
  #roomPasswordTries = 0;
  #pending: PendingPassword | null = null;
  #loginFailures = 0;

  /** A dialogue with nothing asked or given yet. */
  constructor(context: LoginContext) {
    super();
    this.#login = context;
  }

  /** Remote `host:port`, for logs. */
  get address(): string {
    return this.conn.info.address;
  }

  /** Remote host, for bans. */
  get host(): string {
    return this.conn.info.host;
  }

  /** The account logged into (its alias), or null for a guest. */
  get account(): string | null {
    return this.#account?.alias ?? null;
  }

  /**
   * Whether the account logged into is an operator now (read from the
   * accounts, so that `users deop` takes effect at once).
   */
  get operator(): boolean {
    const account = this.#account;
    return account !== null &&
      (this.#login.gate.accounts.get(account.alias)?.operator ?? false);
  }

  /**
   * Logged into account `name` (or none): a member taken over from
   * another server, where it had logged in.
   */
  protected adoptAccount(name: string | null): void {
    const account = name === null
      ? undefined
      : this.#login.gate.accounts.get(name);
    this.#account = account ?? null;
  }

  /** Ends the session with `BYE reason text`. */
  abstract close(reason: ByeReason, text: string): void;
  /** Whether no alias is taken yet (the session is not in the room). */
  protected abstract choosingAlias(): boolean;
  /** Whether the session is ending. */
  protected abstract ending(): boolean;
  /** The epoch of the room's log (HELLO's `epoch=E`). */
  protected abstract get logEpoch(): string;
  /**
   * Takes an alias the dialogue allowed: joins the room under it, or
   * (`rename`) renames in it; `own` when it is the account's own alias.
   */
  protected abstract take(
    alias: string,
    own: boolean,
    rename: boolean,
  ): Promise<void> | void;

  /**
   * Opens the dialogue: a client banned at the door is told so and the
   * session ends (false); any other gets `HELLO` (true).
   */
  protected greet(): boolean {
    const { config, gate, log } = this.#login;
    const ban = gate.doorBan(this.host, this.conn.info.certificate);
    if (ban) {
      log.info("refused", { addr: this.address, reason: "banned" });
      this.close("banned", `Banned ${describeSanction(ban)}`);
      return false;
    }
    this.answer({
      type: "HELLO",
      protocol: PROTOCOL,
      server: config.name,
      params: formatHelloParams({
        rate: config.floodRate,
        burst: config.floodBurst,
        lineBytes: config.maxLineBytes,
        auth: gate.auth,
        caps: OFFERED_CAPABILITIES,
        epoch: this.logEpoch,
      }),
      text: `Send your alias (1 to ${MAX_ALIAS_LENGTH} letters, digits, _ . -)`,
    });
    return true;
  }

  /** A line before joining: an alias, `/cap`, `/pass`, or `/quit`. */
  protected aliasLine(text: string): Promise<void> | void {
    const alias = text.trim();
    if (alias.startsWith("/")) {
      const command = parseCommand(text);
      if (command.kind === "quit") return this.close("quit", "Goodbye");
      if (command.kind === "pass") return this.pass(command.password);
      if (command.kind === "cap") return this.enableCaps(command.names);
      if (command.kind === "resume" && this.resumeOn) {
        return this.resumeFrom(command.request);
      }
      throw new ProtocolError(
        "usage",
        "Choose an alias first: send it as a line of its own",
      );
    }
    // A new alias replaces one still waiting for its password.
    this.#pending = null;
    return this.claimAlias(alias, false);
  }

  /** Asks the gate for `alias`: taken at once, or a password asked for. */
  protected claimAlias(alias: string, rename: boolean): Promise<void> | void {
    const claim = this.#login.gate.claim(alias, this.#applicant());
    // The server's own name (in any case) would pass for the server: on the
    // IRC door its notices come from that name.
    if (aliasKey(alias) === aliasKey(this.#login.config.name)) {
      throw new ProtocolError("alias-reserved", `Alias "${alias}" is reserved`);
    }
    return this.#proceed(alias, claim, rename);
  }

  #applicant(): Applicant {
    return {
      host: this.host,
      certificate: this.conn.info.certificate,
      account: this.#account,
      roomPasswordGiven: this.#roomPasswordGiven,
    };
  }

  /** Takes the alias, or asks for the password the gate wants first. */
  #proceed(
    alias: string,
    claim: Claim,
    rename: boolean,
  ): Promise<void> | void {
    if (claim.need === "nothing") {
      return this.#enter(alias, claim.account, rename);
    }
    this.#pending = { kind: claim.need, alias, rename };
    this.#askPassword(claim.need, alias);
  }

  #askPassword(kind: "room" | "account", alias: string): void {
    this.answer({
      type: "PASSWORD",
      kind,
      text: kind === "room"
        ? "This room has a password: send /pass PASSWORD"
        : `"${alias}" is a registered alias: send /pass PASSWORD`,
    });
  }

  /**
   * `/pass PASSWORD`: the password the server asked for (only a `/pass` line
   * is ever taken as one, so no chat line is mistaken for a password, and
   * no password for a chat line). Before any alias, it may be the room's.
   */
  protected async pass(password: string): Promise<void> {
    const pending = this.#pending;
    const { gate, log } = this.#login;
    const roomFirst = pending === null && this.choosingAlias() &&
      gate.auth === "room" && !this.#roomPasswordGiven;
    if (pending === null && !roomFirst) {
      throw new ProtocolError("usage", "No password was asked for");
    }
    // A ban placed since HELLO, or on the account: the same answer for any
    // password, and nothing counted.
    const ban = gate.passwordBan(
      this.host,
      this.conn.info.certificate,
      pending?.kind === "account" ? pending.alias : null,
    );
    if (ban) {
      log.info("refused", { addr: this.address, reason: "banned" });
      return this.close("banned", `Banned ${describeSanction(ban)}`);
    }
    if (pending === null || pending.kind === "room") {
      return this.#throttled(() => this.#roomPassword(password, pending));
    }
    this.#pending = null;
    const account = await this.#throttled(() =>
      gate.login(pending.alias, password, this.host)
    );
    if (this.ending() || account === undefined) return;
    if (account === null) return this.#loginFailed(pending.alias);
    log.info("login", { alias: account.alias, addr: this.address });
    return this.#enter(pending.alias, account, pending.rename);
  }

  /**
   * Runs a password check; one the login limits hold back
   * (`too-many-attempts`) ends a session that has no alias yet with
   * `BYE too-many-attempts` and the wait (undefined): it could not try
   * again before its alias deadline. Not `auth-failed`, which says the
   * password was wrong: a client coming back after a drop with a right
   * one, held back by someone else's guesses from its address, tries
   * again later. A member renaming keeps its alias and gets the `ERR`.
   */
  async #throttled<T>(check: () => T | Promise<T>): Promise<T | undefined> {
    try {
      return await check();
    } catch (e) {
      if (
        !(e instanceof ProtocolError && e.code === "too-many-attempts") ||
        !this.choosingAlias()
      ) throw e;
      this.#login.log.info("refused", {
        addr: this.address,
        reason: "too-many-attempts",
      });
      this.close("too-many-attempts", e.message);
    }
  }

  /** A wrong account password: logged, counted, answered. */
  #loginFailed(alias: string): void {
    const { gate, log, config } = this.#login;
    const known = gate.accounts.get(alias);
    log.warn("login-failed", {
      // An unknown alias might be a password typed in the wrong place.
      alias: known ? alias : undefined,
      addr: this.address,
      // Told to the owner only: the client hears what any failure gets.
      pinned: known?.fingerprint ? "certificate-only" : undefined,
    });
    if (++this.#loginFailures >= config.loginFailures) {
      return this.close("auth-failed", "Too many failed logins");
    }
    throw new ProtocolError("login-failed", "Wrong alias or password");
  }

  /** The room password, for a pending alias or before one. */
  #roomPassword(
    password: string,
    pending: PendingPassword | null,
  ): Promise<void> | void {
    const { gate, log, config } = this.#login;
    if (gate.checkRoomPassword(password, this.host)) {
      this.#pending = null;
      this.#roomPasswordGiven = true;
      if (pending) return this.#enter(pending.alias, null, pending.rename);
      return this.answer({
        type: "INFO",
        text: "Room password accepted: send your alias",
      });
    }
    log.warn("auth-failed", { addr: this.address, kind: "room" });
    if (++this.#roomPasswordTries >= config.roomPasswordTries) {
      return this.close("auth-failed", "Wrong room password");
    }
    this.answer({
      type: "ERR",
      code: "password-wrong",
      text: "Wrong room password: one more try",
    });
    if (pending) this.#askPassword("room", pending.alias);
  }

  /**
   * Takes an alias the gate allowed, logged into `account` (or as a guest),
   * joining the room or renaming in it; banned accounts are turned away.
   */
  #enter(
    alias: string,
    account: Account | null,
    rename: boolean,
  ): Promise<void> | void {
    const { log, gate } = this.#login;
    const ban = gate.sanctionFor(
      "ban",
      { account: account?.alias ?? this.account, host: this.host },
      (account ?? this.#account)?.operator ?? false,
    );
    if (ban) {
      log.info("refused", { addr: this.address, reason: "banned", alias });
      return this.close("banned", `Banned ${describeSanction(ban)}`);
    }
    if (account !== null) this.#account = account;
    const own = account !== null && aliasKey(account.alias) === aliasKey(alias);
    return this.take(alias, own, rename);
  }
}
