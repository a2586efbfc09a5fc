/**
 * One client connection from TLS handshake to close: the greeting, the alias
 * exchange, then one read loop (bounded framing, flood control, commands)
 * and one writer (the member's {@linkcode Outbox}). Every phase has a
 * deadline (handshake, alias, idle, close grace), so no connection lingers
 * silently. A session never throws: whatever happens ends this connection
 * only, with a `BYE` line when one can still be sent.
 *
 * @module
 */

import { delay } from "./async.ts";
import type { ServerConfig } from "./config.ts";
import { LINE_TOO_LONG, LineFramer } from "./framing.ts";
import { TokenBucket } from "./flood.ts";
import type { Logger } from "./log.ts";
import { Outbox } from "./outbox.ts";
import {
  type ByeReason,
  decodeLine,
  encodeServerLine,
  type LeaveReason,
  parseCommand,
  PROTOCOL,
  ProtocolError,
  type ServerLine,
} from "./protocol.ts";
import type { Member, Room } from "./room.ts";
import { type ChatConn, formatAddress } from "./transport.ts";

/** How long a closing connection may take to flush its `BYE` line. */
export const CLOSE_GRACE_MS = 2000;

/**
 * Bytes read at once. An idle member holds this buffer in its pending read,
 * so it is small; longer lines span reads and the framer joins them.
 */
export const READ_BUFFER_BYTES = 1024;

/** Counters shared by all sessions of a server. */
export interface ServerStats {
  accepted: number;
  refused: number;
  handshakeFailures: number;
}

/** What a session needs from its server. */
export interface SessionContext {
  readonly config: ServerConfig;
  readonly room: Room<Session>;
  readonly log: Logger;
  readonly stats: ServerStats;
  readonly now: () => number;
}

type Phase = "handshake" | "alias" | "joined" | "closing";

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
const DISCONNECT_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/** Whether an error from a read or write only means the peer is gone. */
function isDisconnect(error: unknown): boolean {
  if (DISCONNECT_ERRORS.some((kind) => error instanceof kind)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && DISCONNECT_CODES.has(code);
}

/** One client connection; a {@linkcode Member} of the room once joined. */
export class Session implements Member {
  alias = "";
  readonly conn: ChatConn;
  /** Remote `host:port`, for logs. */
  readonly address: string;
  #ctx: SessionContext;
  #outbox: Outbox;
  #framer: LineFramer;
  #bucket: TokenBucket;
  #phase: Phase = "handshake";
  #leaveReason: LeaveReason = "disconnect";
  #leaveText = "";
  #strikes = 0;
  #lastSeenMs: number;
  #pinged = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #released: Promise<void> | null = null;
  /** Aborts a throttling delay on close; made on first use (memory). */
  #closing: AbortController | null = null;
  /** Resolves when the connection is closed and the member has left. */
  readonly finished: Promise<void>;

  /** Starts serving an accepted connection. */
  constructor(conn: ChatConn, context: SessionContext) {
    const { config, now } = context;
    this.conn = conn;
    this.#ctx = context;
    this.address = formatAddress(conn.remoteAddr);
    this.#outbox = new Outbox(conn, config.queueBytes, (error) => {
      this.#logError("write", error);
      this.#closeConn();
    });
    this.#framer = new LineFramer(config.maxLineBytes);
    this.#bucket = new TokenBucket(config.floodRate, config.floodBurst, now);
    this.#lastSeenMs = now();
    this.finished = this.#run();
  }

  /** Queues a line for this member; false means it is too slow (see Room). */
  deliver(line: Uint8Array): boolean {
    if (this.#isClosing()) return true;
    if (this.#outbox.push(line)) return true;
    // The room removes us after its broadcast loop; do not leave here.
    this.close(
      "slow",
      `Disconnected: more than ${this.#ctx.config.queueBytes} bytes were waiting for you to read`,
      "slow",
      { leaveRoom: false },
    );
    return false;
  }

  /**
   * Starts closing: leaves the room (announcing `leave`), sends `BYE`, ends
   * the sending side once the queue is flushed, and closes for good when the
   * peer closes or after {@linkcode CLOSE_GRACE_MS}.
   */
  close(
    reason: ByeReason,
    text: string,
    leave: LeaveReason = "disconnect",
    options: { leaveText?: string; leaveRoom?: boolean } = {},
  ): void {
    if (this.#isClosing()) return;
    const wasHandshaking = this.#phase === "handshake";
    this.#phase = "closing";
    this.#leaveReason = leave;
    this.#leaveText = options.leaveText ?? "";
    this.#closing?.abort();
    if (wasHandshaking) {
      this.#closeConn();
      return;
    }
    if (options.leaveRoom ?? true) {
      this.#ctx.room.leave(this, leave, this.#leaveText);
    }
    if (reason === "slow") this.#outbox.clear();
    this.#outbox.push(encodeServerLine({ type: "BYE", reason, text }), {
      force: true,
    });
    this.#arm(CLOSE_GRACE_MS);
    this.#outbox.drained().then(() => this.#endOutput());
  }

  #isClosing(): boolean {
    return this.#phase === "closing";
  }

  /** Closes the connection at once, without a goodbye (shutdown). */
  abort(): void {
    this.#closeConn();
    this.conn.abort();
  }

  /** Serves the connection until it closes. Never rejects. */
  async #run(): Promise<void> {
    const { config, log, room, stats } = this.#ctx;
    try {
      this.#arm(config.handshakeTimeoutMs);
      try {
        await this.conn.handshake();
      } catch (error) {
        // A timed-out handshake was counted and logged when it timed out.
        if (!this.#isClosing()) {
          stats.handshakeFailures++;
          log.debug("handshake-failed", {
            addr: this.address,
            error: describe(error),
          });
        }
        return;
      }
      if (this.#isClosing()) return;
      this.#phase = "alias";
      this.#send({
        type: "HELLO",
        protocol: PROTOCOL,
        server: config.name,
        text: "Send your alias (1 to 32 letters, digits, _ . -)",
      });
      this.#arm(config.aliasTimeoutMs);
      await this.#readLoop();
    } catch (error) {
      this.#logError("read", error);
    } finally {
      clearTimeout(this.#timer);
      this.#closing?.abort();
      room.leave(this, this.#leaveReason, this.#leaveText);
      this.#closeConn();
      await this.#released;
      log.debug("closed", { addr: this.address });
    }
  }

  async #readLoop(): Promise<void> {
    const { config, now } = this.#ctx;
    const buffer = new Uint8Array(
      Math.min(READ_BUFFER_BYTES, config.maxLineBytes + 2),
    );
    while (true) {
      const n = await this.conn.read(buffer);
      if (n === null) break;
      // While closing, keep reading (and dropping) so that closing does not
      // reset the connection before the peer has read our BYE line.
      if (this.#isClosing()) continue;
      this.#lastSeenMs = now();
      this.#pinged = false;
      for (const line of this.#framer.push(buffer.subarray(0, n))) {
        if (this.#isClosing()) break;
        const waitMs = this.#bucket.take();
        if (waitMs === 0) this.#strikes = 0;
        else if (!await this.#throttle(waitMs)) break;
        this.#handle(line);
      }
    }
    // An unfinished last line is dropped: only LF ends a line.
  }

  /**
   * Delays a line of a client over its rate; returns false when the client
   * has stayed over it for a whole burst and is disconnected.
   */
  async #throttle(waitMs: number): Promise<boolean> {
    const { floodRate, floodBurst } = this.#ctx.config;
    this.#strikes++;
    if (this.#strikes > floodBurst) {
      this.close(
        "flood",
        `Disconnected for flooding: kept sending more than ${floodRate} lines per second`,
        "flood",
        { leaveText: "kicked for flooding" },
      );
      return false;
    }
    if (this.#strikes === 1) {
      this.#sendError(
        new ProtocolError(
          "flood",
          `Slow down: more than ${floodRate} lines per second; your lines are delayed, and you will be disconnected if you keep on`,
        ),
      );
    }
    this.#closing ??= new AbortController();
    const waited = await delay(waitMs, this.#closing.signal);
    return waited && this.#phase !== "closing";
  }

  #handle(bytes: Uint8Array | typeof LINE_TOO_LONG): void {
    try {
      if (bytes === LINE_TOO_LONG) {
        throw new ProtocolError(
          "line-too-long",
          `Line dropped: longer than ${this.#ctx.config.maxLineBytes} bytes`,
        );
      }
      const text = decodeLine(bytes);
      if (this.#phase === "alias") this.#chooseAlias(text);
      else this.#command(text);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#sendError(error);
    }
  }

  #chooseAlias(text: string): void {
    const alias = text.trim();
    if (alias === "/quit" || alias.startsWith("/quit ")) {
      this.close("quit", "Goodbye");
      return;
    }
    const { room, log, config } = this.#ctx;
    room.join(this, alias);
    this.#phase = "joined";
    log.info("join", { alias, addr: this.address, online: room.size });
    this.#arm(config.idleTimeoutMs / 2);
  }

  #command(text: string): void {
    const { room, log } = this.#ctx;
    const command = parseCommand(text);
    switch (command.kind) {
      case "say":
        if (command.text.trim() !== "") room.say(this, command.text);
        return;
      case "me":
        return room.act(this, command.text);
      case "msg":
        return room.whisper(this, command.to, command.text);
      case "nick": {
        const old = this.alias;
        room.rename(this, command.alias);
        log.info("rename", { alias: old, to: this.alias, addr: this.address });
        return;
      }
      case "who":
        return room.who(this);
      case "help":
        return room.help(this);
      case "pong":
        return;
      case "quit":
        return this.close("quit", "Goodbye", "quit", {
          leaveText: command.reason,
        });
    }
  }

  #send(line: ServerLine): void {
    this.deliver(encodeServerLine(line));
  }

  #sendError(error: ProtocolError): void {
    this.#send({ type: "ERR", code: error.code, text: error.message });
  }

  /** (Re)starts the one deadline timer of the current phase. */
  #arm(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = ms > 0 ? setTimeout(() => this.#onDeadline(), ms) : undefined;
  }

  #onDeadline(): void {
    const { config, now } = this.#ctx;
    switch (this.#phase) {
      case "handshake":
        this.#ctx.stats.handshakeFailures++;
        this.#ctx.log.debug("handshake-failed", {
          addr: this.address,
          error: "timeout",
        });
        return this.close("timeout", "TLS handshake took too long");
      case "alias":
        return this.close(
          "timeout",
          `No alias chosen within ${config.aliasTimeoutMs / 1000} s`,
          "timeout",
        );
      case "closing":
        return this.#closeConn();
      case "joined": {
        const idleMs = config.idleTimeoutMs;
        const silentMs = now() - this.#lastSeenMs;
        if (silentMs >= idleMs) {
          return this.close(
            "timeout",
            `Disconnected: silent for ${idleMs / 1000} s`,
            "timeout",
          );
        }
        if (silentMs >= idleMs / 2 && !this.#pinged) {
          this.#pinged = true;
          this.#send({ type: "PING", token: String(now()) });
        }
        const half = idleMs / 2 - silentMs;
        return this.#arm(half > 0 ? half : idleMs - silentMs);
      }
    }
  }

  /** After the BYE line is written: send close_notify and FIN. */
  async #endOutput(): Promise<void> {
    if (this.#released) return;
    try {
      await this.conn.closeWrite();
    } catch {
      // The peer is already gone; the read loop or the grace timer ends it.
    }
  }

  /** Closes the connection once; {@linkcode finished} waits for it. */
  #closeConn(): void {
    this.#released ??= this.conn.close();
  }

  #logError(operation: string, error: unknown): void {
    if (isDisconnect(error)) {
      this.#ctx.log.debug("disconnect", {
        addr: this.address,
        error: describe(error),
      });
    } else {
      this.#ctx.log.error("connection-error", {
        addr: this.address,
        operation,
        error: describe(error),
      });
    }
  }
}

/** One-line description of an error for logs. */
export function describe(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
}
