/**
 * The TLS door: an accept loop over an already-bound
 * {@linkcode ByteListener} that never awaits a client. Each connection is
 * counted with the {@linkcode Admission} from its accept, then runs in its
 * own task: a trusted proxy's PROXY header (its client counted under its
 * own address before TLS starts), the TLS handshake within
 * `handshakeTimeoutMs`, then a session, or the refusal's `BYE`. Only the
 * listener being closed ends the loop; any other accept error is logged and
 * retried with a backoff. Accepting pauses while `maxUnreleased` closed
 * sockets wait for the TLS engine to release them, so that they can never
 * use up the process's descriptors.
 *
 * @module
 */

import { type Clock, sleep } from "../../clock.ts";
import { describeError, type Logger } from "../../log.ts";
import { describeSanction } from "../access/moderation.ts";
import type { Gate } from "../access/gate.ts";
import type { ServerConfig } from "../config.ts";
import type { Connection } from "../room/connection.ts";
import { type Admission, type Entry, goodbye } from "./admission.ts";
import { TlsConnection, type TlsConnectionOptions } from "./tls_connection.ts";
import {
  type ByteConn,
  type ByteListener,
  formatAddress,
  ProxyHeaderError,
} from "./byte_conn.ts";

/** What the TLS door needs from the server it opens into. */
export interface TlsDoorHost {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly clock: Clock;
  /** Every door's caps. */
  readonly admission: Admission;
  /** Who is banned at the door. */
  readonly gate: Gate;
  /** Aborted when the server shuts down. */
  readonly stopping: AbortSignal;
  /** Where failed handshakes are counted. */
  readonly stats: { handshakeFailures: number };
  /**
   * Keeps a connection for shutdown while `serve` runs, then lets it and
   * its admission `entry` go.
   */
  track(key: ByteConn, entry: Entry, serve: () => Promise<void>): void;
  /** Serves a ready connection with a session until it ends. */
  session(key: ByteConn, connection: Connection): Promise<void>;
  /**
   * What a handshaken connection is to its session (another protocol's
   * translator, the IRC door's), refusals included.
   * @default {the TLS connection itself}
   */
  readonly wrap?: (tls: TlsConnection) => Connection;
  /**
   * The longest line the connection frames.
   * @default {config.maxLineBytes}
   */
  readonly maxLineBytes?: number;
}

/** The TLS door of a server: accepts, handshakes, hands on connections. */
export class TlsDoor {
  #listener: ByteListener;
  #host: TlsDoorHost;
  #connectionOptions: TlsConnectionOptions | null = null;

  /** A door over `listener`; {@linkcode accept} opens it. */
  constructor(listener: ByteListener, host: TlsDoorHost) {
    this.#listener = listener;
    this.#host = host;
  }

  /** Stops accepting (the loop ends). */
  close(): void {
    try {
      this.#listener.close();
    } catch {
      // Already closed: the accept loop has ended anyway.
    }
  }

  /** Accepts connections until the listener is closed or the server stops. */
  async accept(): Promise<void> {
    const { stopping: signal, config, log, clock } = this.#host;
    const stopped = new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true })
    );
    let backoffMs = 5;
    while (!signal.aborted) {
      if (this.#listener.unreleased >= config.maxUnreleased) {
        await this.#pauseAccepting(stopped);
        continue;
      }
      let conn: ByteConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (signal.aborted || error instanceof Deno.errors.BadResource) break;
        log.error("accept-failed", {
          error: describeError(error),
          retryMs: backoffMs,
        });
        await sleep(clock, backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, 1000);
        continue;
      }
      backoffMs = 5;
      this.#admit(conn);
    }
  }

  /** Waits, not accepting, until the engine has released enough sockets. */
  async #pauseAccepting(stopped: Promise<void>): Promise<void> {
    const { config, log, stopping } = this.#host;
    const limit = config.maxUnreleased;
    log.warn("accept-paused", {
      unreleased: this.#listener.unreleased,
      limit,
    });
    while (!stopping.aborted && this.#listener.unreleased >= limit) {
      await Promise.race([this.#listener.released(), stopped]);
    }
    log.info("accept-resumed", { unreleased: this.#listener.unreleased });
  }

  /**
   * Counts the connection from its accept and serves it, or tells it why
   * it is refused. A trusted proxy's connection counts under its client's
   * address once the PROXY header (read before the handshake starts) has
   * named it.
   */
  #admit(conn: ByteConn): void {
    const entry = this.#host.admission.enter(
      conn.proxied ? null : conn.remoteAddr.hostname,
      formatAddress(conn.remoteAddr),
    );
    if (entry.dropped) return conn.abort();
    this.#host.track(conn, entry, () => this.#run(conn, entry));
  }

  /**
   * Handshake within the deadline (a trusted proxy's client counted under
   * its own address before it starts), then a session until it ends, or
   * the refusal's `BYE` through the same goodbye.
   */
  async #run(conn: ByteConn, entry: Entry): Promise<void> {
    const tls = this.#connection(conn);
    const handshaken = await this.#handshake(conn, tls, entry);
    if (!handshaken || entry.dropped || this.#host.stopping.aborted) {
      return conn.close();
    }
    const connection = this.#host.wrap?.(tls) ?? tls;
    if (entry.refusal) return connection.close(goodbye(entry.refusal));
    // Returned, not awaited: no suspended frame held per member.
    return this.#host.session(conn, connection);
  }

  #connection(conn: ByteConn): TlsConnection {
    const { config, clock } = this.#host;
    // One options object for every connection (memory per member).
    this.#connectionOptions ??= {
      maxLineBytes: this.#host.maxLineBytes ?? config.maxLineBytes,
      maxSkipBytes: config.maxSkipBytes,
      queueBytes: config.queueBytes,
      closeGraceMs: config.closeGraceMs,
      clock,
    };
    return new TlsConnection(conn, this.#connectionOptions);
  }

  /**
   * Counts a trusted proxy's connection under the client its header named,
   * before TLS: refused over a cap, or when the client is banned and no
   * certificate could let it pass (an operator's, with `--client-ca`).
   */
  #locate(conn: ByteConn, entry: Entry): void {
    const host = conn.remoteAddr.hostname;
    const address = formatAddress(conn.remoteAddr);
    entry.locate(host, address);
    if (entry.refusal !== null || this.#host.config.clientCa !== null) return;
    const ban = this.#host.gate.doorBan(host, null);
    if (ban !== null) {
      entry.refuse(
        { reason: "banned", text: `Banned ${describeSanction(ban)}` },
        address,
      );
    }
  }

  /**
   * Runs the TLS handshake within `handshakeTimeoutMs`, after a trusted
   * proxy's PROXY header, whose client is counted (`entry`) before TLS
   * starts: one dropped there costs no handshake. True when it succeeded
   * in time. A failure is counted and logged (`#failed`).
   */
  async #handshake(
    conn: ByteConn,
    tls: TlsConnection,
    entry: Entry,
  ): Promise<boolean> {
    const { clock, config } = this.#host;
    let late = false;
    const timer = clock.setTimeout(() => {
      late = true;
      this.#failed(conn, "timeout");
      // Ends the handshake (node engine at once, deno when the peer acts).
      void conn.close();
    }, config.handshakeTimeoutMs);
    try {
      if (conn.proxied) {
        await conn.located();
        if (late) return false;
        this.#locate(conn, entry);
        if (entry.dropped) return false;
      }
      await tls.handshake();
      return !late;
    } catch (error) {
      if (!late) this.#failed(conn, error);
      return false;
    } finally {
      clock.clearTimeout(timer);
    }
  }

  /**
   * A failed handshake, counted and logged: at debug level, or as a
   * refusal for a bad PROXY header.
   */
  #failed(conn: ByteConn, error: unknown): void {
    const { log, stats } = this.#host;
    stats.handshakeFailures++;
    const addr = formatAddress(conn.remoteAddr);
    // A trusted proxy that sends no valid header is misconfigured, or
    // not the proxy: worth more than a debug line.
    if (error instanceof ProxyHeaderError) {
      log.warn("refused", {
        addr,
        reason: "proxy-header",
        error: error.message,
      });
    } else {
      log.debug("handshake-failed", {
        addr,
        error: typeof error === "string" ? error : describeError(error),
      });
    }
  }
}
