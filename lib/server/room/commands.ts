/**
 * What a member in the room may do, line by line: the command table of a
 * joined session (`/me`, `/msg`, `/nick`, `/who`, `/history`, `/help`,
 * `/quit`, a message, and the operator commands, handed to the
 * moderator), lines that carry their id (`ids`: exactly one answer each),
 * the mute check before anything is said, and which lines are plain chat
 * (through the log, with no answer of their own: {@linkcode plainChat}).
 * A base class of the session, between its login dialogue and its line
 * intake (`intake.ts`), so that a member costs no object of its own for it.
 *
 * @module
 */

import type { Clock, StallMeter } from "../../clock.ts";
import {
  decodeLine,
  encodeTaggedLine,
  LINE_ID_PREFIX,
  ProtocolError,
  ROOMS_NEED_CAP,
  splitLineId,
  splitRoomPrefix,
  validateRoomName,
} from "../../protocol.ts";
import {
  type Command,
  isCommand,
  parseCommand,
  ROOM_COMMANDS,
  saying,
} from "../../commands.ts";
import { isBlank, sanitizeText } from "../../text.ts";
import { encodeServerLine } from "../../server_lines.ts";
import type { InboundLine } from "./connection.ts";
import { describeSanction, type Sanction } from "../access/moderation.ts";
import { type LoginContext, LoginDialogue } from "./login.ts";
import {
  moderate,
  type Moderated,
  type ModeratorCommand,
  type ModeratorContext,
} from "./moderator.ts";
import type { Room } from "./room.ts";
import {
  history as roomHistory,
  rejoin,
  type RoomCommandContext,
  scopeOf,
  who as roomWho,
} from "./room_commands.ts";
import { checkRoomMute, roomLine } from "./room_lines.ts";
import { NO_SEARCH, type Search, searchLines } from "./search.ts";
import { TokenBucket } from "../../flood.ts";

/** What `/cap` and `/resume` get once the alias is chosen. */
const BEFORE_ALIAS = {
  cap: "Capabilities are chosen before the alias: send /cap first",
  resume: "/resume comes before the alias: send it first",
};
import type { ReadSync } from "./read_sync.ts";

/** What the commands need from their server. */
export interface CommandContext<M extends Moderated> extends LoginContext {
  readonly room: Room<M>;
  readonly clock: Clock;
  /** What `/search` finds with. @default {NO_SEARCH} */
  readonly search?: Search;
  /** Accounts' read markers (`/read`); none: `/read` is ignored. */
  readonly reads?: ReadSync<M>;
  /** How long the event loop stood still (`Stalls`), excused as no flood. */
  readonly stalls?: StallMeter;
}

/** The commands of a member `M` (the session itself) in the room. */
export abstract class ChatCommands<M extends Moderated> extends LoginDialogue {
  #chat: CommandContext<M>;
  /** A mute may apply: checked against the moderation store on speaking. */
  #muted = false;
  /** Its searches a minute, once it searched. */
  #searches: TokenBucket | undefined;

  /** Commands over `context`'s room and gate. */
  constructor(context: CommandContext<M>) {
    super(context);
    this.#chat = context;
  }

  /** The member itself, as the room knows it. */
  protected abstract get self(): M;
  /** Ends the session on `/quit`; the others see `leaveText`. */
  protected abstract quit(leaveText: string): void;
  /** Queues a reply of the session's own. */
  protected abstract reply(bytes: Uint8Array): void;

  /**
   * A mute was added that applies to this member (or one was lifted: the
   * next line it speaks checks whether another still applies).
   */
  mute(sanction: Sanction | null): void {
    this.#muted = true;
    if (sanction === null) this.#checkMute(false);
  }

  /** Whether a mute may apply (its lines are then handled one by one). */
  protected get mayBeMuted(): boolean {
    return this.#muted;
  }

  /** A mute may apply from now on: checked when it first speaks. */
  protected recheckMute(): void {
    this.#muted = true;
  }

  /** Handles one line of a member in the room. */
  protected command(text: string): Promise<void> | void {
    if (this.lineIds) {
      const { id, rest } = splitLineId(text);
      if (id !== null) return this.#withId(id, rest);
    }
    if (this.roomsOn) {
      return roomLine(this.#roomContext(), this.self, text, {
        checkMute: () => this.#checkMute(),
        common: (command) => this.#common(command),
      });
    }
    return this.#common(parseCommand(text));
  }

  /** Joins its account's rooms again, at login (`room_commands.ts`). */
  protected rejoinRooms(): void {
    rejoin(
      this.#roomContext(),
      this.self,
      (error) =>
        this.reply(encodeServerLine({
          type: "ERR",
          code: error.code,
          text: error.message,
        })),
      (text) => this.reply(encodeServerLine({ type: "INFO", text })),
    );
  }

  /** What room commands need, now. */
  #roomContext(): RoomCommandContext<M> {
    const { room, config, clock, gate } = this.#chat;
    const { router } = room;
    return {
      room,
      router,
      history: config.history,
      now: clock.now(),
      moderation: gate.moderation,
      moderate: (command) =>
        moderate(this.#moderatorContext(), this.self, command),
      accounts: gate.accounts,
    };
  }

  /** What operator commands need. */
  #moderatorContext(): ModeratorContext<M> {
    const { room, gate, clock } = this.#chat;
    return {
      room,
      moderation: gate.moderation,
      accounts: gate.accounts,
      clock,
    };
  }

  /** A command as every member has it (the default room's, without `rooms`). */
  #common(command: Command): Promise<void> | void {
    const { room } = this.#chat;
    const self = this.self;
    const router = room.router;
    switch (command.kind) {
      case "pass":
        return this.pass(command.password);
      case "say":
        if (command.text === "") return; // nothing that would show
        this.#checkMute();
        return room.speak(saying(command), self, command.text);
      case "me":
        this.#checkMute();
        return room.speak("ME", self, command.text);
      case "msg":
        this.#checkMute();
        return room.replies.whisper(self, command.to, command);
      case "nick":
        this.#checkMute();
        this.#checkRoomMutes();
        // A rename is announced in the member's rooms: with none, not even
        // the member would learn it.
        if (this.roomsOn) scopeOf(router, self, null);
        return this.claimAlias(command.alias, true);
      case "who":
        return roomWho(this.#roomContext(), self, router.rooms.default);
      case "history":
        return this.#history(command.count);
      case "help":
        return room.replies.help(self);
      case "search":
        return this.#search(command.words);
      case "pong":
        return;
      case "read":
        return this.#read(command.room, command.seq);
      case "cap":
      case "resume":
        throw new ProtocolError("usage", BEFORE_ALIAS[command.kind]);
      case "quit":
        // A muted member's parting words are not passed on: they would
        // reach every room it is in, the one that muted it too.
        return this.quit(
          this.#checkMute(false) && this.#mutedIn() === undefined
            ? command.reason
            : "",
        );
      default:
        if (ROOM_COMMANDS.has(command.kind)) {
          throw new ProtocolError("usage", ROOMS_NEED_CAP);
        }
        return moderate(
          this.#moderatorContext(),
          self,
          command as ModeratorCommand,
        );
    }
  }

  /** A room it is in that muted it (the first), if any. */
  #mutedIn(): string | undefined {
    const { room, clock } = this.#chat;
    const { rooms } = room.router;
    const now = clock.now();
    return rooms.roomsOf(this.self).find((name) =>
      (rooms.get(name)?.muteOf(this.self, now) ?? null) !== null
    );
  }

  /**
   * Throws `ERR muted` while a room it is in mutes it: a rename is
   * announced in every room it is in, that one too (as IRC servers refuse
   * a nick change to a member banned or quieted in one of its channels).
   */
  #checkRoomMutes(): void {
    const name = this.#mutedIn();
    if (name === undefined) return;
    throw new ProtocolError(
      "muted",
      `You are muted in ${name}: a new alias would be announced there`,
    );
  }

  /** `/read [#room] SEQ`: kept for the account (`read_sync.ts`). */
  #read(named: string | null, seq: number): Promise<void> | undefined {
    // Room names are case-folded, as every other command has them.
    const room = named === null ? null : validateRoomName(named);
    const state = scopeOf(this.#chat.room.router, this.self, room);
    return this.#chat.reads?.read(this.self, state, seq);
  }

  /** `/history [N]`: the last N messages (the configured number by default). */
  #history(count: number | null): void {
    const { room } = this.#chat;
    roomHistory(
      this.#roomContext(),
      this.self,
      room.router.rooms.default,
      count,
    );
  }

  /**
   * `/search WORDS`, in the rooms it is in now (answered once the index
   * did: the member's next line waits for it).
   */
  async #search(words: readonly string[]): Promise<void> {
    const { room, config, clock } = this.#chat;
    const { rooms } = room.router;
    this.#searches ??= new TokenBucket(
      config.searchRate / 60,
      config.searchRate,
      () => clock.now(),
    );
    const lines = await searchLines({
      search: this.#chat.search ?? NO_SEARCH,
      bucket: this.#searches,
      rooms: rooms.roomsOf(this.self),
      defaultRoom: rooms.default.name,
      since: (name) => rooms.get(name)?.since ?? 0,
      limit: config.searchResults,
      // As a replay: half the queue, less what it holds already.
      bytes: room.replies.budget(this.self).left,
    }, words);
    for (const line of lines) this.reply(encodeServerLine(line));
  }

  /**
   * A message or action that carries its id (`ids`): it gets exactly one
   * answer, its echo or an `ERR` that names the id (a blank message too,
   * which is otherwise ignored). Any other command with an id is refused.
   */
  #withId(id: string, text: string): void {
    const { room } = this.#chat;
    try {
      let scope: string | undefined;
      if (this.roomsOn) {
        const { room: named, rest } = splitRoomPrefix(text);
        const state = scopeOf(room.router, this.self, named);
        checkRoomMute(this.#roomContext(), this.self, state);
        scope = room.router.rooms.eventRoom(state);
        text = rest;
      }
      const command = parseCommand(text);
      if (command.kind === "say" && command.text !== "") {
        this.#checkMute();
        return room.speak(saying(command), this.self, command.text, id, scope);
      }
      if (command.kind === "me") {
        this.#checkMute();
        return room.speak("ME", this.self, command.text, id, scope);
      }
      throw new ProtocolError(
        "usage",
        command.kind === "say"
          ? "Message dropped: it is empty, or nothing of it would show"
          : "Only a message or a /me line may start with @id=",
      );
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.reply(
        encodeTaggedLine(id, {
          type: "ERR",
          code: error.code,
          text: error.message,
        }),
      );
    }
  }

  /**
   * Whether this member may speak: while a mute applies, throws `ERR muted`
   * (or, with `raise` false, returns false). Only a member that was told a
   * mute might apply looks it up, so speaking costs nothing otherwise.
   */
  #checkMute(raise = true): boolean {
    if (!this.#muted) return true;
    const mute = this.#chat.gate.sanctionFor(
      "mute",
      { account: this.account, host: this.host },
      this.operator,
    );
    if (mute === null) {
      this.#muted = false;
      return true;
    }
    if (!raise) return false;
    throw new ProtocolError("muted", `You are muted ${describeSanction(mute)}`);
  }
}

/** `@`, which starts a line that carries its id. */
const AT = 0x40;

/**
 * The text of a line that is plain chat (valid UTF-8, not starting with a
 * single `/`): it goes through the room log and gets no answer of its own.
 * With `ids`, a line with an id is plain chat when what follows the id is,
 * and shows something (else it gets an answer of its own). Null for
 * anything else.
 */
export function plainChat(line: InboundLine, ids: boolean): string | null {
  let text: string;
  if (typeof line === "string") {
    text = line;
  } else if (line instanceof Uint8Array) {
    if (isCommand(line)) return null;
    try {
      text = decodeLine(line);
    } catch {
      return null; // answered with ERR bad-utf8
    }
    if (!ids || line[0] !== AT) return text;
  } else {
    return null;
  }
  let chat = text;
  if (ids && text.startsWith(LINE_ID_PREFIX)) {
    try {
      chat = splitLineId(text).rest;
    } catch {
      return null; // answered with ERR usage
    }
    if (isBlank(sanitizeText(chat))) return null; // answered with ERR usage
  }
  return isCommand(chat) ? null : text;
}
