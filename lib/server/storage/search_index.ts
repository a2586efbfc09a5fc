/**
 * The full-text index of what was said in the rooms, as the server's thread
 * sees it: a worker (`index_worker.js`, run from a blob as `checkpoints.ts`
 * runs its own) that owns the index's database, `search.db` beside
 * `chat.db`, so that writing the index never holds `chat.db`'s write lock
 * nor the event loop. This side only posts: lines to add (structured
 * clones), finds, deletions, trimming. Every message is answered once, in
 * the order posted, and kept until answered: a worker that ends (an error,
 * a crash) is logged and another started after a wait that grows while
 * they keep ending, which opens the file (made again when damaged or of
 * another epoch), catches up from `chat.db`, and is posted again whatever
 * was not answered but finds: those are answered with an error at once, as
 * is a find the worker has not answered within `searchTimeoutMs` (a
 * member's `/search` waits for no worker; its answer is then dropped).
 * Private messages never reach it (they are not room events).
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import chatSource from "./index_chat.js" with { type: "text" };
import workerSource from "./index_worker.js" with { type: "text" };

/** Name of the index's file in the data directory. */
export const SEARCH_FILE = "search.db";

/** A message or action, as the index keeps it (rowid: its number). */
export interface IndexedLine {
  readonly seq: number;
  readonly time: number;
  /** As the event names it; `""`: the default room. */
  readonly room: string;
  readonly kind: "MSG" | "ME";
  readonly alias: string;
  readonly text: string;
}

/** What retention keeps the log to, for an index that trims itself. */
export interface TrimBounds {
  readonly keepRows: number;
  readonly keepDays: number;
  readonly now: number;
}

/** What a worker says once it opened the index. */
export interface IndexOpened {
  /** The file was made again (new, damaged, of another epoch). */
  readonly rebuilt: boolean;
  /** The highest number it holds, after catching up. */
  readonly last: number;
  /**
   * The nice value the worker runs at: 19 (in the background) when the
   * server may set it, else 0 (as the server's thread).
   */
  readonly nice: number;
}

/** Options of {@linkcode SearchIndex}. */
export interface SearchIndexOptions {
  /** The index's file; null: in the worker's memory (tests). */
  readonly path: string | null;
  /** The log's epoch now (asked again at each worker's start). */
  readonly epoch: () => string;
  /**
   * `chat.db`, which each worker's start catches up from (one server); null:
   * none (a cluster's index, numbered as the stream).
   */
  readonly chat: string | null;
  /** Rows of `chat.db` taken at most when catching up. @default {100_000} */
  readonly catchUpLimit?: number;
  readonly clock: Clock;
  /** Told when a worker ended, and why. */
  readonly onError?: (error: unknown) => void;
  /**
   * Longest a find waits for its answer before it fails.
   * @default {5_000}
   */
  readonly searchTimeoutMs?: number;
  /** Told each time a worker opened the index (tests). */
  readonly onOpen?: (opened: IndexOpened) => void;
  /** The worker's program (tests wrap it). @default {index_worker.js} */
  readonly source?: string;
}

type Message =
  | { readonly op: "add"; readonly lines: readonly IndexedLine[] }
  | {
    readonly op: "find";
    readonly match: string;
    readonly limit: number;
    readonly since: readonly (readonly [string, number])[];
  }
  | {
    readonly op: "delete";
    readonly seqs: readonly number[];
    readonly through: number;
  }
  | ({ readonly op: "trim" } & TrimBounds)
  | { readonly op: "clear"; readonly epoch: string }
  | { readonly op: "behind"; readonly seq: number }
  | { readonly op: "caughtUp"; readonly rest: number | null }
  | {
    readonly op: "fill";
    readonly from: number;
    readonly through: number;
    readonly rest: number | null;
  }
  | { readonly op: "close" };

/**
 * What the first worker says, and the first number the index may lack
 * (dropped lines; in a cluster, what followed its last line): null, none.
 */
export type FirstOpened = IndexOpened & { readonly behind: number | null };

interface Answer extends Partial<FirstOpened> {
  readonly op: "opened" | "done";
  readonly lines?: IndexedLine[];
  readonly filled?: boolean;
  readonly error?: string;
}

interface Sent {
  readonly message: Message;
  /** Answers once (a find that timed out is answered before the worker). */
  readonly done: (answer: Answer) => void;
  /** A find's deadline. */
  readonly timer?: number;
}

/** The answer to what no worker will answer. */
const STOPPED: Answer = { op: "done", error: "the search index stopped" };
/** The answer to a find not answered in time. */
const LATE: Answer = {
  op: "done",
  error: "the search index did not answer in time",
};

/** About how much memory `line` holds while it waits (its text's length). */
export function lineBytes(line: IndexedLine): number {
  return 64 + 2 * (line.text.length + line.alias.length + line.room.length);
}

/** A blob URL for the program `source`. */
const script = (source: string): string =>
  URL.createObjectURL(new Blob([source], { type: "text/javascript" }));

/** Longest wait before another worker starts, after many ended. */
const MAX_RESTART_MS = 30_000;

/** The index in its worker (see the module). */
export class SearchIndex {
  #options: SearchIndexOptions;
  #url: string;
  /** `index_chat.js`, which the worker imports. */
  #chatUrl: string;
  #worker: Worker | null = null;
  /** Posted and not answered yet, oldest first. */
  #sent: Sent[] = [];
  #lines = 0;
  #bytes = 0;
  #finds = 0;
  /** Workers that ended since one last answered. */
  #ended = 0;
  #restart: number | undefined;
  #closing = false;
  #opened = Promise.withResolvers<FirstOpened>();
  /**
   * A worker opened the index and followed `chat.db` (cutting what a
   * restored backup no longer holds): later ones start mid-run.
   */
  #followed = false;

  /** Starts the worker on the index `options` name. */
  constructor(options: SearchIndexOptions) {
    this.#options = options;
    // Run as plain JavaScript: `deno task check` checks the file, and
    // `deno test` would check each blob again (a second at each start).
    const source = (options.source ?? workerSource)
      .replace("// @ts-check", "");
    this.#url = script(source);
    this.#chatUrl = script(chatSource.replace("// @ts-check", ""));
    this.#start();
  }

  /** Lines posted and not written yet. */
  get unwritten(): number {
    return this.#lines;
  }

  /** Their size ({@linkcode lineBytes}). */
  get unwrittenBytes(): number {
    return this.#bytes;
  }

  /** Finds posted and not answered by a worker yet (timed out or not). */
  get finding(): number {
    return this.#finds;
  }

  /** Adds `lines` (one transaction). */
  add(lines: readonly IndexedLine[]): void {
    if (lines.length > 0) this.#post({ op: "add", lines });
  }

  /**
   * The newest `limit` lines matching `match` (`search_query.ts`), newest
   * first, once everything posted before is written; of a room `since`
   * names (by stored name), only those numbered above its bound.
   */
  async find(
    match: string,
    limit: number,
    since: ReadonlyMap<string, number> = new Map(),
  ): Promise<IndexedLine[]> {
    const answer = await this.#ask(
      { op: "find", match, limit, since: [...since] },
      this.#options.searchTimeoutMs ?? 5_000,
    );
    if (answer.error !== undefined) throw new Error(answer.error);
    return answer.lines ?? [];
  }

  /**
   * Deletes the lines numbered `seqs` (retention deleted them), and records
   * that it was told of the tombstones through id `through`
   * (`lastTombstone`): a worker that opens deletes those after it.
   */
  delete(seqs: readonly number[], through: number): void {
    this.#post({ op: "delete", seqs, through });
  }

  /** Keeps itself to `bounds` (a cluster's index: see `Retention.alsoTrim`). */
  trim(bounds: TrimBounds): void {
    const { keepRows, keepDays, now } = bounds;
    this.#post({ op: "trim", keepRows, keepDays, now });
  }

  /**
   * Records that the line numbered `seq` and maybe later ones were not
   * indexed (dropped: too many waiting): the next worker to open takes
   * them again from `chat.db` (one server).
   */
  behind(seq: number): void {
    this.#post({ op: "behind", seq });
  }

  /**
   * Takes again from `chat.db` the lines numbered `from` through `through`
   * it does not hold (left out: too many waiting), once `chat.db` holds
   * them all; `rest`: the first number of the gap left for a later fill
   * (null: none). Whether it did: false, not yet (or the worker ended);
   * null, it failed (told to `onError`; the next start takes the gap up).
   * A cluster's index, without `chat.db`, leaves them out: true.
   */
  async fill(
    from: number,
    through: number,
    rest: number | null,
  ): Promise<boolean | null> {
    const answer = await this.#ask({ op: "fill", from, through, rest })
      .catch(() => STOPPED);
    if (answer === STOPPED) return false; // the worker ended (no deadline)
    if (answer.error === undefined) return answer.filled === true;
    this.#options.onError?.(new Error(answer.error));
    return null;
  }

  /**
   * Records, once everything posted before is written, that it holds every
   * line it lacked (`rest` null), or every one before `rest`; whether it
   * did (false: the worker ended, or the index closed).
   */
  caughtUp(rest: number | null): Promise<boolean> {
    return this.#ask({ op: "caughtUp", rest })
      .then((answer) => answer.error === undefined, () => false);
  }

  /** What the first worker said once it opened the index (see the type). */
  get opened(): Promise<FirstOpened> {
    return this.#opened.promise;
  }

  /** Deletes every line: the log's numbering started again, in `epoch`. */
  clear(epoch: string): void {
    this.#post({ op: "clear", epoch });
  }

  /**
   * Waits for what was posted to be written, and stops the worker. Finds
   * left unanswered (a worker that ended meanwhile) fail.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    const last = this.#worker === null ? null : this.#ask({ op: "close" });
    this.#closing = true; // nothing more posted, no other worker
    if (last === null) this.#fail();
    await last;
    this.#stop();
    this.#options.clock.clearTimeout(this.#restart);
    URL.revokeObjectURL(this.#url);
    URL.revokeObjectURL(this.#chatUrl);
  }

  /** Answers what was not answered with an error (no worker will). */
  #fail(): void {
    for (const sent of this.#sent.splice(0)) this.#answer(sent, STOPPED);
  }

  /** Answers the finds not answered with an error, and forgets them. */
  #failFinds(): void {
    const finds = this.#sent.filter((sent) => sent.message.op === "find");
    this.#sent = this.#sent.filter((sent) => sent.message.op !== "find");
    for (const sent of finds) this.#answer(sent, STOPPED);
  }

  /** `sent` is no longer waited for: answered (if it was not yet). */
  #answer(sent: Sent, answer: Answer): void {
    this.#options.clock.clearTimeout(sent.timer);
    this.#count(sent.message, -1);
    sent.done(answer);
  }

  #post(message: Message): void {
    this.#ask(message).catch(() => {});
  }

  #ask(message: Message, timeoutMs?: number): Promise<Answer> {
    if (this.#closing) return Promise.reject(new Error("closed"));
    const { promise, resolve } = Promise.withResolvers<Answer>();
    const timer = timeoutMs === undefined
      ? undefined
      : this.#options.clock.setTimeout(() => resolve(LATE), timeoutMs);
    this.#sent.push({ message, done: resolve, timer });
    this.#count(message, 1);
    this.#worker?.postMessage(message);
    return promise;
  }

  #count(message: Message, sign: 1 | -1): void {
    if (message.op === "find") this.#finds += sign;
    if (message.op !== "add") return;
    this.#lines += sign * message.lines.length;
    for (const line of message.lines) this.#bytes += sign * lineBytes(line);
  }

  #start(): void {
    this.#restart = undefined;
    const worker = new Worker(this.#url, { type: "module" });
    this.#worker = worker;
    worker.onmessage = ({ data }: MessageEvent<Answer>) => {
      if (data.op === "opened") {
        const { rebuilt = false, last = 0, behind = null, nice = 0 } = data;
        if (data.error !== undefined) {
          this.#options.onError?.(new Error(data.error));
        } else this.#followed = true;
        this.#opened.resolve({ rebuilt, last, behind, nice });
        return this.#options.onOpen?.({ rebuilt, last, nice });
      }
      this.#ended = 0;
      const sent = this.#sent.shift();
      if (sent !== undefined) this.#answer(sent, data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#crashed(event.error ?? event.message);
    };
    const { path, chat, catchUpLimit = 100_000 } = this.#options;
    worker.postMessage({
      op: "open",
      path: path ?? ":memory:",
      epoch: this.#options.epoch(),
      chat,
      chatModule: this.#chatUrl,
      catchUpLimit,
      restarted: this.#followed,
    });
    // What the last worker did not answer, in order.
    for (const { message } of this.#sent) worker.postMessage(message);
  }

  /** A worker ended: another one, after a wait (none the first time). */
  #crashed(error: unknown): void {
    this.#stop();
    this.#options.onError?.(error);
    if (this.#closing) return this.#fail();
    this.#failFinds(); // a /search waits for no worker to start
    const waitMs = this.#ended === 0
      ? 0
      : Math.min(MAX_RESTART_MS, 500 * 2 ** (this.#ended - 1));
    this.#ended++;
    this.#restart = this.#options.clock.setTimeout(() => this.#start(), waitMs);
  }

  #stop(): void {
    this.#worker?.terminate();
    this.#worker = null;
  }
}
