/**
 * Room names as the terminal client reads and writes them: a name typed
 * (case-folded), a server line's `#room ` prefix taken off or put on, and
 * whether a typed line carries a room's key. Pure functions.
 *
 * @module
 */

import { isRoomName, roomLine } from "../protocol.ts";

/**
 * `text` as a room name, case-folded (`#Ops` is `#ops`), or null when it
 * is not one: `#` then 1 to 32 of `a-z 0-9 - _`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toRoomName } from "./room_names.ts";
 *
 * assert.equal(toRoomName("#Ops"), "#ops");
 * assert.equal(toRoomName("#1"), "#1");
 * assert.equal(toRoomName("ops"), null);
 * assert.equal(toRoomName("#no.dots"), null);
 * ```
 */
export function toRoomName(text: string): string | null {
  // A room name is ASCII: nothing else (a Kelvin sign) folds into one.
  return isRoomName(text) ? text.toLowerCase() : null;
}

/** A line with its `#room ` prefix taken off. */
export interface RoomLine {
  /** The room the line is about; null when it has no prefix. */
  readonly room: string | null;
  /** What follows the prefix (the whole line when there is none). */
  readonly rest: string;
}

/**
 * Takes a server line's `#room ` prefix off. The server sends room names
 * folded: anything else starting with `#` is no prefix (shown as it came).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitRoomLine } from "./room_names.ts";
 *
 * assert.deepEqual(splitRoomLine("#ops MSG amy hi"), {
 *   room: "#ops",
 *   rest: "MSG amy hi",
 * });
 * assert.deepEqual(splitRoomLine("MSG amy hi"), {
 *   room: null,
 *   rest: "MSG amy hi",
 * });
 * ```
 */
export function splitRoomLine(text: string): RoomLine {
  const space = text.indexOf(" ");
  const name = text.slice(0, space);
  if (space === -1 || toRoomName(name) !== name) {
    return { room: null, rest: text };
  }
  return { room: name, rest: text.slice(space + 1) };
}

/** `line` with the `#room ` prefix put on (none when `room` is null). */
export function withRoom(room: string | null, line: string): string {
  return room === null ? line : roomLine(room, line);
}

/**
 * Whether a line typed carries a room's key (`/join #room KEY`, `/key KEY`,
 * after a room prefix or not), so is not kept to be recalled.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { carriesKey } from "./room_names.ts";
 *
 * assert.equal(carriesKey("/join #ops s3cret"), true);
 * assert.equal(carriesKey("/join #ops"), false);
 * ```
 */
export function carriesKey(line: string): boolean {
  const words = line.split(" ").filter((word) => word !== "");
  if (toRoomName(words[0] ?? "") !== null) words.shift();
  const [command = "", , key = ""] = words;
  if (/^\/join$/i.test(command)) return key !== "";
  return /^\/key$/i.test(command) && words[1] !== undefined &&
    words[1] !== "-";
}
