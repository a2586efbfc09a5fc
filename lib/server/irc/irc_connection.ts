/**
 * The IRC door's {@linkcode Connection}: a translator over the TLS door's
 * connection (lines of 512 bytes plus 8191 of tags), so that an unchanged
 * session (told `/cap ids rooms seq notice` first) serves an IRC client, which
 * sees IRC (`registration.ts`, `inbound.ts`, `outbound.ts`). What the
 * session says once it took the alias and before the client ended
 * registration is held (at most the queue's limit) until 001 to 005; the
 * door's own answers to the client's lines (`PONG`, `CAP`) are not. The
 * door paces an IRC client (it does not know the server's flood limits)
 * as the terminal client paces itself: every line it sends, and every
 * line more the door hands the session (a channel's names), takes a token
 * of a bucket like the session's; without one, the door reads nothing
 * more until it has one (TCP pushes back), so the session never throttles
 * an IRC client, nor drops it for a burst such as a channel sync's.
 *
 * @module
 */

import { type Clock, sleep } from "../../clock.ts";
import { pacingBucket, type TokenBucket } from "../../flood.ts";
import { LINE_ENDLESS, LINE_TOO_LONG } from "../../framing.ts";
import { parseServerLine } from "../../server_lines.ts";
import type {
  CloseOptions,
  Connection,
  ConnectionInfo,
  InboundLine,
  QueueWatcher,
  SendOptions,
} from "../room/connection.ts";
import { translateIn } from "./inbound.ts";
import { inOrder, type OrderedSink } from "./in_order.ts";
import { translateOut } from "./outbound.ts";
import {
  formatIrcLines,
  type IrcMessage,
  parseIrcLine,
  tooLong,
} from "./parse.ts";
import {
  completeRegistration,
  registrationCommand,
  registrationLine,
} from "./registration.ts";
import {
  certificateName,
  type IrcConnectionOptions,
  IrcInfo,
  type IrcSink,
  IrcState,
} from "./state.ts";
import { SharedLines, sharedSpeaker } from "./shared_lines.ts";
import { DueLines } from "./due_lines.ts";
import { nickOf } from "./names.ts";

const DONE: IteratorReturnResult<undefined> = Object.freeze({
  done: true,
  value: undefined,
});

/**
 * Lines a client may send before it is registered that the door answers
 * itself (`CAP`, `AUTHENTICATE`, `PING`, ...), free of flood tokens: more
 * is not a client registering.
 */
const EARLY_LINES = 100;

/** What a session is told first: the capabilities the door relies on. */
const CAPS_LINE = "/cap ids rooms seq notice";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
/** The session's lines: UTF-8 it made itself. */
const lenient = new TextDecoder();

/** An IRC client, as a native connection. */
export class IrcConnection
  implements Connection, AsyncIterableIterator<Iterable<InboundLine>> {
  readonly info: ConnectionInfo;
  #inner: Connection;
  #source: AsyncIterator<Iterable<InboundLine>>;
  /** The inner connection's read in progress, kept across wake-ups. */
  #next: Promise<IteratorResult<Iterable<InboundLine>>> | null = null;
  /** Lines for the session, not yet read by it, and when each is due. */
  #toSession = new DueLines();
  #wake: PromiseWithResolvers<undefined> | null = null;
  #state: IrcState;
  #sink: IrcSink;
  /** `#sink` for the door's commands: answers in the order asked. */
  #ordered: OrderedSink;
  /** Lines held until registration ends, and their bytes. */
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  #queueBytes: number;
  /** The last `send` found the queue full. */
  #full = false;
  /** A client's line is being answered: nothing of it is held. */
  #answering = false;
  #options: SendOptions | undefined;
  #ended = false;
  /** The client's batch being taken in, a line at a time. */
  #batch: Iterator<InboundLine> | null = null;
  /** A client's line waiting for its token, and how long. */
  #deferred: InboundLine | null = null;
  #waitMs = 0;
  #bucket: TokenBucket;
  #clock: Clock;
  /** Aborted once closing: a pacing wait ends. */
  #stop = new AbortController();
  /** Lines answered at the door before registration. */
  #unregistered = 0;
  /** IRC messages made for the client so far (the door's answers counted). */
  #said = 0;
  #shared: SharedLines;
  /** The IRC lines of the line being translated, kept to share them. */
  #capture: Uint8Array[] | null = null;
  /** The variant of the lines captured. */
  #variant = 0;

  /** Translates `inner`, a TLS connection of the IRC port. */
  constructor(inner: Connection, options: IrcConnectionOptions) {
    this.#inner = inner;
    this.info = new IrcInfo(inner.info);
    this.#source = inner.lines()[Symbol.asyncIterator]();
    this.#queueBytes = options.queueBytes;
    this.#shared = options.shared ?? new SharedLines();
    this.#clock = options.clock;
    const { floodRate, floodBurst, clock } = options;
    // Under the session's own, as the terminal client paces: the session
    // takes its tokens later than the door, so its bucket may hold less.
    this.#bucket = pacingBucket(floodRate, floodBurst, () => clock.now());
    this.#bucket.take(); // CAPS_LINE's
    this.#toSession.push(CAPS_LINE);
    this.#state = new IrcState(
      options.settings,
      certificateName(inner.info.certificate),
    );
    this.#sink = {
      irc: (message) => this.#sendIrc(message),
      native: (line) => this.#hand(line),
      close: (text) => void this.#goodbye(text),
    };
    this.#ordered = inOrder(this.#state, this.#sink);
  }

  lines(): AsyncIterableIterator<Iterable<InboundLine>> {
    return this;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Iterable<InboundLine>> {
    return this;
  }

  /**
   * The next lines for the session: the door's own, or the client's next
   * lines translated, each once it has its token (reading stops while the
   * session does not ask, and while a line waits for its token).
   */
  async next(): Promise<IteratorResult<Iterable<InboundLine>, undefined>> {
    for (;;) {
      // Lines handed to the session wait for their tokens too.
      if (this.#waitMs > 0) {
        const ms = this.#waitMs;
        this.#waitMs = 0;
        if (!await sleep(this.#clock, ms, this.#stop.signal)) return DONE;
      }
      if (this.#toSession.length > 0) {
        // Only the lines whose tokens are due: a burst waits its turn.
        const due = this.#toSession.due(this.#clock.now());
        if (typeof due !== "number") return { done: false, value: due };
        if (!await sleep(this.#clock, due, this.#stop.signal)) return DONE;
        continue;
      }
      const line = this.#nextLine();
      if (line !== null) {
        this.#fromClient(line);
        continue;
      }
      if (this.#waitMs > 0) continue;
      if (this.#ended) return DONE;
      this.#next ??= this.#source.next();
      this.#wake = Promise.withResolvers();
      const got = await Promise.race([this.#next, this.#wake.promise]);
      this.#wake = null;
      if (got === undefined) continue;
      this.#next = null;
      if (got.done) this.#ended = true;
      else this.#batch = got.value[Symbol.iterator]();
    }
  }

  /**
   * The client's next line that has its token; null when the batch is
   * done, or when the line must wait (`#waitMs`) first.
   */
  #nextLine(): InboundLine | null {
    const deferred = this.#deferred;
    if (deferred !== null) {
      this.#deferred = null;
      return deferred;
    }
    const next = this.#batch?.next();
    if (next === undefined || next.done) {
      this.#batch = null;
      return null;
    }
    // Before registration only what reaches the session costs a token.
    const waitMs = this.#state.registered ? this.#bucket.take() : 0;
    if (waitMs === 0) return next.value;
    this.#deferred = next.value;
    this.#waitMs = waitMs;
    return null;
  }

  /** The session stopped reading: nothing to release here. */
  return(): Promise<IteratorResult<Iterable<InboundLine>, undefined>> {
    return Promise.resolve(DONE);
  }

  /**
   * One line from the client (its token taken once registered), translated,
   * or refused (417); each line more it hands the session, and each answer
   * more the door gives itself (one per bad channel of a `JOIN`, per mode of
   * a `MODE`), takes a token too: the next line waits. Before registration,
   * the lines the door answers itself (`CAP`, `AUTHENTICATE`, ...) take
   * none, but at most {@linkcode EARLY_LINES}.
   */
  #fromClient(line: InboundLine): void {
    const handed = this.#toSession.length;
    const registered = this.#state.registered;
    // Answers held behind pending requests (`in_order.ts`) count as said.
    const said = () => this.#said + this.#state.held;
    const before = said();
    this.#full = false;
    this.#answering = true;
    this.#translate(line);
    this.#answering = false;
    this.#release();
    this.#pay(registered ? handed + 1 : handed);
    if (registered) {
      for (let i = said() - before - 1; i > 0; i--) this.#bucket.take();
    }
    // A client that reads not even the door's own answers: as slow.
    if (this.#full) return void this.#goodbye("Too slow: not reading (slow)");
    const answered = this.#toSession.length === handed;
    if (!registered && answered && ++this.#unregistered > EARLY_LINES) {
      void this.#goodbye("Too many lines before registration");
    }
  }

  /** A line for the session, due now unless {@linkcode #pay} says later. */
  #hand(line: InboundLine): void {
    this.#toSession.push(line);
    this.#wake?.resolve(undefined);
  }

  /** Lines handed the session from `from` on: each due once its token is. */
  #pay(from: number): void {
    if (from === this.#toSession.length) return; // none (most room lines)
    this.#toSession.pay(from, this.#clock.now(), () => this.#bucket.take());
  }

  #translate(line: InboundLine): void {
    if (line === LINE_ENDLESS) return this.#hand(line);
    const state = this.#state;
    if (line === LINE_TOO_LONG) {
      return this.#sendIrc(state.numeric("417", "Input line was too long"));
    }
    let text: string;
    try {
      text = typeof line === "string" ? line : decoder.decode(line);
    } catch {
      return this.#sendIrc(state.notice("Line dropped: not valid UTF-8"));
    }
    if (tooLong(text)) {
      return this.#sendIrc(state.numeric("417", "Input line was too long"));
    }
    const message = parseIrcLine(text);
    if (message === null) return;
    if (!registrationCommand(state, message, this.#sink)) {
      translateIn(state, message, this.#ordered);
    }
  }

  /** Translates a native line of the session for the client. */
  send(line: Uint8Array, options?: SendOptions): boolean {
    const state = this.#state;
    // Another member's message: another IRC member may have translated it
    // (not while a history batch is open here: its lines carry the batch).
    const variant = state.caps.has("server-time") ? 1 : 0;
    const shareable = state.registered && options?.room === true &&
      state.batch === null;
    const shared = shareable
      ? this.#shared.get(line, variant, state.nick)
      : undefined;
    if (shared !== undefined) {
      let sent = true;
      for (const bytes of shared) {
        sent = this.#inner.send(bytes, options) && sent;
      }
      return sent;
    }
    const text = lenient.decode(line).replace(/\r?\n$/, "");
    const speaker = shareable ? sharedSpeaker(text) : null;
    if (speaker !== null && nickOf(speaker) !== state.nick) {
      this.#capture = [];
      this.#variant = variant;
    }
    const handed = this.#toSession.length;
    this.#full = false;
    this.#options = options;
    const native = this.#state.registered
      ? undefined
      : parseServerLine(text.replace(/^@\S* /, ""));
    if (
      native === undefined ||
      !registrationLine(this.#state, native, this.#sink)
    ) {
      translateOut(this.#state, text, this.#sink);
    }
    this.#options = undefined;
    if (this.#capture !== null) {
      this.#shared.set(line, variant, nickOf(speaker!), this.#capture);
      this.#capture = null;
    }
    this.#release();
    this.#pay(handed);
    return !this.#full;
  }

  /** An IRC line to the client (the session's held until registration). */
  #sendIrc(message: IrcMessage): void {
    this.#said++;
    for (const text of formatIrcLines(message)) this.#sendText(text);
  }

  #sendText(text: string): void {
    const capture = this.#capture;
    const bytes = capture === null
      ? encoder.encode(text + "\r\n")
      : this.#shared.encode(this.#variant, text);
    const state = this.#state;
    if (state.welcomed && !state.registered && !this.#answering) {
      this.#heldBytes += bytes.length;
      if (this.#heldBytes > this.#queueBytes) this.#full = true;
      else this.#held.push(bytes);
      return;
    }
    capture?.push(bytes);
    if (!this.#inner.send(bytes, this.#options)) this.#full = true;
  }

  /** Once registered, what was held goes out. */
  #release(): void {
    completeRegistration(this.#state, this.#sink);
    if (!this.#state.registered || this.#held.length === 0) return;
    for (const bytes of this.#held.splice(0)) {
      if (!this.#inner.send(bytes)) this.#full = true;
    }
    this.#heldBytes = 0;
  }

  /** Its TLS connection's queue, and what registration holds back. */
  get queued(): number {
    return this.#inner.queued + this.#heldBytes;
  }

  watchQueue(watcher: QueueWatcher): void {
    this.#inner.watchQueue(watcher);
  }

  /** The goodbye: the session's last line (`BYE`) as `ERROR`. */
  close(last?: Uint8Array, options?: CloseOptions): Promise<void> {
    const bye = last === undefined
      ? undefined
      : parseServerLine(lenient.decode(last).trimEnd());
    if (bye?.type !== "BYE") {
      this.#stop.abort();
      return this.#inner.close(undefined, options);
    }
    return this.#goodbye(`${bye.text} (${bye.reason})`, options);
  }

  #goodbye(text: string, options?: CloseOptions): Promise<void> {
    this.#stop.abort();
    const error = formatIrcLines({
      command: "ERROR",
      params: [`Closing link: ${text}`],
    });
    return this.#inner.close(encoder.encode(`${error[0]}\r\n`), options);
  }

  abort(): void {
    this.#stop.abort();
    this.#inner.abort();
  }
}
