/**
 * The seam between a door (TLS today, WebSocket next) and a session: a
 * {@linkcode Connection} hands over whole inbound lines and takes whole
 * encoded outbound lines into a bounded queue. It owns framing, queueing and
 * the goodbye, and nothing about the chat: sessions and the room never see
 * sockets or bytes on a wire. Transport facts (which door, the remote
 * address) are read-only {@linkcode ConnectionInfo}. What a door tells its
 * session ({@linkcode InputOverflowError}, {@linkcode QueueWatcher}) is
 * defined here too, and which errors of a connection only mean that the
 * peer went ({@linkcode isDisconnect}), so the room's folder never imports
 * a door.
 *
 * @module
 */

import type { LINE_ENDLESS, LINE_TOO_LONG } from "../../framing.ts";
import type { PeerCertificate } from "../access/accounts.ts";

/** Options of {@linkcode Connection.send}. */
export interface SendOptions {
  /**
   * A line of the room's fan-out: only these count toward the queue's
   * watermark (a member's own replies and history do not).
   * @default {false}
   */
  readonly room?: boolean;
}

/**
 * One inbound line: bytes not yet decoded (TLS), text (WebSocket), or a
 * marker for a line over the length limit ({@linkcode LINE_TOO_LONG}) or one
 * that went on far past it ({@linkcode LINE_ENDLESS}).
 */
export type InboundLine =
  | Uint8Array
  | string
  | typeof LINE_TOO_LONG
  | typeof LINE_ENDLESS;

/**
 * Told how a queue stands against its watermark: `true` when it goes above
 * it, `false` when it is back at or below it (each once per crossing).
 */
export type QueueWatcher = (above: boolean) => void;

/** A peer sent more than a connection may hold unread. */
export class InputOverflowError extends Error {
  /** Creates the error for a limit in bytes. */
  constructor(limitBytes: number) {
    super(`More than ${limitBytes} bytes were received and not yet read`);
    this.name = "InputOverflowError";
  }
}

/** What a session may know about the transport under it. */
export interface ConnectionInfo {
  /** Which door the connection came through. */
  readonly door: "tls" | "websocket" | "irc";
  /** Remote host (address without port), for caps and logs. */
  readonly host: string;
  /** Remote `host:port`, for logs. */
  readonly address: string;
  /**
   * The client's certificate, when the server asked for one (mutual TLS)
   * and the client sent one; null otherwise.
   */
  readonly certificate: PeerCertificate | null;
}

/** Options of {@linkcode Connection.close}. */
export interface CloseOptions {
  /**
   * Wait for the peer to close its side before releasing.
   * @default {true}
   */
  readonly linger?: boolean;
}

/** A line-oriented client connection with a bounded outbound queue. */
export interface Connection {
  readonly info: ConnectionInfo;
  /**
   * Inbound lines in order, for one consumer, in batches of lines that
   * arrived together. Handle each batch synchronously where possible (its
   * lines may be views into a buffer the next batch reuses): replies to a
   * whole batch then go out in one write. Not pulling stops reading from
   * the peer, so TCP pushes back on it. Ends when the peer closes its side
   * or once closing has begun; throws when the connection fails.
   */
  lines(): AsyncIterable<Iterable<InboundLine>>;
  /**
   * Queues an encoded line (ending in LF) without waiting. Returns false,
   * queuing nothing, when the queue is full: the caller decides what a slow
   * consumer deserves. Once closing, lines are dropped and true is returned.
   */
  send(line: Uint8Array, options?: SendOptions): boolean;
  /**
   * Bytes of the lines it has queued and not yet written: a replay sent on
   * top takes no more than half its queue minus these (`Replies.budget`).
   */
  readonly queued: number;
  /**
   * Sets the one watcher of the outbound queue's watermark (half its
   * limit, on the room lines queued): see {@linkcode QueueWatcher}. It
   * hears nothing until what is queued when it is set has been written.
   */
  watchQueue(watcher: QueueWatcher): void;
  /**
   * The goodbye: stops taking lines, queues `last` (if any) whatever the
   * queue's limit, flushes, ends the output, waits for the peer to close (all
   * within the close grace), then releases the connection. With `linger:
   * false` (a peer that is still pouring junk in) it releases the connection
   * as soon as `last` is written. Idempotent; resolves once released.
   */
  close(last?: Uint8Array, options?: CloseOptions): Promise<void>;
  /** Drops the connection at once, queued lines included. */
  abort(): void;
}

/** Errors that mean the peer went away: logged at debug level only. */
const DISCONNECT_ERRORS = [
  Deno.errors.BadResource,
  Deno.errors.BrokenPipe,
  Deno.errors.ConnectionAborted,
  Deno.errors.ConnectionReset,
  Deno.errors.Interrupted,
  Deno.errors.UnexpectedEof,
  Deno.errors.InvalidData,
];
/** `ECANCELED`: a write cancelled because the peer went during shutdown. */
const DISCONNECT_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "ECANCELED",
]);

/**
 * Whether an error from a read or write only means the peer is gone (or,
 * `WS_ERR_*`, broke the WebSocket protocol: its problem, not the server's).
 */
export function isDisconnect(error: unknown): boolean {
  if (DISCONNECT_ERRORS.some((kind) => error instanceof kind)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" &&
    (DISCONNECT_CODES.has(code) || code.startsWith("WS_ERR_"));
}
