/** Tests of MemberRooms: the rooms each member is in as the log numbers events, and undoing a batch the log did not store. */

import assert from "node:assert/strict";
import { MemberRooms } from "../../../lib/server/room/member_rooms.ts";

const join = { type: "JOIN", alias: "amy", online: "1" } as const;
const leave = {
  type: "LEAVE",
  alias: "amy",
  online: "1",
  reason: "quit",
  text: "",
} as const;

Deno.test("MemberRooms undoes a batch not stored, but keeps a member that left the server out (no entry left behind)", () => {
  const rooms = new MemberRooms("#lobby");
  rooms.apply(join, "1");
  rooms.apply(join, "1", "#ops");
  rooms.begin();
  rooms.apply(join, "2", "#ops");
  assert.deepEqual(rooms.apply(leave, "1"), ["#lobby", "#ops"]);
  rooms.end(true);
  assert.deepEqual(rooms.of("2"), [], "its join was undone");
  assert.deepEqual(rooms.of("1"), [], "gone either way");
  assert.deepEqual([...rooms.all()], []);
  rooms.begin();
  rooms.apply(join, "3", "#ops");
  rooms.apply({ ...leave, reason: "part" }, "3", "#ops");
  rooms.end(true);
  rooms.begin();
  rooms.apply(join, "4");
  rooms.end(false);
  assert.deepEqual([...rooms.all()], [["#lobby"]], "kept");
});
