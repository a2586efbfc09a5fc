/**
 * One client, as a protocol state machine over a {@linkcode Connection}:
 * the greeting, the alias exchange, then one line at a time (flood control,
 * commands) until it ends. It knows nothing of TLS or sockets, and time
 * comes from an injected {@linkcode Clock}, so it can be tested with a fake
 * connection and a fake clock. Every phase has a deadline (alias, idle), so
 * no session lingers silently. A session never throws: whatever happens ends
 * this session only, with a `BYE` line when one can still be sent.
 *
 * @module
 */

import { type Clock, sleep, type TimerId } from "../clock.ts";
import { LINE_ENDLESS, LINE_TOO_LONG } from "../framing.ts";
import { TokenBucket } from "../flood.ts";
import { describeError, type Logger } from "../log.ts";
import {
  type ByeReason,
  decodeLine,
  encodeServerLine,
  formatHelloParams,
  type LeaveReason,
  parseCommand,
  PROTOCOL,
  ProtocolError,
  type ServerLine,
} from "../protocol.ts";
import type { ServerConfig } from "./config.ts";
import type { Connection, InboundLine } from "./connection.ts";
import type { Member, Room } from "./room.ts";
import { InputOverflowError } from "./transport.ts";

/** What a session needs from its server. */
export interface SessionContext {
  readonly config: ServerConfig;
  readonly room: Room<Session>;
  readonly log: Logger;
  readonly clock: Clock;
  /** A fresh id, unique among the server's sessions. */
  readonly nextId: () => string;
}

type Phase = "alias" | "joined" | "closing";

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

/** Maps a goodbye to how the others hear of it. */
const LEAVE_FOR_BYE: Partial<Record<ByeReason, LeaveReason>> = {
  quit: "quit",
  timeout: "timeout",
  flood: "flood",
  slow: "slow",
  shutdown: "shutdown",
  "line-too-long": "line-too-long",
};

/** One client connection; a {@linkcode Member} of the room once joined. */
export class Session implements Member {
  readonly id: string;
  alias = "";
  readonly conn: Connection;
  /** Resolves when the connection is closed and the member has left. */
  readonly finished: Promise<void>;
  #ctx: SessionContext;
  #bucket: TokenBucket;
  #phase: Phase = "alias";
  #strikes = 0;
  #lastSeenMs: number;
  #pinged = false;
  #timer: TimerId | undefined;
  /** Aborts a throttling wait on close; made on first use (memory). */
  #closing: AbortController | null = null;

  /** Starts serving a connection whose transport is ready (handshaken). */
  constructor(conn: Connection, context: SessionContext) {
    const { config, clock } = context;
    this.id = context.nextId();
    this.conn = conn;
    this.#ctx = context;
    this.#bucket = new TokenBucket(
      config.floodRate,
      config.floodBurst,
      () => clock.now(),
    );
    this.#lastSeenMs = clock.now();
    this.finished = this.#run();
  }

  /** Remote `host:port`, for logs. */
  get address(): string {
    return this.conn.info.address;
  }

  /** Queues a line; false means the queue is full (the room decides). */
  deliver(line: Uint8Array): boolean {
    return this.conn.send(line);
  }

  /**
   * Ends the session: leaves the room if still in it (announced with the
   * matching reason, except at shutdown), sends `BYE reason text` and
   * closes the connection within the close grace. Idempotent.
   */
  close(reason: ByeReason, text: string): void {
    this.#end(reason, text, true);
  }

  /**
   * Ends the session; `linger` false for a peer still pouring junk in, whose
   * connection is released as soon as the `BYE` is written.
   */
  #end(reason: ByeReason, text: string, linger: boolean): void {
    if (this.#phase === "closing") return;
    this.#stop();
    const leave = LEAVE_FOR_BYE[reason];
    if (leave) this.#ctx.room.leave(this, leave);
    this.conn.close(encodeServerLine({ type: "BYE", reason, text }), {
      linger,
    });
  }

  /** Closes the connection at once, without a goodbye (end of shutdown). */
  abort(): void {
    this.#stop();
    this.conn.abort();
  }

  /** Serves the connection until it closes. Never rejects. */
  async #run(): Promise<void> {
    const { config, room } = this.#ctx;
    try {
      this.#send({
        type: "HELLO",
        protocol: PROTOCOL,
        server: config.name,
        params: formatHelloParams({
          rate: config.floodRate,
          burst: config.floodBurst,
          lineBytes: config.maxLineBytes,
        }),
        text: "Send your alias (1 to 32 letters, digits, _ . -)",
      });
      this.#arm(config.aliasTimeoutMs);
      await this.#readLines();
    } catch (error) {
      if (error instanceof InputOverflowError) {
        this.#end(
          "flood",
          "Disconnected for flooding: sending much faster than the server reads",
          false,
        );
      } else {
        this.#logError(error);
      }
    } finally {
      // The peer closed its side or the connection failed: the others hear
      // of a disconnect, and whatever is queued is still flushed.
      if (this.#phase !== "closing") {
        this.#stop();
        room.leave(this, "disconnect");
      }
      await this.conn.close();
    }
  }

  /**
   * Handles lines as they come, a batch at a time: synchronously unless a
   * line must wait for flood control, so that the replies to a whole batch
   * leave in one write.
   */
  async #readLines(): Promise<void> {
    for await (const batch of this.conn.lines()) {
      for (const line of batch) {
        const waitMs = this.#arrive(line);
        if (waitMs < 0) return;
        if (waitMs > 0) {
          this.#strikes++;
          if (!await this.#throttle(waitMs)) return;
        } else {
          this.#strikes = 0;
        }
        this.#handle(line as Exclude<InboundLine, typeof LINE_ENDLESS>);
        if (this.#isClosing()) return;
      }
    }
  }

  /**
   * Notes a line's arrival and takes its flood token: returns how long it
   * must wait (0: none), or -1 when the session is over.
   */
  #arrive(line: InboundLine): number {
    const { config, clock } = this.#ctx;
    if (this.#isClosing()) return -1;
    this.#lastSeenMs = clock.now();
    this.#pinged = false;
    if (line === LINE_ENDLESS) {
      this.#end(
        "line-too-long",
        `Disconnected: a line went on past ${config.maxSkipBytes} bytes`,
        false,
      );
      return -1;
    }
    return this.#bucket.take();
  }

  /** Whether the session is ending (a method, so that checks are not narrowed). */
  #isClosing(): boolean {
    return this.#phase === "closing";
  }

  /**
   * Delays a line of a client over its rate; returns false when the client
   * has stayed over it for a whole burst and is disconnected.
   */
  async #throttle(waitMs: number): Promise<boolean> {
    const { config, clock } = this.#ctx;
    if (this.#strikes > config.floodBurst) {
      this.#ctx.room.leave(this, "flood", "kicked for flooding");
      this.close(
        "flood",
        `Disconnected for flooding: kept sending more than ${config.floodRate} lines per second`,
      );
      return false;
    }
    if (this.#strikes === 1) {
      this.#sendError(
        new ProtocolError(
          "flood",
          `Slow down: more than ${config.floodRate} lines per second; your lines are delayed, and you will be disconnected if you keep on`,
        ),
      );
    }
    this.#closing ??= new AbortController();
    const waited = await sleep(clock, waitMs, this.#closing.signal);
    return waited && !this.#isClosing();
  }

  #handle(line: Exclude<InboundLine, typeof LINE_ENDLESS>): void {
    try {
      if (line === LINE_TOO_LONG) {
        throw new ProtocolError(
          "line-too-long",
          `Line dropped: longer than ${this.#ctx.config.maxLineBytes} bytes`,
        );
      }
      const text = typeof line === "string" ? line : decodeLine(line);
      if (this.#phase === "alias") this.#chooseAlias(text);
      else this.#command(text);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#sendError(error);
    }
  }

  #chooseAlias(text: string): void {
    const alias = text.trim();
    if (alias.startsWith("/")) {
      if (parseCommand(alias).kind === "quit") {
        this.close("quit", "Goodbye");
        return;
      }
      throw new ProtocolError(
        "usage",
        "Choose an alias first: send it as a line of its own",
      );
    }
    const { room, log, config } = this.#ctx;
    room.join(this, alias);
    if (this.#isClosing()) return; // dropped while joining
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
        room.leave(this, "quit", command.reason);
        return this.close("quit", "Goodbye");
    }
  }

  #send(line: ServerLine): void {
    this.conn.send(encodeServerLine(line));
  }

  #sendError(error: ProtocolError): void {
    this.#send({ type: "ERR", code: error.code, text: error.message });
  }

  /** Enters the closing phase: no more timers, no more throttling waits. */
  #stop(): void {
    this.#phase = "closing";
    this.#ctx.clock.clearTimeout(this.#timer);
    this.#closing?.abort();
  }

  /** (Re)starts the one deadline timer of the current phase. */
  #arm(ms: number): void {
    const { clock } = this.#ctx;
    clock.clearTimeout(this.#timer);
    this.#timer = ms > 0
      ? clock.setTimeout(() => this.#onDeadline(), ms)
      : undefined;
  }

  #onDeadline(): void {
    const { config, clock } = this.#ctx;
    switch (this.#phase) {
      case "alias":
        return this.close(
          "timeout",
          `No alias chosen within ${config.aliasTimeoutMs / 1000} s`,
        );
      case "closing":
        return;
      case "joined": {
        const idleMs = config.idleTimeoutMs;
        const silentMs = clock.now() - this.#lastSeenMs;
        if (silentMs >= idleMs) {
          return this.close(
            "timeout",
            `Disconnected: silent for ${idleMs / 1000} s`,
          );
        }
        if (silentMs >= idleMs / 2 && !this.#pinged) {
          this.#pinged = true;
          this.#send({ type: "PING", token: String(clock.now()) });
        }
        const half = idleMs / 2 - silentMs;
        return this.#arm(half > 0 ? half : idleMs - silentMs);
      }
    }
  }

  #logError(error: unknown): void {
    const fields = { addr: this.address, error: describeError(error) };
    if (isDisconnect(error)) this.#ctx.log.debug("disconnect", fields);
    else this.#ctx.log.error("connection-error", fields);
  }
}
