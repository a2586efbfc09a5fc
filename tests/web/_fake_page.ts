/**
 * The page as the reducer sees it, for the tests of web/state.js and
 * web/resume.js: events in, the next state out, with what it sent.
 */

import assert from "node:assert/strict";
import type { Entry } from "../../web/entries.js";
import {
  INITIAL_STATE,
  type PageEvent,
  reduce,
  type State,
} from "../../web/state.js";

/** The page as the reducer sees it: what it sent and what its log shows. */
export class FakePage {
  state: State = INITIAL_STATE;
  now = Date.UTC(2026, 0, 1);
  hidden = false;
  readonly sent: string[] = [];
  /** The sessions it asked to keep, in order (`""`: forget it). */
  readonly kept: string[] = [];

  /** Applies an event, checking that the state before it was left alone. */
  step(event: PageEvent): State {
    const before = structuredClone(this.state);
    const next = reduce(this.state, event);
    assert.deepEqual(this.state, before, "reduce() changed its input");
    this.state = next;
    this.sent.push(...next.effects.send);
    if (next.effects.session !== null) this.kept.push(next.effects.session);
    return next;
  }

  /** The log of the room shown (or of another). */
  logOf(room = this.state.current): readonly Entry[] {
    return this.state.rooms.get(room)?.log ?? [];
  }

  get log(): readonly Entry[] {
    return this.logOf();
  }

  line(text: string): State {
    return this.step({
      type: "line",
      text,
      now: this.now,
      hidden: this.hidden,
    });
  }

  /** The texts of a room's log (the one shown), each entry's parts joined. */
  shown(room = this.state.current): string[] {
    return this.logOf(room).map((entry) =>
      entry.parts.map((p) => p.text).join("")
    );
  }

  /** The members of the room shown, operators marked with "@". */
  members(room = this.state.current): string[] {
    const members = this.state.rooms.get(room)?.members ?? new Map();
    return [...members.values()].map((m) =>
      m.operator ? `@${m.alias}` : m.alias
    );
  }

  /** Greeted, joined as `alias`, with the /who answered. */
  static joined(alias = "ann"): FakePage {
    const page = new FakePage();
    page.step({ type: "connect", retry: false });
    page.line("HELLO tlschat/1 lobby rate=5 Send your alias");
    page.step({ type: "join", alias: ` ${alias} `, password: "" });
    page.line(`WELCOME ${alias} 2 Type /help for commands`);
    page.line(`WHO 2 ${alias} @Op`);
    return page;
  }

  /**
   * Joined a server with rooms as `alias`, in `#lobby` as the server puts
   * a rooms client there (topic, history, CURRENT), with its /who
   * answered; `fragment`: the URL's, before connecting.
   */
  static inRooms(alias = "ann", fragment = ""): FakePage {
    const page = new FakePage();
    if (fragment) page.step({ type: "address", room: fragment });
    page.step({ type: "connect", retry: false });
    page.line("HELLO tlschat/1 chat rate=5,caps=ids+rooms Send your alias");
    page.line("CAP ids rooms");
    page.step({ type: "join", alias, password: "" });
    page.line(`WELCOME ${alias} 2 Type /help for commands`);
    page.line(`#lobby JOIN ${alias} 2`);
    page.line("#lobby TOPIC op Welcome all");
    page.line("#lobby HIST 1 2026-01-01T00:00:00Z MSG bob earlier");
    page.line("#lobby HISTEND 1 End of history");
    page.line("CURRENT #lobby");
    page.line(`#lobby WHO 2 ${alias} @op`);
    return page;
  }

  /** Joins a room as the server answers a `/join`: JOIN, then CURRENT. */
  enter(room: string, online = 1): void {
    this.line(`${room} JOIN ${this.state.alias} ${online}`);
    this.line(`CURRENT ${room}`);
  }

  /**
   * The rooms in the list, each with its unread count when it has one, and
   * "held" when the page is not in it (its join to be sent again).
   */
  roomList(): string[] {
    return [...this.state.rooms].filter(([name]) => name !== "").map((
      [name, room],
    ) =>
      [name, room.unread > 0 ? room.unread : "", room.held ? "held" : ""]
        .filter((part) => part !== "").join(" ")
    );
  }
}
