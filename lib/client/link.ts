/**
 * The one connection a reconnecting client sends through: open while a
 * connection is joined, closed while the client reconnects, when lines
 * wait (an {@linkcode Outbox} holds them behind it as a gate). It only
 * passes lines on; it never reads.
 *
 * @module
 */

import { ClientError, type ServerConnection } from "./connection.ts";
import type { Gate } from "./outbox.ts";

/**
 * The connection lines go to: open while one is joined, closed while the
 * client reconnects (lines then wait: see {@linkcode Outbox}).
 */
export class Link implements Gate {
  #server: ServerConnection | null = null;
  #opened = Promise.withResolvers<void>();

  /** Whether a joined connection takes lines now. */
  get open(): boolean {
    return this.#server !== null;
  }

  /** Resolves once a connection takes lines. */
  ready(): Promise<void> {
    return this.#server === null ? this.#opened.promise : Promise.resolve();
  }

  /** Sends through the connection; rejects when there is none. */
  send(line: string): Promise<void> {
    if (this.#server === null) {
      return Promise.reject(new ClientError("Not connected"));
    }
    return this.#server.send(line);
  }

  /** Lines go to `server` from now on. */
  opened(server: ServerConnection): void {
    this.#server = server;
    this.#opened.resolve();
  }

  /** The connection is gone: lines wait. */
  closed(): void {
    if (this.#server === null) return;
    this.#server = null;
    this.#opened = Promise.withResolvers();
  }
}
