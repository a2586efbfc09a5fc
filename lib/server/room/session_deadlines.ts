/**
 * The deadline of each phase of a session, as one more of its base
 * classes (no object per member): no alias chosen in time ends it; a
 * joined member silent for half the idle timeout is sent `PING`, silent
 * for all of it is disconnected. One deadline at a time, on the clock's
 * shared timer (`deadlines.ts`), none of its own (memory per idle member).
 *
 * @module
 */

import { type Deadline, deadlinesOf } from "./deadlines.ts";
import type { CommandContext } from "./commands.ts";
import { LineIntake } from "./intake.ts";
import type { Moderated } from "./moderator.ts";

/**
 * A session's phase. `held`: its connection dropped, and it may come back
 * (`hold.ts`).
 */
export type Phase = "alias" | "joined" | "held" | "closing";

/** A session's deadlines: the alias timeout, then the idle one. */
export abstract class SessionDeadlines<M extends Moderated>
  extends LineIntake<M> {
  #lastSeenMs: number;
  #pinged = false;
  /** The deadline of the current phase, on the clock's shared timer. */
  #deadline: Deadline | undefined;

  /** Silence counts from now. */
  constructor(context: CommandContext<M>) {
    super(context);
    this.#lastSeenMs = context.clock.now();
  }

  /** The phase the session is in. */
  protected abstract get phase(): Phase;

  /** A line came in: the idle deadline counts from now, unpinged. */
  protected override heard(): void {
    this.#lastSeenMs = this.context.clock.now();
    this.#pinged = false;
  }

  /**
   * (Re)starts the one deadline of the current phase: shared with every
   * session's, no timer of its own (memory per idle member).
   */
  protected arm(ms: number): void {
    const deadlines = deadlinesOf(this.context.clock);
    deadlines.clear(this.#deadline);
    this.#deadline = ms > 0
      ? deadlines.set(() => this.#onDeadline(), ms)
      : undefined;
  }

  /** Clears the deadline (the session is closing, or held). */
  protected disarm(): void {
    deadlinesOf(this.context.clock).clear(this.#deadline);
  }

  #onDeadline(): void {
    const { config, clock } = this.context;
    switch (this.phase) {
      case "alias":
        return this.close(
          "timeout",
          `No alias chosen within ${config.aliasTimeoutMs / 1000} s`,
        );
      case "held":
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
          this.answer({ type: "PING", token: String(clock.now()) });
        }
        const half = idleMs / 2 - silentMs;
        return this.arm(half > 0 ? half : idleMs - silentMs);
      }
    }
  }
}
