// @ts-check
/**
 * The page's pace: it sends no faster than the server's flood limits from
 * its greeting (`rate` and `burst`), with the terminal client's margin (a
 * tenth of the rate and one token of the burst spare, for delays that
 * differ between lines on their way), and holds back for a while on
 * `ERR flood`; so a page rejoining many rooms at once, or a user sending
 * lines faster than the rate, is never throttled or disconnected for
 * flooding. A {@linkcode Pace} is the token bucket of `lib/flood.ts`
 * (`pacingBucket`), copied as plain values and pure functions of the time
 * (the page imports only `web/`, and the server's flood control is not to
 * depend on the page's files); a {@linkcode Pacer} holds one socket's
 * lines in order until the pace lets each go, its clock injected.
 *
 * @module
 */

/**
 * A token bucket: at most `burst` tokens, refilled at `rate` a second
 * (0: no pacing), one taken per line; `tokens` as of `at` (ms), below 0
 * when lines wait for tokens reserved; nothing taken before `holdUntil`.
 * @typedef {object} Pace
 * @property {number} rate @property {number} burst
 * @property {number} tokens @property {number} at
 * @property {number} holdUntil
 */

/** No pacing: every line goes at once. @type {Pace} */
export const UNPACED = Object.freeze({
  rate: 0,
  burst: 1,
  tokens: 1,
  at: 0,
  holdUntil: 0,
});

/**
 * The pace for a server's `rate` and `burst` (its greeting's), with the
 * margin: 90% of the rate, one token of the burst spare (at least one).
 * @param {{ rate: number, burst: number }} limits @param {number} now
 * @returns {Pace}
 */
export function pacing({ rate, burst }, now) {
  if (!(rate > 0)) return UNPACED;
  const spared = Math.max(1, burst - 1);
  return {
    rate: rate * 0.9,
    burst: spared,
    tokens: spared,
    at: now,
    holdUntil: 0,
  };
}

/**
 * Takes a token for one line: how long it must wait (ms, 0: none), and
 * the pace after. Tokens owed by waiting lines are reserved, so waits are
 * spaced at the rate; a hold counts as time waited first.
 * @param {Pace} pace @param {number} now
 * @returns {{ pace: Pace, waitMs: number }}
 */
export function take(pace, now) {
  if (pace.rate <= 0) return { pace, waitMs: 0 };
  const from = Math.max(now, pace.holdUntil);
  const refill = (from - pace.at) / 1000 * pace.rate;
  const full = Math.max(
    pace.tokens,
    Math.min(pace.burst, pace.tokens + refill),
  );
  const tokens = full - 1;
  const waitMs = (from - now) +
    (tokens >= 0 ? 0 : Math.ceil(-tokens / pace.rate * 1000));
  return { pace: { ...pace, tokens, at: Math.max(pace.at, from) }, waitMs };
}

/**
 * The server throttled a line (`ERR flood`): its clock and ours disagree,
 * so nothing more goes for a whole burst's time.
 * @param {Pace} pace @param {number} now
 * @returns {Pace}
 */
export function holdBack(pace, now) {
  if (pace.rate <= 0) return pace;
  return {
    ...pace,
    holdUntil: now + Math.ceil(pace.burst / pace.rate * 1000),
  };
}

/**
 * The clock a {@linkcode Pacer} reads and sets timers on (the page's own,
 * or a test's).
 * @typedef {object} PacerClock
 * @property {() => number} now
 * @property {(run: () => void, ms: number) => unknown} setTimer
 * @property {(timer: unknown) => void} clearTimer
 */

/** The page's clock. @type {PacerClock} */
const PAGE_CLOCK = {
  now: () => Date.now(),
  setTimer: (run, ms) => setTimeout(run, ms),
  clearTimer: (timer) =>
    clearTimeout(/** @type {ReturnType<typeof setTimeout>} */ (timer)),
};

/** One socket's lines, sent in order, each when the pace lets it go. */
export class Pacer {
  /** @type {Pace} */
  #pace = UNPACED;
  /** @type {string[]} */
  #queue = [];
  /** @type {unknown} a line's token is taken; it goes when this fires */
  #timer = null;
  #send;
  #clock;

  /**
   * A pacer sending through `send` (unpaced until {@linkcode paceTo}).
   * @param {(line: string) => void} send @param {PacerClock} clock
   */
  constructor(send, clock = PAGE_CLOCK) {
    this.#send = send;
    this.#clock = clock;
  }

  /** Lines waiting for their turn. */
  get waiting() {
    return this.#queue.length;
  }

  /** Paces to these limits from now on (a greeting's). @param {{ rate: number, burst: number }} limits */
  paceTo(limits) {
    this.#pace = pacing(limits, this.#clock.now());
  }

  /** `ERR flood`: lines not yet on their way wait a burst's time. */
  holdBack() {
    this.#pace = holdBack(this.#pace, this.#clock.now());
  }

  /** Sends lines after those given before, each in its turn. @param {readonly string[]} lines */
  send(lines) {
    this.#queue.push(...lines);
    this.#pump();
  }

  /**
   * The socket is gone: what waits is dropped, the timer cleared.
   * @returns {string[]} the lines dropped, in order (never sent)
   */
  stop() {
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
    const dropped = this.#queue;
    this.#queue = [];
    return dropped;
  }

  #pump() {
    while (this.#timer === null && this.#queue.length > 0) {
      const { pace, waitMs } = take(this.#pace, this.#clock.now());
      this.#pace = pace;
      if (waitMs <= 0) {
        this.#send(/** @type {string} */ (this.#queue.shift()));
        continue;
      }
      this.#timer = this.#clock.setTimer(() => {
        this.#timer = null;
        this.#send(/** @type {string} */ (this.#queue.shift()));
        this.#pump();
      }, waitMs);
    }
  }
}
