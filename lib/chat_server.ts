/**
 * The server around the room: an accept loop over an already-bound
 * {@linkcode ChatListener} that never awaits a client, connection caps (total
 * and per remote address), one {@linkcode Session} task per connection, and
 * graceful shutdown (every member gets `BYE shutdown`, queues are flushed,
 * then everything closes). Only the listener being closed ends the accept
 * loop; any other accept error is logged and retried with a backoff.
 *
 * @module
 */

import { delay } from "./async.ts";
import type { ServerConfig } from "./config.ts";
import type { Logger } from "./log.ts";
import { writeAll } from "./outbox.ts";
import { type ByeReason, encodeServerLine } from "./protocol.ts";
import { Room } from "./room.ts";
import {
  CLOSE_GRACE_MS,
  describe,
  type ServerStats,
  Session,
  type SessionContext,
} from "./session.ts";
import {
  type ChatConn,
  type ChatListener,
  formatAddress,
  type NetAddress,
} from "./transport.ts";

/** Refusals answered with a `BYE` line at once; beyond it, plain closes. */
const MAX_PENDING_REFUSALS = 64;

/** Options of {@linkcode serveChat}. */
export interface ServeChatOptions {
  readonly config: ServerConfig;
  readonly log: Logger;
  /** @default {Date.now} */
  readonly now?: () => number;
}

/** A running chat server. Disposing it shuts it down gracefully. */
export class ChatServer implements AsyncDisposable {
  /** The address the listener is bound to. */
  readonly addr: NetAddress;
  readonly room: Room<Session>;
  readonly stats: ServerStats = {
    accepted: 0,
    refused: 0,
    handshakeFailures: 0,
  };
  /** Resolves once the server has shut down and every connection is closed. */
  readonly finished: Promise<void>;
  #listener: ChatListener;
  #context: SessionContext;
  #sessions = new Set<Session>();
  #perAddress = new Map<string, number>();
  /** Refused connections still getting their BYE line, and their tasks. */
  #refusals = new Map<ChatConn, Promise<void>>();
  #stopping = new AbortController();
  #startedMs: number;

  /** Starts serving; use {@linkcode serveChat}. */
  constructor(listener: ChatListener, options: ServeChatOptions) {
    const { config, log } = options;
    this.#listener = listener;
    this.addr = listener.addr;
    this.room = new Room<Session>({
      announceLimit: config.announceLimit,
      onLeave: (session, reason) =>
        log.info("leave", {
          alias: session.alias,
          addr: session.address,
          reason,
          online: this.room.size,
        }),
    });
    const now = options.now ?? Date.now;
    this.#context = { config, log, now, room: this.room, stats: this.stats };
    this.#startedMs = now();
    this.finished = this.#serve();
  }

  /** Number of open connections, joined or not. */
  get connections(): number {
    return this.#sessions.size;
  }

  /**
   * Shuts down: stops accepting, sends every client `BYE shutdown`, waits
   * for queues to flush (at most `config.shutdownGraceMs`), closes the rest.
   */
  close(): Promise<void> {
    if (!this.#stopping.signal.aborted) {
      this.#stopping.abort();
      try {
        this.#listener.close();
      } catch {
        // Already closed: the accept loop has ended anyway.
      }
    }
    return this.finished;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #serve(): Promise<void> {
    await this.#acceptLoop();
    for (const session of this.#sessions) {
      session.close("shutdown", "Server is shutting down", "shutdown");
    }
    const all = Promise.all([...this.#sessions].map((s) => s.finished));
    const graceMs = this.#context.config.shutdownGraceMs;
    const timer = Promise.withResolvers<void>();
    const id = setTimeout(timer.resolve, graceMs);
    await Promise.race([all, timer.promise]);
    clearTimeout(id);
    for (const session of this.#sessions) session.abort();
    for (const conn of this.#refusals.keys()) conn.abort();
    await Promise.all([all, ...this.#refusals.values()]);
    const { log, now, room } = this.#context;
    log.info("shutdown", {
      uptimeS: ((now() - this.#startedMs) / 1000).toFixed(1),
      connections: this.stats.accepted,
      joins: room.stats.joins,
      peak: room.stats.peakMembers,
      messages: room.stats.messages,
      refused: this.stats.refused,
      handshakeFailures: this.stats.handshakeFailures,
    });
  }

  async #acceptLoop(): Promise<void> {
    const { log } = this.#context;
    let backoffMs = 5;
    while (!this.#stopping.signal.aborted) {
      let conn: ChatConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (
          this.#stopping.signal.aborted ||
          error instanceof Deno.errors.BadResource
        ) break;
        log.error("accept-failed", {
          error: describe(error),
          retryMs: backoffMs,
        });
        await delay(backoffMs, this.#stopping.signal);
        backoffMs = Math.min(backoffMs * 2, 1000);
        continue;
      }
      backoffMs = 5;
      this.#admit(conn);
    }
  }

  /** Starts a session for the connection, or refuses it over a cap. */
  #admit(conn: ChatConn): void {
    const { config } = this.#context;
    const host = conn.remoteAddr.hostname;
    const fromHost = this.#perAddress.get(host) ?? 0;
    this.stats.accepted++;
    if (this.#sessions.size >= config.maxClients) {
      this.#refuse(
        conn,
        "server-full",
        `Server is full: ${config.maxClients} connections`,
      );
      return;
    }
    if (config.maxPerIp > 0 && fromHost >= config.maxPerIp) {
      this.#refuse(
        conn,
        "ip-limit",
        `Too many connections from ${host}: at most ${config.maxPerIp}`,
      );
      return;
    }
    const session = new Session(conn, this.#context);
    this.#sessions.add(session);
    this.#perAddress.set(host, fromHost + 1);
    session.finished.finally(() => {
      this.#sessions.delete(session);
      const left = (this.#perAddress.get(host) ?? 1) - 1;
      if (left === 0) this.#perAddress.delete(host);
      else this.#perAddress.set(host, left);
    });
  }

  #refuse(conn: ChatConn, reason: ByeReason, text: string): void {
    const { log, config } = this.#context;
    this.stats.refused++;
    log.info("refused", { addr: formatAddress(conn.remoteAddr), reason });
    if (this.#refusals.size >= MAX_PENDING_REFUSALS) {
      conn.abort();
      return;
    }
    const line = encodeServerLine({ type: "BYE", reason, text });
    this.#refusals.set(
      conn,
      refuse(conn, line, config.handshakeTimeoutMs)
        .finally(() => this.#refusals.delete(conn)),
    );
  }
}

/**
 * Serves a chat room on an already-bound listener.
 *
 * @example Serve on port 0 and shut down
 * ```ts ignore
 * const listener = await listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
 * await using server = serveChat(listener, { config, log });
 * console.log(server.addr.port);
 * ```
 */
export function serveChat(
  listener: ChatListener,
  options: ServeChatOptions,
): ChatServer {
  return new ChatServer(listener, options);
}

/**
 * Completes the handshake, sends one `BYE` line and closes, all within
 * `timeoutMs` plus the close grace.
 */
async function refuse(
  conn: ChatConn,
  line: Uint8Array,
  timeoutMs: number,
): Promise<void> {
  const close = () => void conn.close();
  let timer = setTimeout(close, timeoutMs);
  try {
    await conn.handshake();
    await writeAll(conn, line);
    clearTimeout(timer);
    timer = setTimeout(close, CLOSE_GRACE_MS);
    await conn.closeWrite();
    // Read until the peer closes, so closing does not reset the connection
    // before it has read the line.
    const buffer = new Uint8Array(1024);
    while (await conn.read(buffer) !== null) { /* drop */ }
  } catch {
    // The refused peer went away or timed out: nothing more to tell it.
  } finally {
    clearTimeout(timer);
    await conn.close();
  }
}
