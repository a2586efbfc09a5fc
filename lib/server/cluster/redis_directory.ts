/**
 * The cluster's {@linkcode Directory}: aliases claimed across every server
 * of the room in Redis (each claim appends its `JOIN` or `NICK` to the
 * shared log in the same script), `/who` for the whole room, `/msg` and
 * kicks that reach a member on another server, and what the shared log
 * says about this server's members (a kick or ban decided elsewhere, a
 * rename whose answer was lost). When Redis cannot answer, a member is told
 * (`ERR unavailable`) and stays: an outage is never a reason to drop
 * anyone. It keeps one entry per member of this server.
 *
 * @module
 */

import { aliasKey, ProtocolError } from "../../protocol.ts";
import { type LeaveReason, markNotice } from "../../server_lines.ts";
import { describeError, type Logger } from "../../log.ts";
import type { Moderation, SharedSanction } from "../access/moderation.ts";
import type {
  ClaimOptions,
  Directory,
  DirectoryHost,
  Dismissal,
  Found,
  Someone,
} from "../room/directory.ts";
import type { HoldNews, TakeoverProof } from "../room/hold.ts";
import type { Member, PrivateText } from "../room/member.ts";
import type { RoomEvent } from "../room/room_log.ts";
import type { RoomsSnapshot } from "../room/rooms_snapshot.ts";
import type { Cluster, ClusterMember } from "./cluster.ts";
import { orUnavailable } from "./unavailable.ts";
import type { MemberRecord } from "./keys.ts";
import { type ModerationKept, syncModeration } from "./shared_moderation.ts";

/** A member of this server, as the cluster's directory needs it. */
export type ClusterRoomMember = Member & ClusterMember;

/** What the directory uses of this server's part in the cluster. */
export type DirectoryCluster =
  & Pick<
    Cluster,
    | "claim"
    | "mark"
    | "takeOver"
    | "leave"
    | "find"
    | "tell"
    | "remove"
    | "onReset"
    | "onLost"
    | "start"
  >
  & { readonly moderation: ModerationKept };

/** Leave reasons that are also the goodbye of whoever is removed so. */
const DISMISSALS: ReadonlySet<string> = new Set<Dismissal>([
  "kicked",
  "banned",
  "replaced",
  "server-lost",
]);

/** A join whose `JOIN` has not been handed on yet. */
interface PendingJoin<M> {
  readonly member: M;
  readonly alias: string;
  readonly onJoin: (online: string) => void;
  /** Settled once it entered (or can no longer). */
  readonly entered: PromiseWithResolvers<void>;
}

/** The directory of a room that spans the servers of a {@linkcode Cluster}. */
export class RedisDirectory<M extends ClusterRoomMember>
  implements Directory<M> {
  readonly unannounced =
    "Done on this server only: the other servers could not be told; do it again later";
  #cluster: DirectoryCluster;
  #log: Logger;
  #host: DirectoryHost<M> | undefined;
  /** Members of this server by id. */
  #here = new Map<string, M>();
  /** Members of this server by alias key. */
  #aliases = new Map<string, M>();
  /** The number of each member's last claim (its `JOIN` or `NICK`). */
  #claimedAt = new Map<string, number>();
  /**
   * Joins claimed (or being claimed) whose `JOIN` the log has not handed on
   * yet, by member id: a joiner enters as its `JOIN` is handed on, as on
   * one server (so a member with `rooms` gets its own `JOIN` first).
   */
  #joins = new Map<string, PendingJoin<M>>();

  /** The rooms as the cluster keeps them now (read again when lost). */
  #roomsNow: (() => Promise<RoomsSnapshot>) | undefined;

  /**
   * A directory over `cluster`; {@linkcode start} joins it. `roomsNow`
   * reads the rooms again (@default {none: the rooms are kept as they are}).
   */
  constructor(
    cluster: DirectoryCluster,
    log: Logger,
    roomsNow?: () => Promise<RoomsSnapshot>,
  ) {
    this.#cluster = cluster;
    this.#log = log;
    this.#roomsNow = roomsNow;
  }

  attach(host: DirectoryHost<M>): void {
    this.#host = host;
  }

  get #room(): DirectoryHost<M> {
    if (this.#host === undefined) {
      throw new Error("Cannot use the directory: no room attached");
    }
    return this.#host;
  }

  /**
   * Takes on the cluster's bans, mutes and topic (or gives it this
   * server's, when it has none yet; `take` applies the bans and mutes here),
   * then listens to what the other servers say, and asks the members here
   * to join again whenever the cluster no longer counts them in.
   */
  async start(
    moderation: Moderation,
    take: (sanctions: readonly SharedSanction[]) => void,
  ): Promise<void> {
    const cluster = this.#cluster;
    const sync = () =>
      syncModeration(cluster.moderation, moderation, take, this.#log);
    await sync();
    // Redis lost the cluster's state (who is in the room, its order): the
    // members here cannot be vouched for, and this server's bans, mutes
    // and topic are given to the new state.
    cluster.onReset(() => {
      this.#dismissAll("The room's shared state was lost: join again");
      this.#room.forgetEveryone();
      sync().catch((error) =>
        this.#log.error("cluster-sync-failed", { error: describeError(error) })
      );
    });
    // Counted lost, it may have missed changes trimmed from the stream
    // meanwhile: its rooms start again from what Redis keeps now.
    cluster.onLost(() => {
      this.#dismissAll("This server lost touch with the room: join again");
      this.#roomsNow?.().then(
        (snapshot) => this.#room.restartRooms(snapshot),
        (error) =>
          this.#log.error("rooms-not-read", { error: describeError(error) }),
      );
    });
    await cluster.start((message) => {
      if (message.kind === "moved") return this.#moved(message.id);
      const member = this.#here.get(message.to);
      if (member !== undefined) {
        const { from: alias, text, notice } = message;
        const line = markNotice({ type: "PRIV", alias, text }, notice);
        this.#room.tell(member, line);
      }
    });
  }

  /** Member `id` of this server was taken over by another: it goes. */
  #moved(id: string): void {
    const member = this.#here.get(id);
    if (member === undefined) return;
    this.#claimedAt.delete(id);
    this.#forget(member);
    this.#log.info("moved", { alias: member.alias });
    this.#room.moved(member);
  }

  held(member: M, news: HoldNews): void {
    void this.#cluster.mark(member, news);
  }

  async takeOver(
    proof: TakeoverProof,
    become: (was: Someone) => M,
  ): Promise<M | null> {
    // Redis failing: not taken over, and the client joins as usual.
    const record = await this.#cluster.takeOver(proof).catch((error) => {
      this.#log.warn("takeover-failed", { error: describeError(error) });
      return null;
    });
    if (record === null) return null;
    const member = become(record);
    this.#take(member, record.alias);
    return member;
  }

  async claim(member: M, alias: string, options: ClaimOptions): Promise<void> {
    const joining = options.onJoin !== undefined;
    if (!joining) return this.#claim(member, alias, options);
    const join = {
      member,
      alias,
      onJoin: options.onJoin!,
      entered: Promise.withResolvers<void>(),
    };
    this.#joins.set(member.id, join);
    try {
      await this.#claim(member, alias, options);
    } catch (error) {
      if (this.#joins.get(member.id) === join) this.#joins.delete(member.id);
      throw error;
    }
    await join.entered.promise;
  }

  /**
   * Claims `alias` in Redis; a rename holds it at once, a join once its
   * `JOIN` is handed on (`#joined`).
   */
  async #claim(
    member: M,
    alias: string,
    options: ClaimOptions,
  ): Promise<void> {
    const joining = options.onJoin !== undefined;
    const action = joining ? "join room" : "change alias";
    const claim = await orUnavailable(
      joining ? "join" : "change alias",
      () =>
        this.#cluster.claim(
          member,
          alias,
          joining ? null : member.alias,
          options.replace,
        ),
    );
    if (!claim.ok && "gone" in claim) {
      throw new ProtocolError(
        "unavailable",
        `Cannot ${action}: you were removed from the room meanwhile`,
      );
    }
    if (!claim.ok) {
      throw new ProtocolError(
        "alias-taken",
        claim.lookalike
          ? `Cannot ${action}: alias "${alias}" looks like "${claim.holder}", who is here`
          : `Cannot ${action}: alias "${alias}" is taken`,
      );
    }
    // Older events about this member (a clean-up of an earlier claim whose
    // answer was lost) come from before this claim: not about it now.
    this.#claimedAt.set(member.id, claim.seq);
    if (!joining && this.#here.get(member.id) === member) {
      this.#take(member, alias); // else it left meanwhile
    }
  }

  // deno-lint-ignore require-await
  async leave(member: M, reason: LeaveReason, text: string): Promise<void> {
    this.#claimedAt.delete(member.id);
    this.#forget(member);
    // At shutdown, this server's members leave all at once (Cluster.stop).
    if (reason !== "shutdown") this.#cluster.leave(member, reason, text);
  }

  async find(alias: string): Promise<Found<M> | null> {
    const here = this.#aliases.get(aliasKey(alias));
    if (here !== undefined) return { here };
    const record = await this.#cluster.find(alias);
    if (record === null) return null;
    const member = this.#here.get(record.id);
    return member === undefined ? { elsewhere: record } : { here: member };
  }

  async message(to: Someone, from: string, said: PrivateText): Promise<void> {
    const { server } = to as Partial<MemberRecord>;
    if (server === undefined) throw new Error(`No server for "${to.alias}"`);
    const heard = await this.#cluster.tell(server, {
      kind: "priv",
      to: to.id,
      from,
      text: said.text,
      ...(said.notice ? { notice: true } : {}),
    });
    if (heard === 0) throw new Error(`server ${server} is not there`);
  }

  remove(id: string, reason: "kicked", bye: string): Promise<boolean> {
    return orUnavailable(
      "reach their server",
      () => this.#cluster.remove(id, reason, bye),
    );
  }

  /**
   * What the log says about a member of this server that it did not do
   * here: a `LEAVE` decided elsewhere (a kick or ban on another server, a
   * login from another connection, this server counted as lost) closes it,
   * told why; a `NICK` whose answer was lost on the way back (or has not
   * come yet) gives it its new alias.
   */
  stored(event: RoomEvent): void {
    const { line } = event;
    if (line.type === "JOIN" && event.room === undefined) {
      return this.#joined(event.origin, event.seq, line.online);
    }
    if (line.type !== "LEAVE" && line.type !== "NICK") return;
    // Out of one room (a part, a room kick or ban): the rooms' business.
    if (event.room !== undefined) return;
    const member = this.#here.get(event.origin);
    if (member === undefined) return;
    if (event.seq < (this.#claimedAt.get(member.id) ?? 0)) return;
    if (line.type === "NICK") {
      if (member.alias === line.alias) this.#take(member, line.newAlias);
      return;
    }
    this.#claimedAt.delete(member.id);
    this.#forget(member);
    const reason = DISMISSALS.has(line.reason)
      ? line.reason as Dismissal
      : "kicked";
    this.#room.dismiss(
      member,
      reason,
      event.effect?.kind === "bye"
        ? event.effect.text
        : "Disconnected: removed from the room",
      true,
    );
  }

  /** Its claims go through Redis's scripts, not through the room's log. */
  unsent(): boolean {
    return false;
  }

  /**
   * The `JOIN` of member `id` (number `seq`, the count `online`) was
   * handed on: it enters, in this step.
   */
  #joined(id: string, seq: number, online: string): void {
    const join = this.#joins.get(id);
    if (join === undefined) return;
    this.#joins.delete(id);
    this.#claimedAt.set(id, seq);
    this.#take(join.member, join.alias);
    join.onJoin(online);
    join.entered.resolve();
  }

  /** Asks every member here to join again (`BYE server-lost`). */
  #dismissAll(text: string): void {
    // Joins whose JOIN will never be handed on (a new stream, or this
    // server counted out) are refused; a claim run after the beat that
    // found this server counted out went through: given back, by id.
    for (const join of this.#joins.values()) {
      join.entered.reject(
        new ProtocolError("unavailable", `Cannot join room: ${text}`),
      );
      this.#cluster.leave(join.member, "disconnect", "");
    }
    this.#joins.clear();
    for (const member of [...this.#room.members()]) {
      this.#room.dismiss(member, "server-lost", text);
    }
  }

  /** `member` holds `alias` now. */
  #take(member: M, alias: string): void {
    this.#forget(member);
    member.alias = alias;
    this.#here.set(member.id, member);
    this.#aliases.set(aliasKey(alias), member);
  }

  /** Forgets a member's entries, and only its own. */
  #forget(member: M): void {
    if (this.#here.get(member.id) === member) this.#here.delete(member.id);
    const key = aliasKey(member.alias);
    if (this.#aliases.get(key) === member) this.#aliases.delete(key);
  }
}
