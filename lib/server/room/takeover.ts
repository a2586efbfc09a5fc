/**
 * What a member with `resume` is told of its resume token, and what a new
 * connection that takes a member over sees (`hold.ts`): `WELCOME`, then
 * for each of its rooms its own `JOIN` (with `rooms`, to itself only, as
 * on joining), the topic and what it missed (`RoomRouter.enter`), then a
 * new `RESUME` (when the new connection turned `resume` on). Nobody else
 * hears of it: for the room, the member never left. The member may be
 * held here, still connected here (a half-open connection, closed with
 * `BYE replaced`), or a member of another server, whose claim the
 * directory moves here (`takeElsewhere`).
 *
 * @module
 */

import type { ServerLine } from "../../server_lines.ts";
import type { Someone } from "./directory.ts";
import type { TakeoverProof } from "./hold.ts";
import type { Member } from "./member.ts";
import type { Moderated } from "./moderator.ts";
import type { Room } from "./room.ts";

/** The goodbye of a connection a new one took over (`BYE replaced`). */
export const TAKEN_OVER: ServerLine<"BYE"> = {
  type: "BYE",
  reason: "replaced",
  text: "Disconnected: your session was resumed from another connection",
};

/**
 * The member of this server a new connection (`taker`) takes over: the one
 * of its resume token, or the one with a token logged into its account
 * under that alias (held, or live when `may` lets it); null when none is
 * (a token is then refused here). A member in many rooms is taken over
 * only by a connection with `rooms`, and one in a single room only by one
 * without.
 */
export function takeHeld<M extends Moderated>(
  room: Room<M>,
  taker: { readonly roomsOn: boolean },
  by: { readonly token: string } | { readonly account: string },
  may: (member: M) => boolean = () => true,
): M | null {
  const fits = (member: M) =>
    (member.roomsOn ?? false) === taker.roomsOn && may(member);
  return "token" in by
    ? room.holds.take(by.token, fits)
    : room.holds.takeAccount(by.account, fits);
}

/**
 * Takes over the member of another server that `proof` names, as
 * `become` makes it (`Room.takeOver`), and puts it in the rooms here that
 * the log says it is in (the default room when this server has not read
 * its `JOIN` yet): the same member, nobody told. Null: none.
 */
export async function takeElsewhere<M extends Member>(
  room: Room<M>,
  proof: TakeoverProof,
  become: (was: Someone) => M,
): Promise<M | null> {
  const member = await room.takeOver(proof, become);
  if (member === null) return null;
  const { rooms } = room.router;
  let names = rooms.replica.roomsOfId(member.id);
  if (names.length === 0) {
    rooms.replica.enter(rooms.default, member.id, member.alias);
    names = [rooms.default.name];
  }
  for (const name of [...names]) {
    const state = rooms.get(name);
    if (state !== undefined) rooms.joined(member, state);
  }
  return member;
}

/**
 * Gives `member` a new resume token (`RESUME TOKEN SECONDS TEXT`), unless
 * holding is off. The token is sent once, and never logged.
 */
export function offerResume<M extends Moderated>(
  room: Room<M>,
  member: M,
  send: (line: ServerLine) => void,
): void {
  const token = room.holds.issue(member);
  if (token === null) return;
  const seconds = String(room.holds.graceMs / 1000);
  send({
    type: "RESUME",
    token,
    seconds,
    text:
      `If your connection drops, come back within ${seconds} s with this token`,
  });
}

/**
 * What the connection that took `member` over is sent (see the module):
 * the member is the same, in the same rooms, under the same alias.
 */
export function welcomeBack<M extends Moderated>(
  room: Room<M>,
  member: M & { readonly resumeOn: boolean },
  send: (line: ServerLine) => void,
): void {
  const { rooms } = room.router;
  send({
    type: "WELCOME",
    alias: member.alias,
    online: String(rooms.default.everyone.size),
    text: "Welcome back: nobody saw you leave. Type /help for commands",
  });
  // Every room's catch-up takes from one budget: together, half a queue.
  const budget = room.replies.budget(member);
  for (const name of rooms.roomsOf(member)) {
    const state = rooms.get(name);
    if (state === undefined) continue;
    if (member.roomsOn) {
      room.sendIn(member, name, {
        type: "JOIN",
        alias: member.alias,
        online: String(state.everyone.size),
      });
    }
    // Everything handed on so far is caught up with; what follows, live.
    room.router.enter(member, state, {
      through: room.router.handedOn(),
      budget,
    });
  }
  if (member.resumeOn) offerResume(room, member, send);
}
