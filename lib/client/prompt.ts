/**
 * The terminal client's prompt: readline on stdin, questions (a secret
 * without echo), and once joined a prompt with the member's alias and room
 * (unread counts of its other rooms too) that incoming lines never
 * overwrite: each is printed above it, and the half-typed line redrawn, cut
 * to the terminal's width with its further rows indented (`wrap.ts`). It
 * writes to the terminal (stdout) and nowhere else; what a line looks like
 * is display.ts's.
 *
 * @module
 */

import process from "node:process";
import * as readline from "node:readline";
import { Writable } from "node:stream";
import { type ServerLine } from "../server_lines.ts";
import { formatForDisplay } from "./display.ts";
import { carriesKey } from "./room_names.ts";
import { wrapLine } from "./wrap.ts";

/** The terminal's prompt, for the whole session; dispose of it to close. */
export class Prompt implements Disposable {
  /** Resolves when the user quits (Ctrl-C, Ctrl-D) or the prompt closes. */
  readonly quit: Promise<void>;
  readonly #color: boolean;
  // Readline echoes what is typed through this output; muted, it echoes
  // nothing (passwords).
  readonly #output = new MutableOutput();
  readonly #rl: readline.Interface;
  #prompting = false;

  constructor(color: boolean) {
    this.#color = color;
    this.#rl = readline.createInterface({
      input: process.stdin,
      output: this.#output,
      terminal: true,
      historySize: 200,
    });
    const quit = Promise.withResolvers<void>();
    this.quit = quit.promise;
    this.#rl.on("SIGINT", () => quit.resolve());
    this.#rl.on("close", () => {
      this.#prompting = false;
      quit.resolve();
    });
  }

  /**
   * Prints a server line above the prompt (with the time, and its room
   * and when what it shows was set when given), if it is shown.
   */
  print = (
    line: ServerLine | string,
    room: string | null = null,
    setAt?: Date,
  ): void => {
    const text = formatForDisplay(line, {
      color: this.#color,
      time: new Date(),
      room,
      setAt,
    });
    if (text === null) return;
    const { stdout } = process;
    readline.clearLine(stdout, 0);
    readline.cursorTo(stdout, 0);
    // Cut to the width here: nobody's text can start a row of its own.
    stdout.write(wrapLine(text, stdout.columns) + "\n");
    // Redraw the prompt and whatever was typed, cursor where it was.
    if (this.#prompting) this.#rl.prompt(true);
  };

  /** Asks a question until answered; null when the user quits instead. */
  async ask(question: string): Promise<string | null> {
    while (true) {
      const answer = await Promise.race([
        new Promise<string>((resolve) => this.#rl.question(question, resolve)),
        this.quit.then(() => null),
      ]);
      if (answer === null) return null;
      if (answer.trim() !== "") return answer.trim();
    }
  }

  /** Asks for a secret without echo; null when the user quits instead. */
  async askSecret(question: string): Promise<string | null> {
    process.stdout.write(question);
    this.#output.muted = true;
    try {
      return await Promise.race([
        new Promise<string>((resolve) => this.#rl.question("", resolve)),
        this.quit.then(() => null),
      ]);
    } finally {
      this.#output.muted = false;
      process.stdout.write("\n");
    }
  }

  /**
   * Shows the prompt `text` (see {@linkcode Prompt.show}); each line typed
   * is handed to `onLine` and replaced on screen by the server's echo, as
   * chat clients do.
   */
  start(text: string, onLine: (line: string) => void): void {
    this.#rl.setPrompt("> ");
    this.show(text);
    this.#prompting = true;
    this.#rl.prompt();
    this.#rl.on("line", (line: string) => {
      readline.moveCursor(process.stdout, 0, -1);
      readline.clearLine(process.stdout, 0);
      // A room's key is not recalled with the up arrow.
      if (carriesKey(line)) this.#history.shift();
      onLine(line);
      this.#rl.prompt();
    });
  }

  /**
   * Sets the prompt's text (`alias #room> `, from `RoomState.prompt`, which
   * only takes well-formed aliases and room names), redrawn at once when
   * it changed, unless `redraw` is false (a line printed next redraws it).
   */
  show(text: string, redraw = true): void {
    if (text === this.#rl.getPrompt()) return;
    this.#rl.setPrompt(text);
    if (!this.#prompting || !redraw) return;
    readline.clearLine(process.stdout, 0);
    readline.cursorTo(process.stdout, 0);
    this.#rl.prompt(true);
  }

  /** What readline recalls (newest first): a field its types leave out. */
  get #history(): string[] {
    return (this.#rl as unknown as { history: string[] }).history;
  }

  /**
   * Closes the prompt, erasing it (and anything half typed) from the screen
   * so that what the terminal shows next starts on a line of its own.
   */
  [Symbol.dispose](): void {
    if (this.#prompting) {
      readline.clearLine(process.stdout, 0);
      readline.cursorTo(process.stdout, 0);
    }
    this.#prompting = false;
    this.#rl.close();
  }
}

/**
 * Readline's output: the terminal, or nothing while muted (so that what is
 * typed at a password prompt is not echoed).
 */
class MutableOutput extends Writable {
  muted = false;
  readonly isTTY = true;

  constructor() {
    super();
    process.stdout.on("resize", () => this.emit("resize"));
  }

  get columns(): number {
    return process.stdout.columns;
  }

  get rows(): number {
    return process.stdout.rows;
  }

  override _write(
    chunk: Uint8Array | string,
    _encoding: string,
    done: () => void,
  ): void {
    if (!this.muted) process.stdout.write(chunk);
    done();
  }
}
