/**
 * The WebSocket door's {@linkcode Connection}: one text message is one line
 * (a message holding line feeds is several), and each line the server sends
 * is one text message. The same limits as the TLS door hold: a line longer
 * than `maxLineBytes` is reported as {@linkcode LINE_TOO_LONG}, a message
 * longer than `maxSkipBytes` is refused by the WebSocket layer before it is
 * buffered and ends the connection as {@linkcode LINE_ENDLESS}, input the
 * session has not read yet is capped at `maxInputBytes`, and the outbound
 * queue at `queueBytes`. Sessions cannot tell it from a TLS connection.
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
import type { Clock } from "../clock.ts";
import { LINE_ENDLESS, LINE_TOO_LONG } from "../framing.ts";
import type {
  CloseOptions,
  Connection,
  ConnectionInfo,
  InboundLine,
} from "./connection.ts";
import { Outbox } from "./outbox.ts";
import { InputOverflowError } from "./transport.ts";

/** Options of {@linkcode WsConnection}. */
export interface WsConnectionOptions {
  readonly maxLineBytes: number;
  /** Received bytes held while the session is not reading them. */
  readonly maxInputBytes: number;
  /** Bytes the socket may hold for the peer before it counts as slow. */
  readonly queueBytes: number;
  /** Longest a goodbye may take before the connection is dropped. */
  readonly closeGraceMs: number;
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
  pause(): void;
}

/** A WebSocket from the `ws` package, opened, as whole lines. */
export class WsConnection implements Connection {
  readonly info: ConnectionInfo;
  #ws: WebSocket;
  #options: WsConnectionOptions;
  /** Messages received and not yet handed to the session. */
  #inbox: Buffer[] = [];
  #inboxBytes = 0;
  #wake: (() => void) | null = null;
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
        this.#inboxBytes = 0;
        yield this.#split(batch);
        continue;
      }
      if (this.#endless) {
        yield [LINE_ENDLESS];
        return;
      }
      if (this.#failure !== null) throw this.#failure;
      if (this.#ended) return;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  send(line: Uint8Array): boolean {
    if (this.#closing || this.#ws.readyState !== this.#ws.OPEN) return true;
    return this.#outbox.push(textFrame(line));
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
    if (this.#closing) return;
    // `ws` hands over views into the chunk it read: a small message kept
    // as it is would keep the whole chunk alive. Each message also costs
    // its bookkeeping, so even empty ones count.
    const own = data.length * 4 < data.buffer.byteLength
      ? Buffer.from(data)
      : data;
    this.#inbox.push(own);
    this.#inboxBytes += own.length + MESSAGE_OVERHEAD_BYTES;
    if (this.#inboxBytes > this.#options.maxInputBytes) {
      // Not reading while it keeps sending: the flood ends here.
      this.#failure ??= new InputOverflowError(this.#options.maxInputBytes);
      this.#inbox = [];
      this.#inboxBytes = 0;
      this.#ws.pause();
    }
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
    const { clock, closeGraceMs } = this.#options;
    let timer: number | undefined;
    const late = new Promise<void>((resolve) => {
      timer = clock.setTimeout(resolve, closeGraceMs);
    });
    if (this.#ws.readyState === this.#ws.OPEN) {
      if (last) this.#outbox.push(textFrame(last), { force: true });
      await Promise.race([this.#outbox.drained(), late]);
      // The close frame after what was queued.
      if (this.#ws.readyState === this.#ws.OPEN) this.#ws.close(1000);
    }
    await Promise.race([this.#gone.promise, late]);
    clock.clearTimeout(timer);
    this.#ws.terminate();
  }
}

/** The last line framed, and its frame: a broadcast is framed once. */
let framed: { line: Uint8Array; frame: Uint8Array } | null = null;

/**
 * A server-to-client text frame (unmasked, RFC 6455 section 5.2) holding an
 * encoded line without its LF. The frame is a buffer of its own: a queue
 * that holds it pins nothing shared.
 */
export function textFrame(line: Uint8Array): Uint8Array {
  if (framed?.line === line) return framed.frame;
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
  framed = { line, frame };
  return frame;
}
