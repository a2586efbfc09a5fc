/**
 * This server's part in a cluster of servers that form one room through
 * Redis: who is in the room across all of them (aliases and look-alikes
 * claimed atomically, with the event that announces the change), its
 * {@linkcode Heartbeat} (which also announces the
 * members of a server that stopped beating as left, `server-lost`), the
 * leaves that could not reach Redis sent again (`pending_leaves.ts`),
 * private messages to a member on another server,
 * and the bans, mutes and topic in force, for servers that start later
 * (its `moderation`, `shared_moderation.ts`; changes reach running servers
 * through the room's log, in its order).
 *
 * @module
 */

import { groupKey } from "../../address.ts";
import type { Clock } from "../../clock.ts";
import { describeError, type Logger } from "../../log.ts";
import { aliasKey } from "../../protocol.ts";
import { aliasSkeleton } from "../../text.ts";
import { Heartbeat } from "./heartbeat.ts";
import { PendingLeaves } from "./pending_leaves.ts";
import type { HoldNews, TakeoverProof } from "../room/hold.ts";
import type { MemberRecord } from "./keys.ts";
import type { RedisLink } from "./redis.ts";
import { probeRedis, type RedisProbe } from "./redis_probe.ts";
import { SharedModeration } from "./shared_moderation.ts";

/** Options of {@linkcode Cluster}. */
export interface ClusterOptions {
  readonly clock: Clock;
  readonly log: Logger;
  /** How often this server says it is alive (`--heartbeat`). */
  readonly heartbeatMs: number;
  /**
   * Silence after which a server counts as lost and its members as gone
   * (`--lost-after`).
   */
  readonly lostAfterMs: number;
  /**
   * The longest wait between two attempts to reach Redis again (the
   * heartbeat's grace after a break covers it).
   */
  readonly redisReconnectMaxMs: number;
  /**
   * Sends the room log's lines appended so far, before a `LEAVE` (a kick's
   * or ban's `MOD` comes first, as on one server). @default {nothing}
   */
  readonly flush?: () => void;
}

/** What one server tells another through Redis. */
export type ClusterMessage =
  /**
   * A private message for member `to` of the receiving server (`notice`:
   * a notice's, `/privnotice`; a server of the previous release, which
   * sends none, is read as sending a message, and reads one as such).
   */
  | { kind: "priv"; to: string; from: string; text: string; notice?: true }
  /**
   * Member `id` of the receiving server was taken over by another one
   * (`resume_scripts.ts`): let it go, unannounced.
   */
  | { kind: "moved"; id: string };

/** The outcome of a claim on an alias across the cluster. */
export type Claim =
  /** `seq`: the number of the `JOIN` or `NICK` that made it. */
  | { readonly ok: true; readonly online: string; readonly seq: number }
  | {
    readonly ok: false;
    readonly holder: string;
    readonly lookalike: boolean;
  }
  /** Renaming someone who was removed meanwhile (a kick elsewhere). */
  | { readonly ok: false; readonly gone: true };

/** A member as the cluster needs it. */
export interface ClusterMember {
  readonly id: string;
  readonly alias: string;
  readonly account: string | null;
  readonly host: string;
  readonly operator: boolean;
  /** It has `rooms`: only a connection with `rooms` takes it over. */
  readonly roomsOn?: boolean;
}

/** This server in the cluster. */
export class Cluster {
  /** This server's id, unique in the cluster for as long as it runs. */
  readonly server: string;
  #link: RedisLink;
  #options: ClusterOptions;
  #stopped = false;
  /** Leaves that could not reach Redis, sent again after every beat. */
  #leaves: PendingLeaves;
  #heartbeat: Heartbeat;
  /** The bans, mutes and topic kept for servers that start later. */
  readonly moderation: SharedModeration;

  /** Joins the cluster on `link` (call {@linkcode start}). */
  constructor(link: RedisLink, options: ClusterOptions) {
    this.#link = link;
    this.#options = options;
    this.moderation = new SharedModeration(link);
    this.server = crypto.randomUUID().slice(0, 8);
    this.#leaves = new PendingLeaves(link, this.server, options);
    this.#heartbeat = new Heartbeat(link, this.server, {
      ...options,
      // The leaves that could not be sent, after every beat.
      after: () => this.#leaves.resend(),
    });
  }

  /** Servers alive at the last heartbeat, this one included (0 before it). */
  get servers(): number {
    return this.#heartbeat.live;
  }

  /** Whether Redis answers now, for `/readyz` ({@linkcode probeRedis}). */
  probe(): Promise<RedisProbe> {
    return probeRedis(this.#link, this);
  }

  /**
   * Says this server is alive, starts watching the others, and listens to
   * what they tell it.
   */
  async start(onMessage: (message: ClusterMessage) => void): Promise<void> {
    const listener = (raw: string) => {
      let message: Partial<ClusterMessage> | null = null;
      try {
        message = JSON.parse(raw);
      } catch {
        // Not from a server of ours.
      }
      if (
        message?.kind === "priv" && oneLine(message.to) &&
        oneLine(message.from) && oneLine(message.text)
      ) {
        const { to, from, text } = message;
        const notice = message.notice === true ? { notice: true } : {};
        onMessage(
          { kind: "priv", to, from, text, ...notice } as ClusterMessage,
        );
      }
      if (message?.kind === "moved" && oneLine(message.id)) {
        onMessage({ kind: "moved", id: message.id });
      }
    };
    const { keys } = this.#link;
    await this.#link.subscriber.subscribe(keys.channel(this.server), listener);
    await this.#heartbeat.start();
  }

  /**
   * Stops beating; this server's members leave (`shutdown`). When Redis
   * does not take it, the other servers count this one lost in time.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#heartbeat.stop();
    await this.#link.run("evict", [
      this.server,
      "shutdown",
      String(this.#options.clock.now()),
      "1",
      "",
    ]).catch((error) =>
      this.#options.log.warn("redis-leave-failed", {
        error: describeError(error),
        hint:
          "this server's members leave for the others once it counts as lost (--lost-after)",
      })
    );
  }

  /**
   * Claims `alias` for `member` across the cluster (renaming from `from`
   * when given), appending its `JOIN` or `NICK` in the same step. With
   * `replace` (an account holder), whoever holds it is removed (`LEAVE ...
   * replaced`) and look-alikes do not count.
   */
  async claim(
    member: ClusterMember,
    alias: string,
    from: string | null,
    replace: boolean,
  ): Promise<Claim> {
    const record: MemberRecord = {
      id: member.id,
      server: this.server,
      alias,
      account: member.account,
      host: member.host,
      group: groupKey(member.host),
      operator: member.operator,
    };
    // A leave still queued for it would undo this claim: the claim adopts
    // whatever an earlier, unanswered one left.
    this.#leaves.drop(member.id);
    let reply: [string, string, string?];
    try {
      reply = await this.#link.run("claim", [
        aliasKey(alias),
        aliasSkeleton(alias),
        JSON.stringify(record),
        replace ? "1" : "0",
        String(this.#options.clock.now()),
        from === null ? "" : aliasKey(from),
      ]) as [string, string];
    } catch (error) {
      // It may have run with its answer lost: a join must not leave its
      // alias held by nobody (a rename that did run comes back as NICK).
      if (from === null) this.leave(member, "disconnect", "");
      throw error;
    }
    const [status, value, seq] = reply;
    if (status === "notlive") this.#notBeating();
    if (status === "ok") {
      return { ok: true, online: String(value), seq: Number(seq) };
    }
    if (status === "gone") return { ok: false, gone: true };
    return {
      ok: false,
      holder: String(value),
      lookalike: status !== "taken",
    };
  }

  /**
   * Announces that `member` left (`LEAVE` with `reason`). A leave that
   * cannot reach Redis now is sent again later, so that no alias stays
   * claimed by someone gone.
   */
  leave(member: ClusterMember, reason: string, text: string): void {
    if (this.#stopped) return; // its members leave all at once
    this.#leaves.keep(member.id, reason, text);
    this.#options.flush?.(); // what was appended before goes first
    void this.#leaves.send(member.id);
  }

  /**
   * Removes member `id`, on any server, whatever alias it holds now (a
   * kick); its server closes it with `bye`. Resolves to whether someone
   * was removed.
   */
  async remove(id: string, reason: string, bye: string): Promise<boolean> {
    const removed = await this.#link.run("leave", [
      "",
      id,
      reason,
      "",
      bye,
      String(this.#options.clock.now()),
    ]);
    return Number(removed) === 1;
  }

  /**
   * Tells the cluster what `news` says of `member` of this server: its new
   * resume token's hash, or none any more, and whether it is held. Does
   * nothing once its claim is no longer this server's. Never rejects: what
   * Redis does not hear, the others do not know.
   */
  async mark(member: ClusterMember, news: HoldNews): Promise<void> {
    const { tokenHash, away } = news;
    const hash = tokenHash === null ? "-" : tokenHash ?? "";
    const rooms = member.roomsOn ? "1" : "0";
    const args = [member.id, this.server, hash, away ? "1" : "0", rooms];
    await this.#link.run("mark", args).catch((error) =>
      this.#options.log.debug("redis-mark-failed", {
        error: describeError(error),
      })
    );
  }

  /**
   * Takes over, for this server, the claim of a member of another one,
   * by its resume token's hash (hex) or (an account's login) its account's
   * own alias: that server is told to let it go. Resolves to its record,
   * or null when no such member is elsewhere.
   */
  async takeOver(by: TakeoverProof): Promise<MemberRecord | null> {
    const account = "account" in by ? by.account : "";
    const [status, record] = await this.#link.run("takeover", [
      "tokenHash" in by ? by.tokenHash : "",
      account === "" ? "" : aliasKey(account),
      account,
      this.server,
      this.#link.keys.channel(""),
      by.roomsOn ? "1" : "0",
    ]) as [string, string];
    if (status === "notlive") this.#notBeating();
    return status === "ok" ? JSON.parse(record) as MemberRecord : null;
  }

  /** The member holding `alias` anywhere in the cluster, if any. */
  async find(alias: string): Promise<MemberRecord | null> {
    const raw = await this.#link.command([
      "HGET",
      this.#link.keys.members,
      aliasKey(alias),
    ]);
    return raw === null ? null : JSON.parse(String(raw)) as MemberRecord;
  }

  /**
   * Tells server `server`; resolves to how many servers heard it (0: it
   * is lost).
   */
  async tell(server: string, message: ClusterMessage): Promise<number> {
    const heard = await this.#link.command([
      "PUBLISH",
      this.#link.keys.channel(server),
      JSON.stringify(message),
    ]);
    return Number(heard);
  }

  /**
   * Redis does not count this server as beating: it was counted lost and
   * has not heard yet, or is not started. It beats at once (finding itself
   * counted lost, it is in the cluster again), and the call fails.
   */
  #notBeating(): never {
    this.#heartbeat.now();
    throw new NotBeating();
  }

  /**
   * Calls `listener` when this server finds it was counted lost by the
   * others (its members were announced as left, and their aliases freed).
   */
  onLost(listener: () => void): void {
    this.#heartbeat.onLost(listener);
  }

  /**
   * Calls `listener` when the cluster's state in Redis was found lost
   * (nothing this server had pending is then left to do).
   */
  onReset(listener: () => void): void {
    this.#link.onReset(() => {
      this.#leaves.clear();
      listener();
      // Beating at once: until it does, the new state refuses its claims.
      if (!this.#stopped) this.#heartbeat.now();
    });
  }
}

/**
 * A claim or takeover refused because this server was not beating in the
 * cluster (counted lost by the others, and not yet told): it is back once
 * it has beaten, which it does at once.
 */
export class NotBeating extends Error {
  constructor() {
    super("this server is not beating in the cluster now");
    this.name = "NotBeating";
  }
}

/** Text read back from Redis that may go into a line: one line, a string. */
function oneLine(value: unknown): value is string {
  return typeof value === "string" && !/[\r\n]/.test(value);
}
