/** Tests of the room's fan-out: how the forms of a line are encoded. */

import assert from "node:assert/strict";
import { FanOut } from "../../../lib/server/room/fan_out.ts";
import { LineArena } from "../../../lib/server/room/line_arena.ts";
import type { Member } from "../../../lib/server/room/member.ts";
import type { RoomEvent } from "../../../lib/server/room/room_log.ts";
import { ServerMetrics } from "../../../lib/server/metrics/server_metrics.ts";

/** A member that keeps what it is delivered. */
function member(id: string, caps: { roomsOn?: boolean; seqOn?: boolean }) {
  const got: Uint8Array[] = [];
  const it: Member & { got: Uint8Array[] } = {
    id,
    alias: id,
    operator: false,
    ...caps,
    got,
    deliver: (line) => (got.push(line), true),
    close: () => {},
  };
  return it;
}

Deno.test("FanOut keeps each member's room lines adjacent in memory, whatever forms the others take", () => {
  const fan = new FanOut(new LineArena(1024), 100, new ServerMetrics());
  const members = [
    member("plain", {}),
    member("prefixed", { roomsOn: true }),
    member("seq", { seqOn: true }),
    member("both", { roomsOn: true, seqOn: true }),
  ];
  const byId = new Map(members.map((m) => [m.id, m]));
  for (const seq of [1, 2, 3]) {
    const line = { type: "MSG", alias: "bob", text: `hi ${seq}` } as const;
    const event: RoomEvent = { seq, time: 0, line, origin: "bob" };
    fan.toRoom(byId, line, "#ops", event);
    // A line for one member in between does not part the others' lines.
    fan.encode({ type: "MSG", alias: "amy", text: "to one" });
  }
  const text = (m: { got: Uint8Array[] }) =>
    m.got.map((b) => new TextDecoder().decode(b));
  assert.equal(text(members[0]!)[2], "MSG bob hi 3\n");
  assert.equal(text(members[1]!)[2], "#ops MSG bob hi 3\n");
  assert.match(text(members[2]!)[2]!, /^@seq=3;time=\S+ MSG bob hi 3\n$/);
  assert.match(text(members[3]!)[2]!, /^@seq=3;time=\S+ #ops MSG bob hi 3\n$/);
  for (const { id, got } of members) {
    for (let i = 1; i < got.length; i++) {
      assert.equal(got[i]!.buffer, got[0]!.buffer, id);
      assert.equal(
        got[i]!.byteOffset,
        got[i - 1]!.byteOffset + got[i - 1]!.length,
        id,
      );
    }
  }
});
