/**
 * A room operator's command whose target the directory cannot look up
 * (Redis did not answer, or refused): the operator hears `ERR
 * unavailable` and stays connected; nothing is recorded or announced. The
 * directory's failure used to reach the session unanswered, which ended
 * the operator's connection (`connection-error`, `leave ... disconnect`).
 * No sockets: a fake server whose directory rejects.
 */

import assert from "node:assert/strict";
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
