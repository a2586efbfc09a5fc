/**
 * The words the terminal client shows for the fixed tokens of server lines
 * (`display.ts`): an operator's action, a room setting, a leave's reason.
 * Pure data.
 *
 * @module
 */

/** How each operator's action on a member is said. */
export const MOD_ACTIONS: ReadonlyMap<string, string> = new Map([
  ["kick", "was kicked"],
  ["ban", "was banned"],
  ["unban", "was unbanned"],
  ["mute", "was muted"],
  ["unmute", "was unmuted"],
  ["op", "was made a room operator"],
  ["deop", "is no longer a room operator"],
  ["invite", "was invited"],
  ["roomban", "was banned from the room"],
  ["roomunban", "was unbanned from the room"],
]);

/** MOD actions about the room itself (ALIAS `-`): turned on, turned off. */
export const ROOM_SETTINGS: ReadonlyMap<string, readonly [string, string]> =
  new Map(
    [
      ["key", ["The room now needs a key", "The room needs no key now"]],
      ["invite-only", ["The room is invite-only now", "The room is open now"]],
      ["register", ["The room is registered", "The room is not registered"]],
    ],
  );

/** How each `LEAVE` reason is said. */
export const LEAVE_REASONS: ReadonlyMap<string, string> = new Map([
  ["quit", "quit"],
  ["disconnect", "disconnected"],
  ["timeout", "timed out"],
  ["flood", "kicked for flooding"],
  ["slow", "disconnected, too slow to keep up"],
  ["shutdown", "server shutdown"],
  ["line-too-long", "disconnected for sending an endless line"],
  ["kicked", "kicked"],
  ["banned", "banned"],
  ["replaced", "logged in elsewhere"],
  ["server-lost", "their server was lost"],
  ["part", "parted"],
]);
