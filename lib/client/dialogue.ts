/**
 * The client's side of the dialogue with a server, without a terminal or
 * stdin: reading replies to an alias until it is welcomed or refused, and
 * then reading every server line until the connection ends, answering
 * what the server asks on the way (`PING`, `PASSWORD`) and following the
 * lines sent with ids ({@linkcode PendingLines}). What is shown goes to
 * `print`, what goes wrong to `warn`: it never prints itself.
 *
 * @module
 */

import { splitLineId } from "../protocol.ts";
import { parseServerLine, type ServerLine } from "../server_lines.ts";
import type { ServerConnection } from "./connection.ts";
import type { PendingLines } from "./pending.ts";

/** Answers a server's PASSWORD line; false when there is none to give. */
export type PasswordAnswer = (
  line: ServerLine<"PASSWORD">,
) => Promise<boolean>;

/** How a connection ended: with the server's `BYE`, or without one. */
export type Ending = { bye: ServerLine<"BYE"> | null };

/** What reading the server shows, and how it answers. */
export interface Dialogue {
  /** Shows a server line (a string: one that did not parse). */
  readonly print: (line: ServerLine | string) => void;
  readonly answer: PasswordAnswer;
  /** Lines sent with ids (once the server turned them on). */
  readonly pending: PendingLines;
  /** Says what went wrong (the connection closed while joining). */
  readonly warn: (text: string) => void;
}

/**
 * Prints server lines until the connection ends; answers PING, and PASSWORD
 * (asked for by a /nick to a registered alias); follows the lines sent with
 * ids (see {@linkcode PendingLines}).
 */
export async function readServer(
  server: ServerConnection,
  { print, answer, pending }: Dialogue,
): Promise<Ending> {
  let bye: ServerLine<"BYE"> | null = null;
  while (true) {
    let text = await server.readLine();
    if (text === null) return { bye };
    const { id, rest } = lineId(text);
    const line = parseServerLine(rest);
    if (id !== null) {
      const next = pending.answer(id, line);
      if (next.kind === "hide") continue;
      if (next.kind === "resend") {
        print({
          type: "INFO",
          text:
            `No answer from the room's store for "${next.pending.text}": sending it again`,
        });
        server.send(next.line).catch(() => {});
        continue;
      }
      if (next.kind === "unsent") {
        print({
          type: "ERR",
          code: line?.type === "ERR" ? line.code : "",
          text: next.sure
            ? `Not sent: ${next.pending.text}`
            : `Perhaps not sent (if it was, you will see it): ${next.pending.text}`,
        });
        continue;
      }
      text = rest;
    }
    if (line?.type === "PING") {
      server.send(`/pong ${line.token}`).catch(() => {});
    }
    if (line?.type === "PASSWORD") {
      print(line);
      answer(line).catch(() => {});
      continue;
    }
    if (line?.type === "ERR" && line.code === "flood") server.backOff();
    if (line?.type === "BYE") bye = line;
    print(line ?? text);
  }
}

/**
 * Reads replies to an alias until it is accepted (the `WELCOME` line),
 * refused (`rejected`, after printing why) or the connection ends
 * (`closed`), answering the passwords asked for on the way.
 */
export async function awaitWelcome(
  server: ServerConnection,
  { print, answer, pending, warn }: Dialogue,
): Promise<ServerLine<"WELCOME"> | "rejected" | "closed"> {
  while (true) {
    const text = await server.readLine();
    if (text === null) {
      warn("Server closed the connection");
      return "closed";
    }
    const line = parseServerLine(text);
    print(line ?? text);
    if (line?.type === "CAP") {
      pending.enabled = line.caps.split(" ").includes("ids");
    }
    if (line?.type === "WELCOME") return line;
    if (line?.type === "PASSWORD" && !await answer(line)) return "closed";
    // A wrong room password is asked again; anything else is a refusal.
    if (line?.type === "ERR" && line.code !== "password-wrong") {
      return "rejected";
    }
    if (line?.type === "BYE") return "closed";
  }
}

/** A server line's `@id=` prefix, taken off; a malformed one is kept. */
function lineId(text: string): { id: string | null; rest: string } {
  try {
    return splitLineId(text);
  } catch {
    return { id: null, rest: text }; // shown as it came
  }
}
