/**
 * What became of the lines a piped client sent, for its exit status: a
 * script learns from it whether every line was delivered. Once the client
 * has joined, every `ERR` the server sends answers something it sent (a
 * message refused, muted, not stored or perhaps not, a command refused),
 * but `ERR flood`: its lines are delayed, not refused (the client slows
 * down);
 * a line of stdin too long to send counts too. An `ERR unknown` that the
 * client sends again under its id is not shown as an error, so it counts
 * only if the resend is refused or left in doubt as well. Pure: it only
 * counts.
 *
 * @module
 */

import type { ServerLine } from "../server_lines.ts";

/**
 * The exit code of a piped client that ended normally (it would have
 * exited 0) but a line it sent was refused or left in doubt.
 */
export const EXIT_NOT_DELIVERED = 3;

/**
 * The lines a piped client could not deliver.
 *
 * @example A refusal once joined turns 0 into 3
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_NOT_DELIVERED, PipeOutcome } from "./pipe_outcome.ts";
 *
 * const outcome = new PipeOutcome();
 * outcome.see({ type: "ERR", code: "alias-taken", text: "Taken" });
 * assert.equal(outcome.exitCode(0), 0); // before joining: not a line sent
 * outcome.joined = true;
 * outcome.see({ type: "ERR", code: "muted", text: "You are muted" });
 * assert.equal(outcome.exitCode(0), EXIT_NOT_DELIVERED);
 * assert.equal(outcome.exitCode(1), 1);
 * ```
 */
export class PipeOutcome {
  /**
   * Whether a connection is joined now (an `ERR` while joining refuses
   * the alias, not a line of stdin).
   */
  joined = false;
  #failed = 0;

  /** How many lines were refused, left in doubt or skipped. */
  get failed(): number {
    return this.#failed;
  }

  /**
   * Follows a line the client shows (an `ERR` once joined: a refusal, but
   * `ERR flood`, which says lines are delayed: they are still delivered).
   */
  see(line: ServerLine | string): void {
    if (typeof line === "string" || line.type !== "ERR") return;
    if (this.joined && line.code !== "flood") this.#failed++;
  }

  /** A line of stdin that was not sent at all (too long). */
  skipped(): void {
    this.#failed++;
  }

  /**
   * The exit code for a session that ended with `code`: 0 becomes
   * {@linkcode EXIT_NOT_DELIVERED} when a line failed; others stay.
   */
  exitCode(code: number): number {
    return code === 0 && this.#failed > 0 ? EXIT_NOT_DELIVERED : code;
  }

  /** What to tell on stderr at the end, or null when all went well. */
  summary(): string | null {
    if (this.#failed === 0) return null;
    const lines = this.#failed === 1 ? "1 line" : `${this.#failed} lines`;
    return `${lines} refused or perhaps not sent (the "!" lines above): exit status ${EXIT_NOT_DELIVERED}`;
  }
}
