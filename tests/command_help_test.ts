/**
 * Tests of the `/help` text, without sockets: worded for what the client
 * can do, and naming what each kind of operator may give.
 */

import assert from "node:assert/strict";
import { COMMAND_HELP, commandHelp } from "../lib/command_help.ts";
import { COMMAND_NAMES } from "../lib/commands.ts";

Deno.test("commandHelp() words /help for what the client can do: rooms or not, no client's own commands", () => {
  const withRooms = commandHelp(true);
  const oneRoom = commandHelp(false);
  for (const lines of [withRooms, oneRoom]) {
    // /quit leaves the server, not a room (/part does).
    const quit = lines.find((l) => l.startsWith("/quit"));
    assert.match(quit ?? "", /^\/quit \[REASON\]: leave the server\b/);
    assert.doesNotMatch(quit ?? "", /leave the room/);
    // /read is what clients send by themselves (docs/protocol.md).
    assert.ok(!lines.some((l) => l.includes("/read")), lines.join("\n"));
    assert.equal(lines.filter((l) => l.startsWith("/who")).length, 1);
    assert.ok(lines.some((l) => l.startsWith("Room operators")));
  }
  assert.ok(withRooms.some((l) => l.startsWith("Rooms: /join #ROOM [KEY]")));
  assert.ok(!oneRoom.some((l) => /\/join|\/part|capability/.test(l)));
  assert.match(
    withRooms.find((l) => l.startsWith("/quit")) ?? "",
    /every room/,
  );
});

Deno.test("COMMAND_HELP names every command a room operator may give in its room", () => {
  // docs/protocol.md, Rooms: a room's operators kick, mute and set its
  // topic too, not only server operators.
  const line = COMMAND_HELP.map((l) => l.text).find((text) =>
    text.startsWith("Room operators")
  );
  assert.ok(line, "/help has a line for room operators");
  for (
    const command of [
      "topic TEXT",
      "kick",
      "mute",
      "unmute",
      "roomban",
      "roomunban",
      "roombans",
      "op",
      "deop",
      "key",
      "invite",
      "inviteonly",
      "register",
    ]
  ) {
    assert.match(line, new RegExp(`/${command}\\b`), command);
  }
});

Deno.test("/help names every command a person types, with rooms or without", () => {
  // What clients send by themselves: docs/protocol.md, not /help.
  const bySoftware = new Set(["pong", "read", "cap", "resume"]);
  const roomOnly = new Set(["join", "part", "rooms"]);
  for (const roomsOn of [true, false]) {
    const text = commandHelp(roomsOn).join("\n");
    for (const name of COMMAND_NAMES) {
      if (bySoftware.has(name) || (!roomsOn && roomOnly.has(name))) continue;
      assert.match(text, new RegExp(`/${name}\\b`), `/${name}`);
    }
  }
});
