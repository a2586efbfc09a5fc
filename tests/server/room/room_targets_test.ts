/**
 * A room operator's command whose target the directory cannot look up
 * (Redis did not answer, or refused): the operator hears `ERR
 * unavailable` and stays connected; nothing is recorded or announced. The
 * directory's failure used to reach the session unanswered, which ended
 * the operator's connection (`connection-error`, `leave ... disconnect`).
 * No sockets: a fake server whose directory rejects. And which ban's
 * `LEAVE` a banned member's own server leaves to the operator's.
 */

import assert from "node:assert/strict";
import { leaveFollows } from "../../../lib/server/room/room_targets.ts";
import type { RoomEvent } from "../../../lib/server/room/room_log.ts";
import { refusal, server } from "./_rooms_fakes.ts";

const DOWN = 'unavailable Cannot find "bob" now: the room\'s servers ' +
  "cannot reach each other; nothing was done, try again";

Deno.test("room targets: /roomban, /kick, /mute, /op, /deop, /invite answer ERR unavailable when the directory rejects; nothing changes", async () => {
  const { join, line, room, router } = server();
  const op = await join("op", { account: "op", operator: true });
  const amy = await join("amy");
  const bob = await join("bob");
  await line(amy, "/join #ops");
  await line(bob, "/join #ops");
  const find = room.find;
  room.find = () =>
    Promise.reject(new Error("Redis did not answer within 300 ms"));
  amy.take();
  bob.take();
  for (
    const text of [
      "#ops /roomban bob 1h spam",
      "#ops /kick bob",
      "#ops /mute bob",
      "#ops /op bob",
      "#ops /deop bob",
      "#ops /invite bob",
    ]
  ) {
    assert.equal(await refusal(() => line(amy, text)), DOWN, text);
  }
  // The default room's /kick asks the directory first, too.
  assert.equal(await refusal(() => line(op, "/kick bob")), DOWN);
  const ops = router.rooms.get("#ops")!;
  assert.deepEqual([ops.record.bans, ops.record.mutes], [[], []]);
  assert.ok(ops.members.has(bob.id));
  assert.deepEqual([amy.take(), bob.take()], [[], []]);
  // Commands that look nobody up go on as before.
  await line(amy, "#ops /topic calm");
  assert.deepEqual(amy.take(), ["#ops TOPIC amy calm"]);
  room.find = find;
  await line(amy, "#ops /roomban bob 1h spam");
  assert.equal(ops.members.has(bob.id), false);
});

Deno.test("leaveFollows() is true only for a ban that names the member by id under the alias it holds (its operator's server appended its LEAVE); its own server puts out any other", () => {
  const member = { id: "b/2", alias: "Cat" } as Parameters<
    typeof leaveFollows
  >[1];
  const ban = (over: Partial<RoomEvent> = {}, action = "ban", alias = "cat") =>
    ({
      seq: 7,
      time: 0,
      origin: "a/1",
      room: "#ops",
      target: "b/2",
      line: { type: "MOD", action, alias, by: "amy", text: "" },
      ...over,
    }) as RoomEvent;
  assert.equal(leaveFollows(ban(), member), true);
  // Named under an alias it no longer holds: that LEAVE is refused.
  assert.equal(leaveFollows(ban({}, "ban", "kit"), member), false);
  // Naming nobody (its operator's server did not have it in the room).
  assert.equal(leaveFollows(ban({ target: undefined }), member), false);
  assert.equal(leaveFollows(ban({ target: "b/3" }), member), false);
  // A MOD that bans it without being that ban (an op, a mute).
  assert.equal(leaveFollows(ban({}, "op"), member), false);
});
