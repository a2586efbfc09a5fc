/**
 * The WebSocket door's {@linkcode Connection}: one text message is one line
 * (a message holding line feeds is several), and each line the server sends
 * is one text message. The same limits as the TLS door hold: a line longer
 * than `maxLineBytes` is reported as {@linkcode LINE_TOO_LONG}, a message
 * longer than the door's `maxMessageBytes` (`--max-skip-bytes`) is refused
 * by the WebSocket layer before it is
 * buffered and ends the connection as {@linkcode LINE_ENDLESS}, a message
 * that arrives while the session is not waiting for one stops reading from
 * the TCP socket until the session has taken every message held (one read
 * of the engine's, up to 64 KiB, is held then; what still arrives beyond
 * `maxInputBytes` ends the connection as a flood), and the outbound queue
 * is capped at `queueBytes`. Sessions cannot tell it from a TLS connection.
 *
 * The `ws` package reads (frames, masks, pings, the close handshake); lines
 * go out as frames built here and written through an {@linkcode Outbox} on
 * the socket under it, like a TLS member's: one write per batch, not one
 * per line, and each line framed once for every member it goes to.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import type { Clock } from "../../clock.ts";
import { LINE_ENDLESS, LINE_TOO_LONG } from "../../framing.ts";
import {
  type CloseOptions,
  type Connection,
  type ConnectionInfo,
  type InboundLine,
  InputOverflowError,
  type QueueWatcher,
  type SendOptions,
} from "../room/connection.ts";
import { Outbox } from "./outbox.ts";
import { TcpReading } from "./node_socket.ts";

/** Options of {@linkcode WsConnection}. */
export interface WsConnectionOptions {
  readonly maxLineBytes: number;
  /**
   * Bytes of messages that may still arrive after reading stopped (see
   * the module documentation) before the connection ends as a flood.
   */
  readonly maxInputBytes: number;
  /** Bytes the socket may hold for the peer before it counts as slow. */
  readonly queueBytes: number;
  /** Longest a goodbye may take before the connection is dropped. */
  readonly closeGraceMs: number;
  /** The door's framer, shared by its connections. */
  readonly framer: TextFramer;
  readonly clock: Clock;
}

const LF = 0x0a;
const CR = 0x0d;
/** What one received message costs beyond its bytes (counted as held). */
const MESSAGE_OVERHEAD_BYTES = 64;

/** `ws` reports a message over its `maxPayload` with this code. */
const TOO_BIG = "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH";

/**
 * What this door uses of a `ws` WebSocket (the package ships no types; its
 * API is stable across 8.x).
 */
export interface WebSocket {
  readonly OPEN: number;
  readonly readyState: number;
  on(event: "message", listener: (data: Buffer) => void): void;
  on(
    event: "error",
    listener: (error: Error & { code?: string }) => void,
  ): void;
  on(event: "close", listener: () => void): void;
  close(code: number): void;
  terminate(): void;
}

/** A WebSocket from the `ws` package, opened, as whole lines. */
export class WsConnection implements Connection {
  readonly info: ConnectionInfo;
  #ws: WebSocket;
  #options: WsConnectionOptions;
  /** Messages received and not yet handed to the session. */
  #inbox: Buffer[] = [];
  #wake: (() => void) | null = null;
  #reading: TcpReading;
  /** Reads of the socket so far (the engine's, up to 64 KiB each). */
  #reads = 0;
  /**
   * The read in which a message came that nobody was waiting for, and
   * reading stopped; -1 while reading.
   */
  #stoppedAt = -1;
  /** Bytes of messages from later reads (the engine did not stop). */
  #lateBytes = 0;
  #ended = false;
  #endless = false;
  #failure: unknown = null;
  #closing = false;
  #closed: Promise<void> | null = null;
  #gone = Promise.withResolvers<void>();
  #outbox: Outbox;

  /**
   * Wraps an open WebSocket of a client (its address, and its certificate
   * when the door asked for one), and the socket it runs on (lines are
   * written there, as frames).
   */
  constructor(
    ws: WebSocket,
    socket: Duplex,
    client: Omit<ConnectionInfo, "door">,
    options: WsConnectionOptions,
  ) {
    this.#ws = ws;
    this.#options = options;
    this.#reading = new TcpReading(socket);
    // Before `ws` parses it: which read a message comes from.
    socket.prependListener("data", () => this.#reads++);
    this.#outbox = new Outbox(
      {
        write: (bytes) =>
          new Promise((resolve, reject) =>
            socket.write(
              bytes,
              (error) => error ? reject(error) : resolve(bytes.length),
            )
          ),
      },
      options.queueBytes,
      () => ws.terminate(),
    );
    this.info = { door: "websocket", ...client };
    ws.on("message", (data: Buffer) => this.#receive(data));
    ws.on("error", (error: Error & { code?: string }) => {
      if (error.code === TOO_BIG) this.#endless = true;
      else this.#failure ??= error;
      this.#notify();
    });
    ws.on("close", () => {
      this.#ended = true;
      this.#gone.resolve();
      this.#notify();
    });
  }

  async *lines(): AsyncGenerator<Iterable<InboundLine>> {
    while (!this.#closing) {
      if (this.#inbox.length > 0) {
        const batch = this.#inbox;
        this.#inbox = [];
        yield this.#split(batch);
        continue;
      }
      if (this.#endless) {
        yield [LINE_ENDLESS];
        return;
      }
      if (this.#failure !== null) throw this.#failure;
      if (this.#ended) return;
      this.#stoppedAt = -1;
      this.#lateBytes = 0;
      this.#reading.start();
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  send(line: Uint8Array, options?: SendOptions): boolean {
    if (this.#closing || this.#ws.readyState !== this.#ws.OPEN) return true;
    return this.#outbox.push(this.#options.framer.frame(line), options);
  }

  get queued(): number {
    return this.#outbox.queuedBytes;
  }

  watchQueue(watcher: QueueWatcher): void {
    this.#outbox.watch(watcher);
  }

  close(last?: Uint8Array, _options?: CloseOptions): Promise<void> {
    this.#closed ??= this.#goodbye(last);
    return this.#closed;
  }

  abort(): void {
    this.#closing = true;
    this.#ws.terminate();
    this.#notify();
  }

  #receive(data: Buffer): void {
    if (this.#closing || this.#failure !== null) return;
    // `ws` hands over views into the chunk it read: a small message kept
    // as it is would keep the whole chunk alive. Each message also costs
    // its bookkeeping, so even empty ones count.
    const own = data.length * 4 < data.buffer.byteLength
      ? Buffer.from(data)
      : data;
    if (this.#wake === null) {
      if (this.#stoppedAt === -1) {
        // Nobody is waiting for it: TCP pushes back from here on. The
        // rest of this read is held too.
        this.#stoppedAt = this.#reads;
        this.#reading.stop();
      } else if (this.#reads > this.#stoppedAt) {
        // The engine did not stop: the flood ends here.
        this.#lateBytes += own.length + MESSAGE_OVERHEAD_BYTES;
        if (this.#lateBytes > this.#options.maxInputBytes) {
          this.#failure ??= new InputOverflowError(
            this.#options.maxInputBytes,
          );
          this.#inbox = [];
          this.#notify();
          return;
        }
      }
    }
    this.#inbox.push(own);
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** The lines of received messages: each message, split at line feeds. */
  *#split(batch: readonly Buffer[]): Generator<InboundLine> {
    const { maxLineBytes } = this.#options;
    for (const data of batch) {
      let start = 0;
      while (true) {
        if (this.#closing) return;
        const lf = data.indexOf(LF, start);
        const end = lf === -1 ? data.length : lf;
        // A message ending in a line feed has no empty line after it.
        if (lf === -1 && start === data.length && start > 0) break;
        let line: Uint8Array = data.subarray(start, end);
        if (line[line.length - 1] === CR) line = line.subarray(0, -1);
        yield line.length > maxLineBytes ? LINE_TOO_LONG : line;
        if (lf === -1) break;
        start = lf + 1;
      }
    }
  }

  async #goodbye(last: Uint8Array | undefined): Promise<void> {
    this.#closing = true;
    this.#notify();
    // The peer's close frame must get through.
    this.#reading.start();
    const { clock, closeGraceMs } = this.#options;
    let timer: number | undefined;
    const late = new Promise<void>((resolve) => {
      timer = clock.setTimeout(resolve, closeGraceMs);
    });
    if (this.#ws.readyState === this.#ws.OPEN) {
      if (last) {
        this.#outbox.push(this.#options.framer.frame(last), { force: true });
      }
      await Promise.race([this.#outbox.drained(), late]);
      // The close frame after what was queued.
      if (this.#ws.readyState === this.#ws.OPEN) this.#ws.close(1000);
    }
    await Promise.race([this.#gone.promise, late]);
    clock.clearTimeout(timer);
    this.#ws.terminate();
  }
}

/**
 * Frames lines for the WebSockets of one door, remembering the last line
 * and its frame: a broadcast reaches every member of the door as one frame,
 * framed once. One per door (it is the door's, not the module's).
 */
export class TextFramer {
  #line: Uint8Array | null = null;
  #frame: Uint8Array = new Uint8Array(0);

  /** The frame of `line`: the last one made when `line` is the same. */
  frame(line: Uint8Array): Uint8Array {
    if (this.#line !== line) {
      this.#frame = textFrame(line);
      this.#line = line;
    }
    return this.#frame;
  }
}

/**
 * A server-to-client text frame (unmasked, RFC 6455 section 5.2) holding an
 * encoded line without its LF. The frame is a buffer of its own: a queue
 * that holds it pins nothing shared.
 */
export function textFrame(line: Uint8Array): Uint8Array {
  const length = line.length - 1;
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = new Uint8Array(header + length);
  frame[0] = 0x81; // FIN, text
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  frame.set(line.subarray(0, length), header);
  return frame;
}
