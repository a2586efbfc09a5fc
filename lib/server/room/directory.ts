/**
 * The Directory seam: who holds which alias in the room, wherever they
 * are connected. Claims (a join, a rename) and leaves go through it, `/msg`
 * asks it (`/who` is the rooms' replica's), and it hears every event the
 * room log hands on. Every method that answers is async, so that the room,
 * the session and the moderator never ask which kind of directory they have.
 * {@linkcode LocalDirectory} (aliases held by the members of this server,
 * each claim settled when the log hands on its `JOIN` or `NICK`) is the
 * default and the test double; the cluster's `RedisDirectory` claims
 * aliases across servers. It holds one entry per member and pending claim.
 *
 * @module
 */

import { aliasKey, ProtocolError } from "../../protocol.ts";
import type { LeaveReason, ServerLine } from "../../server_lines.ts";
import { aliasSkeleton } from "../../text.ts";
import type { HoldNews, TakeoverProof } from "./hold.ts";
import type { Member, PrivateText } from "./member.ts";
import type { AppendOutcome, RoomEvent, RoomLine } from "./room_log.ts";
import type { RoomsSnapshot } from "./rooms_snapshot.ts";

/** Someone in the room, here or on another server. */
export interface Someone {
  /** Member id, unique across the servers of the room. */
  readonly id: string;
  readonly alias: string;
  readonly account: string | null;
  readonly host: string;
  readonly operator: boolean;
  /** Held by its server (`hold.ts`): `/msg` to it is refused. */
  readonly away?: boolean;
}

/** Whoever holds an alias: a member of this server, or someone elsewhere. */
export type Found<M> = { readonly here: M } | { readonly elsewhere: Someone };

/** Why the room takes a member out (it is then told `BYE` with the same). */
export type Dismissal = "kicked" | "banned" | "replaced" | "server-lost";

/** What the room lends its directory (see {@linkcode Directory.attach}). */
export interface DirectoryHost<M extends Member> {
  /** Appends a room line from member `origin`, in the room's order. */
  append(line: RoomLine, origin: string): void;
  /** A private message from another server, paced (`paced_sends.ts`). */
  tell(member: M, line: ServerLine): void;
  /**
   * Takes a member of this server out and tells it why. `announced`: its
   * `LEAVE` is in the log already (decided elsewhere), so the directory is
   * not asked to announce it again.
   */
  dismiss(
    member: M,
    reason: Dismissal,
    text: string,
    announced?: boolean,
  ): void;
  /** The members of this server. */
  members(): Iterable<M>;
  /** The shared state was lost (Redis wiped): the rooms forget everyone. */
  forgetEveryone(): void;
  /** The rooms start again from `snapshot` (nobody of this server in them). */
  restartRooms(snapshot: RoomsSnapshot): void;
  /**
   * A member of this server was taken over by another server (its token,
   * or its account's login): it goes, unannounced, its connection closed.
   */
  moved(member: M): void;
}

/** Options of {@linkcode Directory.claim}. */
export interface ClaimOptions {
  /**
   * The alias is the member's own account: whoever else holds it is
   * dismissed (`BYE replaced`), and look-alikes do not stand in the way.
   */
  readonly replace: boolean;
  /**
   * A join: called once the alias is the member's (in the step in which
   * its `JOIN` is handed on, or the claim is answered), with the online
   * count its `JOIN` carries. Absent: a rename of a member in the room.
   */
  readonly onJoin?: (online: string) => void;
}

/**
 * Who holds which alias. The room calls {@linkcode attach} once, then
 * claims and leaves for its members, and hands it every event of the log
 * ({@linkcode stored}) and every line the log did not store
 * ({@linkcode unsent}) before anything else sees them.
 */
export interface Directory<M extends Member> {
  /**
   * What an operator is told when its change was made here but its `MOD`
   * or `TOPIC` line could not be stored: who did not hear of it.
   */
  readonly unannounced: string;
  /** Lends the directory what it needs from the room. */
  attach(host: DirectoryHost<M>): void;
  /**
   * Claims a valid `alias` for `member` (a join, or with no `onJoin` a
   * rename) and appends its `JOIN` or `NICK`. Rejects with a
   * {@linkcode ProtocolError}: `alias-taken` (held, or looks like a held
   * one), `unavailable` (the room cannot record it now).
   */
  claim(member: M, alias: string, options: ClaimOptions): Promise<void>;
  /**
   * Frees a member's alias and announces its `LEAVE` (nothing is announced
   * at `shutdown`). Never rejects: what cannot be announced now is later.
   */
  leave(member: M, reason: LeaveReason, text: string): Promise<void>;
  /** Whoever holds `alias` (in any case); null: nobody. */
  find(alias: string): Promise<Found<M> | null>;
  /** Sends `PRIV` from `from` to someone elsewhere; rejects if unreachable. */
  message(to: Someone, from: string, said: PrivateText): Promise<void>;
  /**
   * Removes member `id` elsewhere, whatever alias it holds now; its server
   * closes it with `bye`. Resolves to whether someone was removed.
   */
  remove(id: string, reason: "kicked", bye: string): Promise<boolean>;
  /** Tells the other servers (if any) that `member` may be held. */
  held(member: M, news: HoldNews): void;
  /**
   * Takes over the claim of a member of another server that `proof` names
   * (its token's hash; or its account's own alias, held by a member with
   * a token), unseen: its server lets it go (`DirectoryHost.moved`).
   * `become` makes a member of this server that member (its id, alias,
   * account), and this resolves to it; null: no such member elsewhere.
   */
  takeOver(
    proof: TakeoverProof,
    become: (was: Someone) => M,
  ): Promise<M | null>;
  /** An event the log hands on, before any member gets it. */
  stored(event: RoomEvent): void;
  /**
   * A line the log did not store: true when it was this directory's (a
   * claim's `JOIN` or `NICK`, now refused or undone).
   */
  unsent(line: RoomLine, origin: string, outcome: AppendOutcome): boolean;
}

/** A join or rename whose event the log has not handed on yet. */
interface PendingClaim<M> {
  readonly member: M;
  /** The `JOIN` or `NICK` appended. */
  readonly line: RoomLine;
  readonly onJoin?: (online: string) => void;
  /** Made once the append did not settle it at once. */
  waiter?: PromiseWithResolvers<void>;
  /** Why it was refused during the append (no promise made yet). */
  error?: ProtocolError;
}

/**
 * The directory of one server: aliases held by its members, in maps. A
 * join counts once the log hands on its `JOIN` (the alias is reserved
 * meanwhile); a rename at once, undone if its `NICK` is not stored.
 */
export class LocalDirectory<M extends Member> implements Directory<M> {
  readonly unannounced =
    "Done, but not announced: the room cannot store events right now";
  #host: DirectoryHost<M> | undefined;
  /** Holders by alias key (case-insensitive), in join or rename order. */
  #holders = new Map<string, M>();
  /** Holders by the confusable skeleton of their alias. */
  #skeletons = new Map<string, M>();
  /** Joins and renames whose line the log has not handed on, by member id. */
  #claims = new Map<string, PendingClaim<M>>();
  /** Pending joins by alias key and by skeleton: taken meanwhile. */
  #reserved = new Map<string, PendingClaim<M>>();
  #reservedSkeletons = new Map<string, PendingClaim<M>>();

  attach(host: DirectoryHost<M>): void {
    this.#host = host;
  }

  get #room(): DirectoryHost<M> {
    if (this.#host === undefined) {
      throw new Error("Cannot use the directory: no room attached");
    }
    return this.#host;
  }

  // Async so that a refusal is a rejection; everything up to the log's
  // answer happens before it returns.
  // deno-lint-ignore require-await
  async claim(member: M, alias: string, options: ClaimOptions): Promise<void> {
    const joining = options.onJoin !== undefined;
    if (options.replace) this.#evict(alias, member);
    this.#checkFree(
      alias,
      member,
      joining ? "Cannot join room" : "Cannot change alias",
      options.replace,
    );
    if (joining) {
      let count = 1;
      for (const claim of this.#claims.values()) {
        if (claim.line.type === "JOIN") count++;
      }
      const online = String(this.#holders.size + count);
      return this.#appendClaim(
        member,
        { type: "JOIN", alias, online },
        options,
      );
    }
    const old = member.alias;
    this.#remove(member);
    member.alias = alias;
    this.#add(member);
    // Taken at once (what it says next is said under it), and undone if
    // the log cannot store the NICK.
    return this.#appendClaim(member, {
      type: "NICK",
      alias: old,
      newAlias: alias,
      online: String(this.#holders.size),
    }, options);
  }

  // deno-lint-ignore require-await
  async leave(member: M, reason: LeaveReason, text: string): Promise<void> {
    if (this.#holders.get(aliasKey(member.alias)) !== member) return;
    this.#remove(member);
    if (reason === "shutdown") return;
    this.#room.append({
      type: "LEAVE",
      alias: member.alias,
      online: String(this.#holders.size),
      reason,
      text,
    }, member.id);
  }

  find(alias: string): Promise<Found<M> | null> {
    const member = this.#holders.get(aliasKey(alias));
    return Promise.resolve(member === undefined ? null : { here: member });
  }

  message(to: Someone): Promise<void> {
    return Promise.reject(new Error(`Cannot reach "${to.alias}": not here`));
  }

  remove(): Promise<boolean> {
    return Promise.resolve(false); // everyone is here
  }

  held(): void {} // nobody else to tell

  takeOver(): Promise<M | null> {
    return Promise.resolve(null); // everyone is here
  }

  stored(event: RoomEvent): void {
    const claim = this.#claims.size > 0
      ? this.#claims.get(event.origin)
      : undefined;
    if (claim?.line !== event.line) return;
    this.#endClaim(claim);
    const { member, line } = claim;
    if (line.type !== "JOIN") return;
    member.alias = line.alias;
    this.#add(member);
    claim.onJoin?.(line.online);
  }

  unsent(line: RoomLine, origin: string): boolean {
    const claim = this.#claims.get(origin);
    if (claim?.line !== line) return false;
    if (line.type === "JOIN") {
      this.#endClaim(
        claim,
        new ProtocolError(
          "unavailable",
          `Cannot join room: the room cannot store events right now; send "${line.alias}" again later`,
        ),
      );
    } else if (line.type === "NICK") {
      this.#undoRename(claim, line);
    }
    return true;
  }

  /**
   * Appends the `JOIN` or `NICK` of a join or rename, which is settled when
   * the log hands it on, or refused when the log cannot store it.
   */
  #appendClaim(
    member: M,
    line: RoomLine,
    options: ClaimOptions,
  ): Promise<void> {
    const claim: PendingClaim<M> = { member, line, onJoin: options.onJoin };
    this.#claims.set(member.id, claim);
    if (line.type === "JOIN") {
      this.#reserved.set(aliasKey(line.alias), claim);
      this.#reservedSkeletons.set(aliasSkeleton(line.alias), claim);
    }
    this.#room.append(line, member.id);
    if (this.#claims.get(member.id) !== claim) {
      return claim.error ? Promise.reject(claim.error) : Promise.resolve();
    }
    claim.waiter = Promise.withResolvers();
    return claim.waiter.promise;
  }

  /** Ends a pending claim: done, or refused with `error`. */
  #endClaim(claim: PendingClaim<M>, error?: ProtocolError): void {
    this.#claims.delete(claim.member.id);
    if (claim.line.type === "JOIN") {
      const key = aliasKey(claim.line.alias);
      const skeleton = aliasSkeleton(claim.line.alias);
      if (this.#reserved.get(key) === claim) this.#reserved.delete(key);
      if (this.#reservedSkeletons.get(skeleton) === claim) {
        this.#reservedSkeletons.delete(skeleton);
      }
    }
    if (claim.waiter === undefined) claim.error = error;
    else if (error) claim.waiter.reject(error);
    else claim.waiter.resolve();
  }

  /** A rename whose `NICK` was not stored: the old alias comes back. */
  #undoRename(claim: PendingClaim<M>, line: ServerLine<"NICK">): void {
    const { member } = claim;
    if (this.#holders.get(aliasKey(line.newAlias)) === member) {
      this.#remove(member);
      member.alias = line.alias;
      this.#add(member);
    } else if (member.alias === line.newAlias) {
      member.alias = line.alias; // gone meanwhile: its LEAVE is held too
    }
    this.#endClaim(
      claim,
      new ProtocolError(
        "unavailable",
        `Cannot change alias: the room cannot store events right now; you are still "${line.alias}"`,
      ),
    );
  }

  /** Dismisses whoever else holds `alias`: an account holder takes it back. */
  #evict(alias: string, member: M): void {
    const holder = this.#holders.get(aliasKey(alias));
    if (holder !== undefined && holder !== member) {
      this.#room.dismiss(
        holder,
        "replaced",
        `Disconnected: "${alias}" logged in from another connection`,
      );
    }
  }

  /**
   * Throws unless `alias` is free for `member` to take; an account holder
   * (`owner`) may take an alias that only looks like another's.
   */
  #checkFree(alias: string, member: M, action: string, owner: boolean): void {
    const key = aliasKey(alias);
    const holder = this.#holders.get(key) ?? this.#reserved.get(key)?.member;
    if (holder !== undefined && holder !== member) {
      throw new ProtocolError(
        "alias-taken",
        `${action}: alias "${alias}" is taken`,
      );
    }
    if (owner) return;
    const skeleton = aliasSkeleton(alias);
    const present = this.#skeletons.get(skeleton);
    const joining = this.#reservedSkeletons.get(skeleton);
    const [lookalike, as] = present !== undefined
      ? [present, present.alias]
      : [joining?.member, joining?.line.alias];
    if (lookalike !== undefined && lookalike !== member) {
      throw new ProtocolError(
        "alias-taken",
        `${action}: alias "${alias}" looks like "${as}", who is here`,
      );
    }
  }

  #add(member: M): void {
    this.#holders.set(aliasKey(member.alias), member);
    this.#skeletons.set(aliasSkeleton(member.alias), member);
  }

  /** Forgets a member's entries, and only its own. */
  #remove(member: M): void {
    const key = aliasKey(member.alias);
    if (this.#holders.get(key) === member) this.#holders.delete(key);
    const skeleton = aliasSkeleton(member.alias);
    if (this.#skeletons.get(skeleton) === member) {
      this.#skeletons.delete(skeleton);
    }
  }
}
