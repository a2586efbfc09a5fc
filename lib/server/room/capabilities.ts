/**
 * What a session turned on and asked for before its alias: the
 * capabilities of `/cap` (answered with `CAP`) and the positions and
 * token of `/resume`. The root of the session's base classes (under the
 * login dialogue, `login.ts`), so that it costs a member no object of its
 * own; nothing turned on, nothing held (most sessions).
 *
 * @module
 */

import {
  CAPABILITIES,
  type Capability,
  CAPABILITY_IMPLIES,
  isCapability,
} from "../../protocol.ts";
import {
  RESUME_EXPIRED_TEXT,
  type ResumeRequest,
  takePosition as positionIn,
} from "../../resume.ts";
import type { ServerLine } from "../../server_lines.ts";

/** Every capability this server offers, in the table's order. */
export const OFFERED_CAPABILITIES = Object.keys(CAPABILITIES) as Capability[];

/** A session's capabilities and `/resume` request. */
export abstract class SessionCapabilities {
  /** Capabilities turned on with `/cap` (null: none, most sessions). */
  #caps: ReadonlySet<Capability> | null = null;
  /** `rooms` is on (read on every delivery: a field, not a set lookup). */
  #roomsOn = false;
  /** `seq` is on (the same). */
  #seqOn = false;
  /** `notice` is on (the same). */
  #noticeOn = false;
  /** What `/resume` said last (null: nothing, most sessions). */
  #resume: ResumeRequest | null = null;

  /** Sends the client one line of its own. */
  protected abstract answer(line: ServerLine): void;

  /**
   * Whether it turned on `ids`: the echo of each of its messages and
   * actions, and any `ERR` about one, carries the line's id.
   */
  get lineIds(): boolean {
    return this.#caps?.has("ids") ?? false;
  }

  /** Whether `rooms` is on: room lines come prefixed, many rooms. */
  get roomsOn(): boolean {
    return this.#roomsOn;
  }

  /** Whether `seq` is on (or `resume`): log lines come with their tags. */
  get seqOn(): boolean {
    return this.#seqOn;
  }

  /** Whether `notice` is on: notices come as such (`noticeForm`). */
  get noticeOn(): boolean {
    return this.#noticeOn;
  }

  /** Whether `resume` is on. */
  get resumeOn(): boolean {
    return this.#caps?.has("resume") ?? false;
  }

  /** What its last `/resume` said (null: none). */
  get resumeRequest(): ResumeRequest | null {
    return this.#resume;
  }

  /** Takes, once, the position its `/resume` gave for `room` (`resume.ts`). */
  takePosition(room: string, inDefault: boolean) {
    return this.#resume ? positionIn(this.#resume, room, inDefault) : undefined;
  }

  /**
   * Takes on what `from` (the new connection of this member, taking it
   * over) asked for: its capabilities and its `/resume` positions.
   */
  protected adoptDialogue(from: SessionCapabilities): void {
    this.#caps = from.#caps;
    this.#roomsOn = from.#roomsOn;
    this.#seqOn = from.#seqOn;
    this.#noticeOn = from.#noticeOn;
    this.#resume = from.#resume;
  }

  /**
   * `/cap NAME ...`: turns on the capabilities named that the server
   * offers (others are not errors, just not on), and answers `CAP` with
   * every one now on, in the table's order.
   */
  protected enableCaps(names: readonly string[]): void {
    const on = new Set(this.#caps);
    for (const name of names) {
      if (!isCapability(name)) continue;
      on.add(name);
      for (const also of CAPABILITY_IMPLIES[name] ?? []) on.add(also);
    }
    this.#caps = on.size > 0 ? on : null;
    this.#roomsOn = on.has("rooms");
    this.#seqOn = on.has("seq");
    this.#noticeOn = on.has("notice");
    this.answer({
      type: "CAP",
      caps: OFFERED_CAPABILITIES.filter((name) => on.has(name)).join(" "),
    });
  }

  /**
   * `/resume EPOCH POSITIONS [TOKEN]` (`resume`): positions kept (the last
   * wins); a token is then {@linkcode resumeToken}'s.
   */
  protected resumeFrom(request: ResumeRequest): Promise<void> | void {
    this.#resume = request;
    if (request.token !== null) return this.resumeToken(request.token);
  }

  /**
   * A `/resume` gave a resume token (section 4 of the resume design: a
   * held member taken over). This default knows no held member: it
   * answers `ERR resume-expired`, and the client goes on choosing its
   * alias (its positions still kept).
   */
  protected resumeToken(_token: string): Promise<void> | void {
    this.answer({
      type: "ERR",
      code: "resume-expired",
      text: RESUME_EXPIRED_TEXT,
    });
  }
}
