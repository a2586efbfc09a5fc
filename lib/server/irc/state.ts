/**
 * What the IRC door keeps for one connection: the capabilities the client
 * turned on, its nick and alias, where registration stands, the channels it
 * is in, what the replies to the door's own requests will mean, and a
 * history batch open. It is read and changed by `registration.ts`,
 * `inbound.ts` and `outbound.ts`, which say what to send through an
 * {@linkcode IrcSink}; and the connection's facts as the door's
 * ({@linkcode IrcInfo}). Pure: no I/O, no clock.
 *
 * @module
 */

import type { PeerCertificate } from "../access/accounts.ts";
import type { ConnectionInfo } from "../room/connection.ts";
import type { IrcMessage } from "./parse.ts";
import type { Clock } from "../../clock.ts";
import type { SharedLines } from "./shared_lines.ts";
import { roomOf } from "./names.ts";

/** The IRCv3 capabilities the door offers, in the order `CAP LS` lists them. */
export const IRC_CAPS = [
  "server-time",
  "message-tags",
  "echo-message",
  "batch",
  "sasl",
] as const;

/** An IRCv3 capability the door offers. */
export type IrcCap = (typeof IRC_CAPS)[number];

/** The host part every member's `nick!user@host` shows (addresses are not). */
export const MEMBER_HOST = "tlschat";

/**
 * What a reply to one of the door's requests to the session is for, in the
 * order the requests went: the session answers in order. A `door` request
 * is one the door answers itself once the directory told it (`WHOIS`),
 * its `lines` null until then, sent once it is first in the queue.
 * `after`: the door's own answers to later
 * commands, held until this request is answered (`in_order.ts`).
 */
export type Pending =
  & (
    | {
      readonly kind:
        | "names"
        | "who"
        | "mode"
        | "mode-sent"
        | "bans"
        | "topic"
        | "listed";
      readonly room: string;
    }
    | { readonly kind: "list" }
    | {
      readonly kind: "door";
      lines: IrcMessage[] | null;
    }
  )
  & { after?: IrcMessage[] };

/** What the door knows of the server, the same for every connection. */
export interface IrcSettings {
  /** The server's name, as the source of its lines. */
  readonly server: string;
  /** The room everyone is in after joining (`--default-room`). */
  readonly defaultRoom: string;
  /**
   * What 005 says of the server's room limits (`CHANLIMIT=...`), besides
   * what the door always says (`isupport.ts`).
   */
  readonly isupport: readonly string[];
  /**
   * The largest room whose joins and leaves are shown (`--announce-limit`).
   */
  readonly announceLimit: number;
  /** Whether `name` is a registered account (SASL is refused early if not). */
  isAccount(name: string): boolean;
  /**
   * The alias as its holder spells it, on any server, or null when nobody
   * holds it (`WHOIS`); rejects when that cannot be told.
   */
  holder(alias: string): Promise<string | null>;
}

/** Where the translation of one line goes. */
export interface IrcSink {
  /** An IRC line for the client. */
  irc(message: IrcMessage): void;
  /** A native line for the session, as if the client had sent it. */
  native(line: string): void;
  /** Ends the connection with `ERROR :text` (after what was sent). */
  close(text: string): void;
}

/** A SASL exchange under way. */
export interface SaslState {
  readonly mechanism: "PLAIN" | "EXTERNAL";
  /** The account asked for, once its credentials came. */
  account: string | null;
  /** PLAIN's password, once it came. */
  password: string | null;
  /** The payload's 400-byte chunks so far (one more follows each). */
  chunks: string;
}

/** A channel's topic as the log event that set it said. */
export interface TopicSet {
  /** Who set it (an alias). */
  readonly by: string;
  readonly text: string;
  /** When, as the log's time tag (ISO 8601). */
  readonly time: string;
}

/** One connection's state. */
export class IrcState {
  readonly settings: IrcSettings;
  /** The client's certificate names an account it might log into. */
  readonly certificateName: string | null;
  /** Capabilities turned on (`CAP REQ`). */
  readonly caps = new Set<IrcCap>();
  /** Its nick: `*` until it gives one. */
  nick = "*";
  /** `USER` was given. */
  user = false;
  /** A valid `NICK` was given (SASL may take another alias). */
  nickGiven = false;
  /** What `PASS` gave, until it is used. */
  pass: string | null = null;
  /** `CAP LS` or `REQ` came and `CAP END` not yet. */
  negotiating = false;
  /** The nick whose alias was sent to the session, not yet answered. */
  aliasSent: string | null = null;
  /**
   * The session refused the nick's alias (`alias`: taken or invalid;
   * `account`: an account's, and no password came): it is not sent again
   * until a new `NICK` (or, for an account's, a `PASS`).
   */
  refused: "alias" | "account" | null = null;
  /** The session took its alias (native `WELCOME`). */
  welcomed = false;
  /** 001 to 005 were sent: the client is registered. */
  registered = false;
  /** Only accounts may join the server (its greeting's `auth=accounts`). */
  accountsOnly = false;
  /** It logged into an account (SASL, or `PASS` with the account's). */
  account = false;
  /**
   * Its last line was a `NOTICE`: the session's refusal of it is not
   * shown (a `NOTICE` is never answered with an error). The session
   * answers a line before the door reads the next, which clears this.
   */
  noticing = false;
  sasl: SaslState | null = null;
  /** Channels it is in (rooms, folded). */
  readonly joined = new Set<string>();
  /** Channels it was told joins and leaves are not shown in (`PRESENCE`). */
  readonly quiet = new Set<string>();
  /**
   * Keys it set (`MODE +k`) and not yet seen set: its own `MODE +k` shows
   * the key, so that the client keeps it (everyone else sees `*`). The
   * newest 32, each forgotten when the client leaves its channel.
   */
  readonly keys = new Map<string, string>();
  /**
   * The topic of each channel it is in as a log event it saw set it
   * (`TOPIC` with its time): who, what, when. Forgotten when it leaves.
   */
  readonly topics = new Map<string, TopicSet>();
  /** What replies to the door's own requests are for, oldest first. */
  readonly pending: Pending[] = [];
  /** The door's answers held behind pending requests (their `after`). */
  held = 0;
  /** Held answers whose request was answered: sent after its reply. */
  readonly released: IrcMessage[] = [];
  /** The log number of the last QUIT or NICK sent (one per event). */
  lastEventSeq = -1;
  /** The history batch open, if any. */
  batch: { readonly ref: string; readonly room: string } | null = null;
  /** Batches opened so far (their references). */
  batches = 0;

  /** A fresh connection's state. */
  constructor(settings: IrcSettings, certificateName: string | null = null) {
    this.settings = settings;
    this.certificateName = certificateName;
  }

  /**
   * What replies call the client: its nick, or `*` while it has none
   * (before `NICK`, and once the session refused the nick's alias).
   */
  get target(): string {
    return this.refused === null ? this.nick : "*";
  }

  /**
   * When the topic `text` that `by` set in `room` was set, in seconds since
   * the epoch, for 333: the line's own time, or that of the log event this
   * connection saw set that topic; null when neither is known.
   */
  topicSetAt(
    room: string,
    { by, text, time }: Omit<TopicSet, "time"> & { time: string | null },
  ): string | null {
    const seen = this.topics.get(room);
    const known = time ??
      (seen?.by === by && seen.text === text ? seen.time : null);
    const ms = known === null ? NaN : Date.parse(known);
    return Number.isNaN(ms) ? null : String(Math.floor(ms / 1000));
  }

  /** A numeric reply to this client: `:server NNN nick params...`. */
  numeric(code: string, ...params: string[]): IrcMessage {
    return {
      source: this.settings.server,
      command: code,
      params: [this.target, ...params],
    };
  }

  /** A `NOTICE` from the server to this client. */
  notice(text: string): IrcMessage {
    return {
      source: this.settings.server,
      command: "NOTICE",
      params: [this.target, text],
    };
  }
}

/** 403 for a name that is no room. */
export function noSuchChannel(
  state: IrcState,
  channel: string,
  sink: IrcSink,
): void {
  sink.irc(state.numeric("403", channel, "No such channel"));
}

/** The room of a channel (403 when it names none). */
export function inRoom(
  state: IrcState,
  channel: string,
  sink: IrcSink,
): string | null {
  const room = roomOf(channel);
  if (room === null) noSuchChannel(state, channel, sink);
  return room;
}

/** 461: a command without the parameters it needs. */
export function needMore(
  state: IrcState,
  command: string,
  sink: IrcSink,
): void {
  sink.irc(state.numeric("461", command, "Not enough parameters"));
}

/** `nick!nick@tlschat`: a member as the source of a line. */
export function sourceOf(nick: string): string {
  return `${nick}!${nick}@${MEMBER_HOST}`;
}

/** The account a certificate names (its subject), when it was verified. */
export function certificateName(
  certificate: PeerCertificate | null,
): string | null {
  return certificate?.verified ? certificate.subject : null;
}

/** The inner connection's facts, as the IRC door's. */
export class IrcInfo implements ConnectionInfo {
  readonly door = "irc";
  #inner: ConnectionInfo;

  /** The facts of `inner`, the TLS connection under the door's. */
  constructor(inner: ConnectionInfo) {
    this.#inner = inner;
  }

  get host(): string {
    return this.#inner.host;
  }

  get address(): string {
    return this.#inner.address;
  }

  get certificate(): PeerCertificate | null {
    return this.#inner.certificate;
  }
}

/** Options of an `IrcConnection` (`irc_connection.ts`). */
export interface IrcConnectionOptions {
  readonly settings: IrcSettings;
  /** Most bytes held for a client that has not ended registration. */
  readonly queueBytes: number;
  /** The session's flood limits (`--flood-rate`, `--flood-burst`). */
  readonly floodRate: number;
  readonly floodBurst: number;
  readonly clock: Clock;
  /**
   * The door's translations of the last room message, shared.
   * @default {none shared}
   */
  readonly shared?: SharedLines;
}
