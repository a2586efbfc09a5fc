/**
 * The client's side of the dialogue with a server, without a terminal or
 * stdin: reading replies to an alias until it is welcomed or refused, and
 * then reading every server line until the connection ends, answering
 * what the server asks on the way (`PING`, `PASSWORD`), following the
 * lines sent with ids ({@linkcode PendingLines}) and the rooms
 * ({@linkcode RoomState}). What is shown goes to `print`, what goes wrong
 * to `warn`: it never prints itself.
 *
 * @module
 */

import { parseServerLine, type ServerLine } from "../server_lines.ts";
import type { ServerConnection } from "./connection.ts";
import type { PendingLines } from "./pending.ts";
import { splitTags, type TaggedLine } from "../resume.ts";
import { tagDate } from "./local_time.ts";
import { parseResumeLine, resumedText, type ResumeState } from "./resume.ts";
import type { RoomState } from "./rooms.ts";
import { splitRoomLine } from "./room_names.ts";

/** Answers a server's PASSWORD line; false when there is none to give. */
export type PasswordAnswer = (
  line: ServerLine<"PASSWORD">,
) => Promise<boolean>;

/** How a connection ended: with the server's `BYE`, or without one. */
export type Ending = { bye: ServerLine<"BYE"> | null };

/** What reading the server shows, and how it answers. */
export interface Dialogue {
  /**
   * Shows a server line (a string: one that did not parse), labelled with
   * its room when `room` is given, and with when what it shows was set
   * (`setAt`: a topic's or a ban's `@time=` tag) when known.
   */
  readonly print: (
    line: ServerLine | string,
    room?: string | null,
    setAt?: Date,
  ) => void;
  readonly answer: PasswordAnswer;
  /** Lines sent with ids (once the server turned them on). */
  readonly pending: PendingLines;
  /** Where the client is: its alias, its rooms (once turned on). */
  readonly rooms: RoomState;
  /** Says what went wrong (the connection closed while joining). */
  readonly warn: (text: string) => void;
  /** Called after each line read once joined (to redraw a prompt). */
  readonly seen?: () => void;
  /** Where the client was (`seq`, `resume`); absent: no numbers kept. */
  readonly resume?: ResumeState;
  /**
   * Called for each numbered room line shown (read marks); `left`: the line
   * took the client out of `room` (its own `LEAVE`).
   */
  readonly shown?: (room: string | null, seq: number, left: boolean) => void;
  /**
   * Whether lines said before the client came are shown: a catch-up from
   * the account's read mark, as history (false: neither shown nor marked).
   * @default {true}
   */
  readonly pastShown?: boolean;
}

/**
 * Prints server lines until the connection ends; answers PING, and PASSWORD
 * (asked for by a /nick to a registered alias); follows the lines sent with
 * ids (see {@linkcode PendingLines}) and the rooms (see
 * {@linkcode RoomState}), which says how each line is shown.
 */
export async function readServer(
  server: ServerConnection,
  dialogue: Dialogue,
): Promise<Ending> {
  const { rooms } = dialogue;
  let bye: ServerLine<"BYE"> | null = null;
  while (true) {
    const text = await server.readLine();
    if (text === null) {
      rooms.ended();
      return { bye };
    }
    const tagged = splitTags(text);
    const { room, rest: body } = rooms.enabled
      ? splitRoomLine(tagged.rest)
      : { room: null, rest: tagged.rest };
    const line = parseServerLine(body);
    if (line?.type === "BYE") bye = line;
    readLine(server, dialogue, { tagged, room, body, line });
    dialogue.seen?.();
  }
}

/** One server line read, its tags and room prefix taken off. */
interface LineRead {
  readonly tagged: TaggedLine;
  readonly room: string | null;
  readonly body: string;
  readonly line: ServerLine | undefined;
}

/** Does what one server line says, and shows it unless seen already. */
function readLine(
  server: ServerConnection,
  dialogue: Dialogue,
  { tagged, room, body, line }: LineRead,
): void {
  const { print, answer, rooms, resume } = dialogue;
  if (resumeLine(dialogue, room, body)) return;
  const { id, seq } = tagged;
  // The echo of a line this client sent and awaits an answer for: typed
  // here, so never hidden as said before the client came, even when its
  // number is below the client's JOIN (a line sent again on a new
  // connection, its first echo lost; a catch-up that showed it saw its
  // number: then it is not shown twice).
  const resent = id !== null && dialogue.pending.waits(id);
  // A number seen already is a line shown already (a catch-up overlapping
  // what came live): its id is still answered, nothing shown.
  const fresh = seq === null || resume === undefined || resume.see(room, seq);
  if (id !== null && !followId(server, dialogue, { id, line })) return;
  if (!fresh) return;
  if (line?.type === "HIST") resume?.see(room, Number(line.seq));
  if (line?.type === "PING") {
    server.send(`/pong ${line.token}`).catch(() => {});
  }
  if (line?.type === "PASSWORD") {
    rooms.passwordAsked();
    print(line);
    answer(line).catch(() => {});
    return;
  }
  if (line?.type === "ERR" && line.code === "flood") server.backOff();
  const past = seq !== null && (resume?.catchingUp(room, seq) ?? false);
  // Said before the client came (a catch-up from the account's read mark):
  // shown as history is, or neither shown nor marked read.
  const before = seq !== null && (resume?.fromMark(room, seq) ?? false);
  if (before && dialogue.pastShown === false && !resent) return;
  const inRoom = () => room !== null && rooms.rooms.includes(room);
  const wasIn = inRoom();
  // A time without a number: when what the line shows was set.
  const setAt = seq === null ? tagDate(tagged.time) : undefined;
  for (const shown of rooms.see(room, line ?? body, past, id)) {
    print(shown.line, shown.room, shown.line === line ? setAt : undefined);
  }
  // Entered: older lines may follow, a catch-up from the account's mark.
  if (seq !== null && !wasIn && inRoom()) resume?.entered(room, seq);
  if (seq !== null) dialogue.shown?.(room, seq, wasIn && !inRoom());
}

/**
 * Follows a `RESUME`, `RESUMED` or `READ` line (true), showing what a
 * `RESUMED` says; false for any other line.
 */
function resumeLine(
  { print, rooms, resume, pastShown }: Dialogue,
  room: string | null,
  body: string,
): boolean {
  const said = resume === undefined ? null : parseResumeLine(body);
  if (said === null) return false;
  if (said.type === "RESUME") resume!.tokenGiven(said.token);
  if (said.type === "RESUMED") {
    const before = resume!.fromMark(room, null);
    resume!.resumed(room, said.last);
    if (before && pastShown === false) return true; // ends what was not shown
    const info = { type: "INFO", text: resumedText(said.missing) } as const;
    for (const shown of rooms.see(room, info, true)) {
      print(shown.line, shown.room);
    }
  }
  // READ: another device's mark, nothing to show; read up to the last line
  // this client has of the room, none of it is unread here either.
  const last = resume!.last(room);
  if (said.type === "READ" && room !== null && last !== null) {
    if (said.seq >= last) rooms.readElsewhere(room);
  }
  return true;
}

/**
 * Does what the lines sent with ids say of a line with an id; true when it
 * is to be shown as usual.
 */
function followId(
  server: ServerConnection,
  { print, pending, rooms }: Dialogue,
  { id, line }: { id: string; line: ServerLine | undefined },
): boolean {
  const next = pending.answer(id, line);
  if (next.kind === "show") return true;
  if (next.kind === "resend") {
    print({
      type: "INFO",
      text:
        `No answer from the room's store for "${next.pending.text}": sending it again`,
    });
    server.send(next.line).catch(() => {});
  }
  if (next.kind === "unsent") {
    const why = line?.type === "ERR" ? reasonOf(line.text) : "";
    const text = next.sure
      ? `Not sent: ${next.pending.text}`
      : `Perhaps not sent (if it was, you will see it): ${next.pending.text}`;
    print({
      type: "ERR",
      code: line?.type === "ERR" ? line.code : "",
      text: why === "" ? text : `${text} (${why})`,
    }, rooms.rooms.length > 1 ? next.pending.room : null);
  }
  return false;
}

/**
 * The server's reason in an `ERR` about a line not sent: its text after
 * `Not sent:` or `Perhaps not sent (1 line):` (the line's own text is
 * shown instead), or all of it.
 */
function reasonOf(text: string): string {
  return text.replace(/^(Perhaps not|Not) sent( \([^)]*\))?: */, "").trim();
}

/**
 * Reads replies to an alias until it is accepted (the `WELCOME` line),
 * refused (`rejected`, after printing why) or the connection ends
 * (`closed`), answering the passwords asked for on the way.
 */
export async function awaitWelcome(
  server: ServerConnection,
  { print, answer, pending, rooms, warn }: Dialogue,
): Promise<ServerLine<"WELCOME"> | "rejected" | "closed"> {
  while (true) {
    const text = await server.readLine();
    if (text === null) {
      warn("Server closed the connection");
      return "closed";
    }
    const line = parseServerLine(text);
    print(line ?? text);
    if (line?.type === "CAP") capsOn(line, { pending, rooms });
    if (line?.type === "WELCOME") {
      rooms.welcomed(line.alias);
      return line;
    }
    if (line?.type === "PASSWORD" && !await answer(line)) return "closed";
    // A wrong room password is asked again; anything else is a refusal.
    if (line?.type === "ERR" && line.code !== "password-wrong") {
      return "rejected";
    }
    if (line?.type === "BYE") return "closed";
  }
}

/**
 * Reads replies to `/resume` with a token until the server takes the held
 * member over (its `WELCOME`), or says the token no longer holds (null:
 * choose the alias as usual), or the connection ends (`closed`).
 */
export async function awaitTakeover(
  server: ServerConnection,
  { print, pending, rooms, warn }: Dialogue,
): Promise<ServerLine<"WELCOME"> | null | "closed"> {
  while (true) {
    const text = await server.readLine();
    if (text === null) {
      warn("Server closed the connection");
      return "closed";
    }
    const line = parseServerLine(text);
    if (line?.type === "CAP") capsOn(line, { pending, rooms });
    if (line?.type === "WELCOME") {
      print(line);
      rooms.welcomed(line.alias);
      return line;
    }
    if (line?.type === "ERR") return null; // resume-expired: said below
    if (line?.type === "BYE") {
      print(line);
      return "closed";
    }
  }
}

/** The capabilities the server turned on (`CAP`). */
function capsOn(
  line: ServerLine<"CAP">,
  { pending, rooms }: Pick<Dialogue, "pending" | "rooms">,
): void {
  const caps = line.caps.split(" ");
  pending.enabled = caps.includes("ids");
  rooms.enabled = caps.includes("rooms");
}
