/**
 * The client's connections, one after another: connect (the servers in
 * turn), greet (`/cap`, and `/resume` with where the client was), join
 * (a takeover with the token, else the alias and its password), rejoin a
 * guest's rooms, send again the lines not answered, then read until the
 * connection ends; and unless that ending is final, wait (backoff with
 * jitter) and do it again. Lines given meanwhile wait behind a
 * {@linkcode Link} that is open only while a connection is joined. What a
 * terminal or a pipe does differently comes in as {@linkcode ChatHooks};
 * it never prints itself.
 *
 * @module
 */

import { tagLine } from "../protocol.ts";
import { parseHelloParams, parseServerLine } from "../server_lines.ts";
import type { ServerLine } from "../server_lines.ts";
import type { ServerAddress } from "./config.ts";
import {
  ClientError,
  noGreeting,
  type ServerConnection,
} from "./connection.ts";
import {
  awaitTakeover,
  awaitWelcome,
  type Dialogue,
  type Ending,
  readServer,
} from "./dialogue.ts";
import type { Link } from "./link.ts";
import { Outbox } from "./outbox.ts";
import type { PendingLines } from "./pending.ts";
import {
  Backoff,
  formatServer,
  reconnectsAfter,
  ServerRotation,
} from "./reconnect.ts";
import { helloEpoch, type ReadMarks, type ResumeState } from "./resume.ts";
import type { RoomState } from "./rooms.ts";
import { withRoom } from "./room_names.ts";

/** The capabilities the client asks for when the server offers them. */
export const WANTED_CAPS = ["ids", "rooms", "seq", "resume"];

/** How long to wait for the server to confirm /quit before closing anyway. */
const QUIT_WAIT_MS = 3000;

/** How long after a numbered line was shown its read mark is sent. */
export const READ_MARK_DELAY_MS = 2000;

/** What the client keeps across its connections. */
export interface Memory {
  readonly pending: PendingLines;
  readonly rooms: RoomState;
  readonly resume: ResumeState;
  readonly marks: ReadMarks;
  readonly link: Link;
}

/**
 * Answers a server's PASSWORD line by sending through `send` (the
 * connection that asked); false when there is none to give.
 */
export type AnswerOn = (
  line: ServerLine<"PASSWORD">,
  send: (line: string) => Promise<void>,
) => Promise<boolean>;

/** What a terminal or a pipe does its own way. */
export interface ChatHooks {
  /** Shows a server line (labelled with its room when given). */
  readonly print: (line: ServerLine | string, room?: string | null) => void;
  /**
   * Whether lines said before the client came are shown (see
   * {@linkcode Dialogue.pastShown}): false in a pipe without `--history`.
   * @default {true}
   */
  readonly pastShown?: boolean;
  /** Says what goes wrong or what the client does (reconnecting ...). */
  readonly notice: (text: string) => void;
  /** Called after each line read once joined (to redraw a prompt). */
  readonly seen?: () => void;
  readonly answer: AnswerOn;
  /**
   * Joins the first time (sends the alias, asked for on a terminal):
   * the welcome, or the exit code.
   */
  readonly chooseAlias: (
    server: ServerConnection,
    dialogue: Dialogue,
  ) => Promise<ServerLine<"WELCOME"> | number>;
  /** Called once, after the first join (start taking lines). */
  readonly started: () => void;
  /** Shows whether the client reconnects (`reconnecting…`) or not (null). */
  readonly status: (text: string | null) => void;
  /** Resolves when the user quits. */
  readonly quit: Promise<void>;
  /** Whether the client sent `/quit`: a lost connection then ends it. */
  readonly leaving: () => boolean;
  /** Whether the client is logged into an account (it sends read marks). */
  readonly account: () => boolean;
}

/** Options of {@linkcode chat}. */
export interface ChatOptions {
  readonly servers: readonly ServerAddress[];
  /** Reconnect when the connection is lost. */
  readonly reconnect: boolean;
  /** Connects to a server (throws {@linkcode ClientError}). */
  readonly connect: (server: ServerAddress) => Promise<ServerConnection>;
  /** Randomness of the backoff. @default {Math.random} */
  readonly random?: () => number;
}

/** How one connection ended. */
type SessionEnd =
  | { readonly kind: "exit"; readonly code: number }
  /** Not connected (said why). */
  | { readonly kind: "failed" }
  | { readonly kind: "ended"; readonly bye: string | null; joined: boolean };

/**
 * Chats over one connection after another until an ending that is final
 * (see {@linkcode reconnectsAfter}) or the user quits; resolves to the
 * exit code. Until a connection joined once, a failure ends it (after
 * trying each server once).
 */
export async function chat(
  memory: Memory,
  hooks: ChatHooks,
  options: ChatOptions,
): Promise<number> {
  const rotation = new ServerRotation(options.servers);
  const backoff = new Backoff({ random: options.random });
  let joined = false;
  let failures = 0;
  while (true) {
    const end = await attempt(memory, hooks, options, {
      where: rotation.current,
      first: !joined,
    });
    if (end.kind === "exit") return end.code;
    const bye = end.kind === "ended" ? end.bye : null;
    if (end.kind === "ended" && end.joined) {
      [joined, failures] = [true, 0];
      backoff.reset();
    }
    failures++;
    const final = !options.reconnect || !reconnectsAfter(bye) ||
      (!joined && failures >= rotation.size);
    if (final || hooks.leaving()) {
      return end.kind === "failed" ? 1 : exitCode(bye, hooks);
    }
    hooks.status("reconnecting…");
    const delayMs = backoff.next();
    const next = rotation.size > 1 ? rotation.next() : rotation.current;
    hooks.notice(
      `Reconnecting to ${formatServer(next)} in ${
        (delayMs / 1000).toFixed(1)
      } s`,
    );
    if (await paused(delayMs, hooks.quit)) return 0;
  }
}

/** The exit code of a final ending: 0 after `/quit`, else 1. */
function exitCode(bye: string | null, hooks: ChatHooks): number {
  if (bye === "quit" || (bye === null && hooks.leaving())) return 0;
  if (bye === null) hooks.notice("Server closed the connection");
  return 1;
}

/** Waits `ms`; true when the user quit meanwhile. */
async function paused(ms: number, quit: Promise<void>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise<boolean>((resolve) =>
    timer = setTimeout(() => resolve(false), ms)
  );
  const quitting = await Promise.race([waited, quit.then(() => true)]);
  clearTimeout(timer);
  return quitting;
}

/** Connects to `where` and chats there until the connection ends. */
async function attempt(
  memory: Memory,
  hooks: ChatHooks,
  options: ChatOptions,
  { where, first }: { where: ServerAddress; first: boolean },
): Promise<SessionEnd> {
  let server: ServerConnection;
  try {
    server = await options.connect(where);
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    hooks.notice(e.message);
    return { kind: "failed" };
  }
  try {
    return await session(server, memory, hooks, { where, first });
  } finally {
    memory.link.closed();
    server.close();
  }
}

/** Greets, joins and chats over one connection. */
async function session(
  server: ServerConnection,
  memory: Memory,
  hooks: ChatHooks,
  { where, first }: { where: ServerAddress; first: boolean },
): Promise<SessionEnd> {
  let bye: string | null = null;
  const dialogue = dialogueOf(server, memory, hooks, (line) => {
    bye = line.reason;
  });
  const lost = { kind: "ended", bye: null, joined: false } as const;
  const hello = await greet(server, memory, dialogue);
  if (hello === null) {
    hooks.notice(
      `Cannot chat: ${formatServer(where)} ${
        noGreeting(server.readError, server.presented)
      }`,
    );
    return first ? { kind: "exit", code: 1 } : lost;
  }
  const was = memory.rooms.lost();
  const takeover = hello.token ? await awaitTakeover(server, dialogue) : null;
  if (takeover === "closed") return { ...lost, bye };
  if (takeover === null) {
    const welcome = await join(server, dialogue, hooks, first);
    if (typeof welcome === "number") return { kind: "exit", code: welcome };
    if (welcome === null) return { ...lost, bye };
  }
  hooks.status(null);
  const reading = readServer(server, dialogue);
  if (first) hooks.started();
  else await rejoin(server, memory, takeover === null ? was : null);
  memory.link.opened(server);
  const ended = await Promise.race([reading, hooks.quit.then(() => null)]);
  if (ended === null) return await quit(server, reading);
  return { kind: "ended", bye: ended.bye?.reason ?? null, joined: true };
}

/**
 * Reads the greeting, paces to it, asks for the capabilities wanted that
 * the server offers and sends `/resume` when there is a place to resume
 * from; null when the server did not greet.
 */
async function greet(
  server: ServerConnection,
  { resume }: Memory,
  { print }: Dialogue,
): Promise<{ token: boolean } | null> {
  const text = await server.readLine();
  const hello = text === null ? undefined : parseServerLine(text);
  if (hello?.type !== "HELLO") return null;
  // Send no faster than the server accepts: a client never gets itself
  // throttled or kicked for flooding, however much is piped into it.
  const params = parseHelloParams(hello.params);
  server.paceTo(params);
  print(hello);
  const offered = params.caps ?? [];
  const caps = WANTED_CAPS.filter((cap) => offered.includes(cap));
  if (caps.length > 0) await server.send(`/cap ${caps.join(" ")}`);
  const line = resume.greeted(
    helloEpoch(hello.params),
    offered.includes("resume"),
  );
  if (line !== null) await server.send(line);
  return { token: line !== null && line.split(" ").length === 4 };
}

/**
 * Joins with the alias: the first time as the mode does it (asking on a
 * terminal), later with the alias the client had. Null: refused, or the
 * connection ended.
 */
async function join(
  server: ServerConnection,
  dialogue: Dialogue,
  hooks: ChatHooks,
  first: boolean,
): Promise<ServerLine<"WELCOME"> | number | null> {
  if (first) return await hooks.chooseAlias(server, dialogue);
  await server.send(dialogue.rooms.alias);
  const welcome = await awaitWelcome(server, dialogue);
  return typeof welcome === "string" ? null : welcome;
}

/**
 * After joining again: joins the rooms the client was in that the server
 * did not put it back in (a guest's; none after a takeover), the current
 * one last, then sends the lines not answered again with their ids.
 */
async function rejoin(
  server: ServerConnection,
  { rooms, pending }: Memory,
  was: { rooms: string[]; current: string | null } | null,
): Promise<void> {
  const direct = new Outbox(rooms, pending, (line) => server.send(line));
  try {
    await rooms.settled(); // where the server put the client
    if (was !== null) {
      const missing = was.rooms.filter((room) => !rooms.rooms.includes(room));
      await direct.join(missing.filter((room) => room !== was.current));
      if (was.current !== null && was.current !== rooms.current) {
        await direct.join([was.current]);
      }
    }
    for (const line of pending.unanswered()) {
      await direct.resend(tagLine(line.id, withRoom(line.room, line.text)));
    }
  } catch (e) {
    // The connection ended meanwhile: its reading says so.
    if (!(e instanceof Error)) throw e;
  }
}

/** The user quit: sends `/quit` and waits a little for the goodbye. */
async function quit(
  server: ServerConnection,
  reading: Promise<Ending>,
): Promise<SessionEnd> {
  await server.send("/quit").catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise((resolve) =>
    timer = setTimeout(resolve, QUIT_WAIT_MS)
  );
  await Promise.race([reading, waited]);
  clearTimeout(timer);
  return { kind: "exit", code: 0 };
}

/**
 * The dialogue of one connection: the hooks' print (noting a `BYE`), the
 * memory's state, and read marks sent a little after lines are shown.
 */
function dialogueOf(
  server: ServerConnection,
  memory: Memory,
  hooks: ChatHooks,
  sawBye: (line: ServerLine<"BYE">) => void,
): Dialogue {
  const { pending, rooms, resume, marks, link } = memory;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    timer = undefined;
    if (!link.open) return; // kept for the next connection
    for (const line of marks.take()) link.send(line).catch(() => {});
  };
  return {
    print: (line, room) => {
      if (typeof line !== "string" && line.type === "BYE") sawBye(line);
      hooks.print(line, room);
    },
    answer: (line) => hooks.answer(line, (text) => server.send(text)),
    pending,
    rooms,
    resume,
    warn: hooks.notice,
    seen: hooks.seen,
    pastShown: hooks.pastShown,
    shown: (room, seq, left) => {
      if (!hooks.account()) return;
      // A room left takes no mark: the server refuses `/read` there.
      if (left) return marks.forget(room);
      marks.shown(room, seq);
      timer ??= setTimeout(flush, READ_MARK_DELAY_MS);
    },
  };
}
