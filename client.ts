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
import { PendingLines } from "./lib/client/pending.ts";
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
    // Line ids, if the server offers them (it says CAP before WELCOME).
    const pending = new PendingLines();
    if (params.caps?.includes("ids")) await server.send("/cap ids");
    const start = { hello, color, password, pending };
    return interactive
      ? await runTerminal(server, config, start)
      : await runPipe(server, config, start);
  } finally {
    server.close();
  }
}

/** What both modes start with. */
interface Start {
  readonly hello: ServerLine;
  readonly color: boolean;
  /** From --password-file; null: ask (terminal) or fail (pipe). */
  readonly password: string | null;
  /** Lines sent with ids (once the server turned them on). */
  readonly pending: PendingLines;
}

/** Non-terminal mode: stdin lines out, server lines to stdout. */
async function runPipe(
  server: ServerConnection,
  config: ClientConfig,
  { hello, color, password, pending }: Start,
): Promise<number> {
  const print = (line: ServerLine | string) => {
    // Scripts that want only what is said from now on are not surprised.
    if (!config.history && isHistory(line)) return;
    const text = formatForDisplay(line, { color });
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
  const dialogue = { print, answer, pending, warn: console.error };
  const joined = await awaitWelcome(server, dialogue);
  if (joined === "closed" || joined === "rejected") return 1;
  const reading = readServer(server, dialogue);
  // Sends stdin, then /quit once every line was answered (one sent again
  // included); the server's BYE and close end the reading. The server may
  // also close first (kicked, shutdown): reading ends anyway.
  (async () => {
    for await (const line of stdinLines()) {
      await server.send(pending.tag(line));
    }
    await Promise.race([pending.idle(), reading]);
    await server.send("/quit");
  })().catch(() => {});
  return exitCode(await reading);
}

/** Terminal mode: a prompt that incoming lines never overwrite. */
async function runTerminal(
  server: ServerConnection,
  config: ClientConfig,
  { hello, color, password, pending }: Start,
): Promise<number> {
  using prompt = new Prompt(color);
  const answer: PasswordAnswer = async () => {
    const given = password ?? await prompt.askSecret("Password: ");
    if (given === null) return false;
    await server.send(`/pass ${given}`);
    return true;
  };
  prompt.print(hello);
  const self = await joinOnTerminal(server, config.alias, prompt, {
    answer,
    pending,
  });
  if (typeof self === "number") return self;
  return await chatOnTerminal(server, self, prompt, { answer, pending });
}

/** How a session answers what the server asks on the way. */
interface Answers {
  readonly answer: PasswordAnswer;
  readonly pending: PendingLines;
}

/**
 * Sends the alias (asked for when none was given, and again after each
 * refusal) until the server welcomes it; resolves to the alias joined as,
 * or to an exit code when the user quits or the connection ends.
 */
async function joinOnTerminal(
  server: ServerConnection,
  alias: string | null,
  prompt: Prompt,
  { answer, pending }: Answers,
): Promise<string | number> {
  while (true) {
    alias ??= await prompt.ask("Alias: ");
    if (alias === null || /^\/quit\b/i.test(alias)) return 0;
    await server.send(alias);
    const result = await awaitWelcome(server, {
      print: prompt.print,
      answer,
      pending,
      warn: console.error,
    });
    if (result === "closed") return 1;
    if (result !== "rejected") return result.alias;
    alias = null; // rejected: ask again
  }
}

/**
 * Chats until the connection ends (its exit code) or the user quits: then
 * sends `/quit` and waits a little for the server's goodbye.
 */
async function chatOnTerminal(
  server: ServerConnection,
  self: string,
  prompt: Prompt,
  { answer, pending }: Answers,
): Promise<number> {
  prompt.start(self, (line) => {
    if (line.trim() !== "") server.send(pending.tag(line)).catch(() => {});
  });
  const reading = readServer(server, {
    print: (line) => {
      if (
        typeof line !== "string" && line.type === "NICK" &&
        line.alias === self
      ) {
        self = line.newAlias;
        prompt.setAlias(self);
      }
      prompt.print(line);
    },
    answer,
    pending,
    warn: console.error,
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
