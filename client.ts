/**
 * tlschat terminal client: joins a room over TLS.
 *
 * ```sh
 * deno task client                                   # localhost:7443, certs/ca.pem
 * deno run --allow-net=chat.example:7443 --allow-read=ca.pem client.ts \
 *   --host chat.example --ca ca.pem --alias alice
 * printf 'hello\n' | deno task client --alias bot    # scripts: stdin in, stdout out
 * ```
 *
 * On a terminal it asks for an alias when `--alias` is missing, keeps the
 * half-typed line intact while messages arrive, colours aliases (unless
 * `NO_COLOR` is set) and leaves on `/quit`, Ctrl-C or Ctrl-D. Without a
 * terminal it sends each stdin line and prints each received line, and exits
 * once stdin ends and the server has answered every line. Exit codes:
 * 0 after a normal quit, 1 on a connection or server error, 2 on bad usage,
 * and in a pipe 3 when it ended normally but the server refused a line it
 * sent (an `ERR`: muted, not stored, ...) or left one in doubt, or a line
 * of stdin was too long to send.
 *
 * With a server that offers the `ids` capability, every message and action
 * carries an id: the client shows each echo once, shows a line the server
 * could not store as not sent, and sends a line whose fate the server does
 * not know (`ERR unknown`) once more with the same id, which cannot store
 * it twice.
 *
 * With a server that offers `rooms`, each line goes to the current room
 * (`/join #room` switches; `--room #ops` joins at start), the prompt shows
 * it and the unread messages of the others, and a line after `/join` waits
 * for the server to say the room is joined.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import {
  CLIENT_FLAGS,
  type ClientConfig,
  parseClientArgs,
  type ServerAddress,
} from "./lib/client/config.ts";
import {
  ClientError,
  connectToServer,
  loadCa,
  MAX_SERVER_LINE_BYTES,
  type ServerConnection,
  type TrustedCa,
} from "./lib/client/connection.ts";
import { formatForDisplay, isHistory } from "./lib/client/display.ts";
import { Outbox } from "./lib/client/outbox.ts";
import { EXIT_NOT_DELIVERED, PipeOutcome } from "./lib/client/pipe_outcome.ts";
import { readLines } from "./lib/client/stdin_lines.ts";
import { PendingLines } from "./lib/client/pending.ts";
import { ReadMarks, ResumeState } from "./lib/client/resume.ts";
import { RoomState } from "./lib/client/rooms.ts";
import { Prompt } from "./lib/client/prompt.ts";
import { wrapLine } from "./lib/client/wrap.ts";
import {
  type AnswerOn,
  chat,
  type ChatHooks,
  type Memory,
} from "./lib/client/session.ts";
import { Link } from "./lib/client/link.ts";
import { formatFlags } from "./lib/flags.ts";
import { readIdentity, readPassword } from "./lib/client/credentials.ts";
import { awaitWelcome, type Dialogue } from "./lib/client/dialogue.ts";
import type { ServerLine } from "./lib/server_lines.ts";

const USAGE = `Usage: client.ts [options]

Joins a TLS chat room. Type lines to chat; /help lists the commands.

Options:
${formatFlags(CLIENT_FLAGS)}`;

/** Most lines typed while reconnecting that wait to be sent. */
const MAX_WAITING_LINES = 100;

/** Runs the client; resolves to the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let config: ClientConfig;
  try {
    config = parseClientArgs(args);
  } catch (e) {
    console.error(`${(e as Error).message}\nRun with --help for usage.`);
    return 2;
  }
  if (config.help) {
    console.log(USAGE);
    return 0;
  }
  const interactive = Deno.stdin.isTerminal();
  if (!interactive && config.alias === null) {
    console.error(
      "Missing --alias: it is required when stdin is not a terminal",
    );
    return 2;
  }
  let start: Start;
  try {
    start = await prepare(config);
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    console.error(e.message);
    return 1;
  }
  return interactive ? await runTerminal(start) : await runPipe(start);
}

/** What both modes start with, kept across connections. */
interface Start extends Memory {
  readonly config: ClientConfig;
  readonly color: boolean;
  /** From --password-file; null: ask (terminal) or fail (pipe). */
  readonly password: string | null;
  /** Connects to one server (the CA and certificate read once). */
  readonly connect: (server: ServerAddress) => Promise<ServerConnection>;
  /** What the client sends, each line to its room, once connected. */
  readonly outbox: Outbox;
}

/** Reads the password, CA and certificate once, and makes the state. */
async function prepare(config: ClientConfig): Promise<Start> {
  const password = await readPassword(config.passwordFile, console.error);
  const ca: TrustedCa = await loadCa(config);
  const identity = await readIdentity(config);
  const pending = new PendingLines();
  const rooms = new RoomState(config.alias ?? "");
  const link = new Link();
  return {
    config,
    color: Deno.stdout.isTerminal() && !Deno.noColor,
    password,
    connect: (server) => connectToServer({ ...server, ca, identity }),
    pending,
    rooms,
    resume: new ResumeState(),
    marks: new ReadMarks(),
    link,
    outbox: new Outbox(rooms, pending, (line) => link.send(line), link),
  };
}

/** Chats with the hooks of a mode, over as many connections as it takes. */
function chatWith(start: Start, hooks: ChatHooks): Promise<number> {
  const { config } = start;
  return chat(start, hooks, {
    servers: config.servers,
    reconnect: config.reconnect,
    connect: start.connect,
  });
}

/**
 * Non-terminal mode: stdin lines out, server lines to stdout; the exit
 * code says whether every line was delivered (see {@linkcode PipeOutcome}).
 */
async function runPipe(start: Start): Promise<number> {
  const outcome = new PipeOutcome();
  const code = outcome.exitCode(await chatPiped(start, outcome));
  if (code === EXIT_NOT_DELIVERED) console.error(outcome.summary());
  return code;
}

/** Chats with stdin and stdout, telling `outcome` what it sees. */
async function chatPiped(start: Start, outcome: PipeOutcome): Promise<number> {
  const { config, color, password } = start;
  const onTerminal = Deno.stdout.isTerminal();
  let history = config.history;
  const print = (
    line: ServerLine | string,
    room: string | null = null,
    setAt?: Date,
  ) => {
    outcome.see(line);
    // History only with --history, or once asked for (/history).
    if (!history && isHistory(line)) return;
    // Isolates (FSI…PDI) and rows cut to its width are for a terminal.
    const isolate = onTerminal;
    const text = formatForDisplay(line, { color, room, isolate, setAt });
    if (text === null) return;
    console.log(onTerminal ? wrapLine(text, Deno.consoleSize().columns) : text);
  };
  let account = config.certFile !== null;
  let leaving = false;
  const answer: AnswerOn = async (line, send) => {
    if (password === null) {
      console.error(
        "The server asks for a password: give it with --password-file FILE",
      );
      return false;
    }
    if (line.kind === "account") account = true;
    await send(`/pass ${password}`);
    return true;
  };
  return await chatWith(start, {
    print,
    pastShown: config.history,
    notice: console.error,
    answer,
    chooseAlias: async (server, dialogue) => {
      await server.send(config.alias!);
      const joined = await awaitWelcome(server, dialogue);
      return typeof joined === "string" ? 1 : joined;
    },
    started: () => {
      sendStdin(start, outcome, (line) => {
        history ||= /^(#\S+ +)?\/history\b/i.test(line);
      }).then(() => leaving = true, () => {});
    },
    // null: joined (an ERR from now on refuses a line sent).
    status: (text) => outcome.joined = text === null,
    quit: new Promise(() => {}),
    leaving: () => leaving,
    account: () => account,
  });
}

/**
 * Joins --room, sends stdin (after /join, to the room joined; each line
 * given to `seen` first), then /quit once every line was answered (sent
 * again after a reconnect too). A line too long to send is skipped, said,
 * and told to `outcome`.
 */
async function sendStdin(
  start: Start,
  outcome: PipeOutcome,
  seen: (line: string) => void,
): Promise<void> {
  await joinRooms(start);
  const skipped = () => {
    outcome.skipped();
    console.error("Skipped a line of stdin: longer than 1 MiB");
  };
  const max = MAX_SERVER_LINE_BYTES;
  for await (const line of readLines(Deno.stdin.readable, max, skipped)) {
    seen(line);
    await start.outbox.send(line);
  }
  await start.outbox.idle();
  await start.outbox.send("/quit");
}

/**
 * Joins the --room rooms (sent once the server said the current room: it
 * must be read meanwhile), or says why not (a server without rooms).
 */
async function joinRooms({ config, rooms, outbox }: Start) {
  if (config.rooms.length === 0 || rooms.enabled) {
    return await outbox.join(config.rooms);
  }
  console.error(
    `The server does not offer rooms: not joining ${config.rooms.join(", ")}`,
  );
}

/** Terminal mode: a prompt that incoming lines never overwrite. */
async function runTerminal(start: Start): Promise<number> {
  const { config, color, rooms, outbox, link } = start;
  using prompt = new Prompt(color);
  const typedQuit = Promise.withResolvers<void>();
  let status: string | null = null;
  let prompting = false;
  let leaving = false;
  const print = (line: ServerLine | string, room: string | null = null) => {
    prompt.show(rooms.prompt(status), false); // drawn under the line printed
    prompt.print(line, room);
  };
  const passwords = terminalPasswords(start, prompt);
  return await chatWith(start, {
    print: (line, room) => {
      passwords.seen(line);
      print(line, room);
    },
    notice: (text) =>
      prompting ? print({ type: "INFO", text }) : console.error(text),
    seen: () => prompt.show(rooms.prompt(status)),
    answer: passwords.answer,
    chooseAlias: (server, dialogue) =>
      chooseAlias(server, config.alias, prompt, dialogue, passwords.again),
    started: () => {
      prompting = true;
      prompt.start(rooms.prompt(), (line) => {
        if (line.trim() === "") return;
        const quitting = /^\/quit\b/i.test(line.trim());
        if (quitting && !link.open) return typedQuit.resolve();
        if (!link.open && outbox.waiting >= MAX_WAITING_LINES) {
          const text =
            `Not sent (too many lines wait for the connection): ${line}`;
          return print({ type: "ERR", code: "", text });
        }
        outbox.send(line).then(() => leaving ||= quitting, () => {});
      });
      // Sent once the server says where the client is (read from now on).
      joinRooms(start).catch(() => {});
    },
    status: (text) => {
      status = text;
      prompt.show(rooms.prompt(status));
    },
    quit: Promise.race([prompt.quit, typedQuit.promise]),
    leaving: () => leaving,
    account: passwords.account,
  });
}

/**
 * The passwords of a terminal session: from --password-file, else asked
 * once and given again on reconnecting; forgotten when the server says one
 * was wrong, and a wrong one typed for an account is asked `again` (asked
 * for an alias instead, people typed it there, and joined under it).
 */
function terminalPasswords({ config, password }: Start, prompt: Prompt) {
  const given = new Map<string, string>();
  let account = config.certFile !== null;
  let [typed, again] = [false, false]; // typed: an account's, not empty
  const answer: AnswerOn = async (line, send) => {
    const asked = password === null && !given.has(line.kind);
    const secret = password ?? given.get(line.kind) ??
      await prompt.askSecret("Password: ");
    if (secret === null) return false;
    given.set(line.kind, secret);
    if (line.kind === "account") account = true;
    typed = line.kind === "account" && asked && secret !== "";
    await send(`/pass ${secret}`);
    return true;
  };
  const seen = (line: ServerLine | string) => {
    if (typeof line === "string" || line.type !== "ERR") return;
    again = line.code === "login-failed" && typed;
    if (line.code === "password-wrong") given.delete("room");
    if (line.code === "login-failed") given.delete("account");
  };
  return { answer, seen, account: () => account, again: () => again };
}

/**
 * Sends the alias (asked for when none was given, and after a refusal but
 * a wrong password typed: `again`) until the server welcomes it, or
 * resolves to an exit code when the user quits or the connection ends.
 */
async function chooseAlias(
  server: ServerConnection,
  alias: string | null,
  prompt: Prompt,
  dialogue: Dialogue,
  again: () => boolean,
): Promise<ServerLine<"WELCOME"> | number> {
  while (true) {
    alias ??= await prompt.ask("Alias: ");
    if (alias === null || /^\/quit\b/i.test(alias)) return 0;
    await server.send(alias);
    const result = await awaitWelcome(server, dialogue);
    if (result === "closed") return 1;
    if (result !== "rejected") return result;
    if (!again()) alias = null; // rejected: ask again
  }
}

if (import.meta.main) {
  // Exit explicitly: a pending stdin read must not keep the process alive.
  Deno.exit(await main(Deno.args));
}
