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
 * 0 after a normal quit, 1 on a connection or server error, 2 on bad usage.
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
} from "./lib/client/config.ts";
import {
  ClientError,
  connectToServer,
  loadCa,
  MAX_SERVER_LINE_BYTES,
  type ServerConnection,
} from "./lib/client/connection.ts";
import { formatForDisplay } from "./lib/client/display.ts";
import { Outbox } from "./lib/client/outbox.ts";
import { PendingLines } from "./lib/client/pending.ts";
import { RoomState } from "./lib/client/rooms.ts";
import { Prompt } from "./lib/client/prompt.ts";
import { formatFlags } from "./lib/flags.ts";
import { LineFramer } from "./lib/framing.ts";
import { readPasswordFile } from "./lib/password_file.ts";
import {
  awaitWelcome,
  type Ending,
  type PasswordAnswer,
  readServer,
} from "./lib/client/dialogue.ts";
import {
  parseHelloParams,
  parseServerLine,
  type ServerLine,
} from "./lib/server_lines.ts";

const USAGE = `Usage: client.ts [options]

Joins a TLS chat room. Type lines to chat; /help lists the commands.

Options:
${formatFlags(CLIENT_FLAGS)}`;

/** The capabilities the client asks for when the server offers them. */
const WANTED_CAPS = ["ids", "rooms"];

/** How long to wait for the server to confirm /quit before closing anyway. */
const QUIT_WAIT_MS = 3000;

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
  const color = Deno.stdout.isTerminal() && !Deno.noColor;
  let server: ServerConnection;
  let password: string | null;
  try {
    password = await readPassword(config.passwordFile);
    server = await connectToServer({
      ...config,
      ca: await loadCa(config),
      identity: await readIdentity(config),
    });
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    console.error(e.message);
    return 1;
  }
  try {
    return await greeted(server, config, { color, password });
  } finally {
    server.close();
  }
}

/**
 * Reads the greeting, asks for the capabilities the server offers that the
 * client knows, then runs on a terminal or a pipe; resolves to the exit
 * code.
 */
async function greeted(
  server: ServerConnection,
  config: ClientConfig,
  { color, password }: { color: boolean; password: string | null },
): Promise<number> {
  const hello = await readServerLine(server);
  if (hello?.type !== "HELLO") {
    console.error(
      `Cannot chat: ${config.hostname}:${config.port} is not a tlschat server (no greeting)`,
    );
    return 1;
  }
  // Send no faster than the server accepts: a client never gets itself
  // throttled or kicked for flooding, however much is piped into it.
  const params = parseHelloParams(hello.params);
  server.paceTo(params);
  // Line ids and rooms, if the server offers them (it says CAP before
  // WELCOME).
  const pending = new PendingLines();
  const rooms = new RoomState(config.alias ?? "");
  const caps = WANTED_CAPS.filter((cap) => params.caps?.includes(cap));
  if (caps.length > 0) await server.send(`/cap ${caps.join(" ")}`);
  const outbox = new Outbox(rooms, pending, (line) => server.send(line));
  const start = { hello, color, password, pending, rooms, outbox };
  return Deno.stdin.isTerminal()
    ? await runTerminal(server, config, start)
    : await runPipe(server, config, start);
}

/** What both modes start with. */
interface Start {
  readonly hello: ServerLine;
  readonly color: boolean;
  /** From --password-file; null: ask (terminal) or fail (pipe). */
  readonly password: string | null;
  /** Lines sent with ids (once the server turned them on). */
  readonly pending: PendingLines;
  /** Where the client is: alias, rooms (once the server turned them on). */
  readonly rooms: RoomState;
  /** What the client sends, each line to its room. */
  readonly outbox: Outbox;
}

/** Non-terminal mode: stdin lines out, server lines to stdout. */
async function runPipe(
  server: ServerConnection,
  config: ClientConfig,
  start: Start,
): Promise<number> {
  const { hello, color, password, pending, rooms, outbox } = start;
  const print = (line: ServerLine | string, room: string | null = null) => {
    // Scripts that want only what is said from now on are not surprised.
    if (!config.history && isHistory(line)) return;
    const text = formatForDisplay(line, { color, room });
    if (text !== null) console.log(text);
  };
  const answer: PasswordAnswer = async () => {
    if (password === null) {
      console.error(
        "The server asks for a password: give it with --password-file FILE",
      );
      return false;
    }
    await server.send(`/pass ${password}`);
    return true;
  };
  print(hello);
  await server.send(config.alias!);
  const dialogue = { print, answer, pending, rooms, warn: console.error };
  const joined = await awaitWelcome(server, dialogue);
  if (joined === "closed" || joined === "rejected") return 1;
  const reading = readServer(server, dialogue);
  // Joins --room, sends stdin (a line after /join goes to the room joined),
  // then /quit once every line was answered (one sent again included); the
  // server's BYE and close end the reading. The server may also close
  // first (kicked, shutdown): reading ends anyway.
  (async () => {
    await joinRooms(config, start);
    for await (const line of stdinLines()) await outbox.send(line);
    await Promise.race([outbox.idle(), reading]);
    await server.send("/quit");
  })().catch(() => {});
  return exitCode(await reading);
}

/**
 * Joins the --room rooms (sent once the server said the current room: it
 * must be read meanwhile), or says why not (a server without rooms).
 */
async function joinRooms(config: ClientConfig, { rooms, outbox }: Start) {
  if (config.rooms.length === 0 || rooms.enabled) {
    return await outbox.join(config.rooms);
  }
  console.error(
    `The server does not offer rooms: not joining ${config.rooms.join(", ")}`,
  );
}

/** Terminal mode: a prompt that incoming lines never overwrite. */
async function runTerminal(
  server: ServerConnection,
  config: ClientConfig,
  start: Start,
): Promise<number> {
  const { hello, color, password } = start;
  using prompt = new Prompt(color);
  const answer: PasswordAnswer = async () => {
    const given = password ?? await prompt.askSecret("Password: ");
    if (given === null) return false;
    await server.send(`/pass ${given}`);
    return true;
  };
  prompt.print(hello);
  const answers = { ...start, answer };
  const ended = await joinOnTerminal(server, config.alias, prompt, answers);
  if (ended !== null) return ended;
  // Sent once the server says where the client is (read from now on).
  joinRooms(config, start).catch(() => {});
  return await chatOnTerminal(server, prompt, answers);
}

/** How a session answers what the server asks on the way. */
interface Answers extends Start {
  readonly answer: PasswordAnswer;
}

/**
 * Sends the alias (asked for when none was given, and again after each
 * refusal) until the server welcomes it (null: joined), or resolves to an
 * exit code when the user quits or the connection ends.
 */
async function joinOnTerminal(
  server: ServerConnection,
  alias: string | null,
  prompt: Prompt,
  { answer, pending, rooms }: Answers,
): Promise<number | null> {
  while (true) {
    alias ??= await prompt.ask("Alias: ");
    if (alias === null || /^\/quit\b/i.test(alias)) return 0;
    await server.send(alias);
    const result = await awaitWelcome(server, {
      print: prompt.print,
      answer,
      pending,
      rooms,
      warn: console.error,
    });
    if (result === "closed") return 1;
    if (result !== "rejected") return null;
    alias = null; // rejected: ask again
  }
}

/**
 * Chats until the connection ends (its exit code) or the user quits: then
 * sends `/quit` and waits a little for the server's goodbye.
 */
async function chatOnTerminal(
  server: ServerConnection,
  prompt: Prompt,
  { answer, pending, rooms, outbox }: Answers,
): Promise<number> {
  prompt.start(rooms.prompt(), (line) => {
    if (line.trim() !== "") outbox.send(line).catch(() => {});
  });
  const reading = readServer(server, {
    print: (line, room) => {
      prompt.show(rooms.prompt(), false); // drawn under the line printed
      prompt.print(line, room);
    },
    answer,
    pending,
    rooms,
    warn: console.error,
    seen: () => prompt.show(rooms.prompt()),
  });
  const ended = await Promise.race([reading, prompt.quit.then(() => null)]);
  if (ended !== null) return exitCode(ended);
  await server.send("/quit").catch(() => {});
  const timer = Promise.withResolvers<null>();
  const id = setTimeout(() => timer.resolve(null), QUIT_WAIT_MS);
  await Promise.race([reading, timer.promise]);
  clearTimeout(id);
  return 0;
}

function isHistory(line: ServerLine | string): boolean {
  return typeof line !== "string" &&
    (line.type === "HIST" || line.type === "HISTEND");
}

function exitCode(ending: Ending): number {
  if (ending.bye?.reason === "quit") return 0;
  if (ending.bye === null) console.error("Server closed the connection");
  return 1;
}

async function readServerLine(
  server: ServerConnection,
): Promise<ServerLine | undefined> {
  const text = await server.readLine();
  return text === null ? undefined : parseServerLine(text);
}

/**
 * Reads the password to give from --password-file (its first line), warning
 * on stderr when other users may read the file (a short password is the
 * server's concern: it warns its owner).
 */
async function readPassword(file: string | null): Promise<string | null> {
  if (file === null) return null;
  let read;
  try {
    read = await readPasswordFile(file);
  } catch (e) {
    // Its own errors say it all; Deno's (not found, ...) need the file.
    const own = e instanceof Error && e.name === "Error";
    throw new ClientError(
      own
        ? e.message
        : `Cannot read --password-file "${file}": ${(e as Error).message}`,
      { cause: e },
    );
  }
  for (const warning of read.warnings) {
    if (warning.kind === "readable") {
      console.error(`Warning: --password-file "${file}": ${warning.text}`);
    }
  }
  return read.password;
}

/** Reads --cert and --key, for mutual TLS. */
async function readIdentity(
  config: ClientConfig,
): Promise<{ cert: string; key: string } | null> {
  if (config.certFile === null || config.keyFile === null) return null;
  try {
    return {
      cert: await Deno.readTextFile(config.certFile),
      key: await Deno.readTextFile(config.keyFile),
    };
  } catch (e) {
    throw new ClientError(
      `Cannot read the client certificate: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** Lines of stdin, decoded; over-long lines are reported and skipped. */
async function* stdinLines(): AsyncGenerator<string> {
  const framer = new LineFramer(MAX_SERVER_LINE_BYTES);
  const decoder = new TextDecoder();
  for await (const chunk of Deno.stdin.readable) {
    for (const line of framer.push(chunk)) {
      if (typeof line === "symbol") {
        console.error("Skipped a line of stdin: longer than 1 MiB");
        continue;
      }
      yield decoder.decode(line);
    }
  }
  const last = framer.flush();
  if (last !== null && typeof last !== "symbol") yield decoder.decode(last);
}

if (import.meta.main) {
  // Exit explicitly: a pending stdin read must not keep the process alive.
  Deno.exit(await main(Deno.args));
}
