/**
 * Command-line flag tables and their parsing, shared by every role: a table
 * of flags (name, type, default, help) parsed strictly by `node:util`
 * `parseArgs`, helpers that turn flag text into range-checked values with
 * clear errors, and help text generated from the same table. Pure: it never
 * reads `Deno.args` itself.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** One flag of a role's table. */
export interface FlagSpec {
  readonly type: "string" | "boolean";
  readonly multiple?: boolean;
  /** Value placeholder shown in help, e.g. `N`. */
  readonly value?: string;
  readonly default?: string;
  readonly help: string;
}

/** A role's flags by name. */
export type FlagTable = Record<string, FlagSpec>;

/** Parsed values of a flag table, typed from the table itself. */
export type FlagValues<T extends FlagTable> = {
  [K in keyof T]: T[K]["type"] extends "boolean" ? boolean | undefined
    : T[K]["multiple"] extends true ? string[] | undefined
    : T[K]["default"] extends string ? string
    : string | undefined;
};

/**
 * Parses `args` against a flag table. Throws `TypeError` for an unknown flag
 * or a missing value.
 */
export function parseFlags<T extends FlagTable>(
  flags: T,
  args: readonly string[],
): { values: FlagValues<T>; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, spec]) => [name, {
      type: spec.type,
      multiple: spec.multiple ?? false,
      ...(spec.default === undefined ? {} : { default: spec.default }),
    }]),
  );
  try {
    return parseArgs({
      args: negativesJoined(flags, args),
      options,
      allowPositionals: true,
      strict: true,
    }) as unknown as { values: FlagValues<T>; positionals: string[] };
  } catch (e) {
    throw new TypeError(`Cannot parse arguments: ${parseProblem(e)}`, {
      cause: e,
    });
  }
}

/**
 * `--flag -1` as `--flag=-1`: `parseArgs` reads a negative number after a
 * flag that takes a value as an option, and says the flag needs a value;
 * joined, the range check says which values it takes.
 */
function negativesJoined(flags: FlagTable, args: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const flag = /^--([^=]+)$/.exec(args[i]!)?.[1];
    const next = args[i + 1];
    const takesValue = flag !== undefined && flags[flag]?.type === "string";
    if (takesValue && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${args[i]}=${next}`);
      i++;
    } else joined.push(args[i]!);
  }
  return joined;
}

/**
 * What `parseArgs` refused, in a few words: its own messages for an unknown
 * flag go on about positionals ("... place it at the end of the command
 * after '--', as in '-- "--bogus"").
 */
function parseProblem(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const flag = /'(-[^' ]*)/.exec(e.message)?.[1];
  const code = (e as { code?: unknown }).code;
  if (flag === undefined) return e.message;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    return `unknown option "${flag}"`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    return e.message.includes("does not take")
      ? `"${flag}" takes no value`
      : `"${flag}" needs a value`;
  }
  return e.message;
}

/** Formats a flag table as help text, one flag per line with its default. */
export function formatFlags(flags: FlagTable): string {
  const rows = Object.entries(flags).map(([name, spec]) => {
    const left = `  --${name}${spec.value ? ` ${spec.value}` : ""}`;
    const def = spec.default === undefined ? "" : ` (default ${spec.default})`;
    return [left, spec.help + def] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, help]) => left.padEnd(width) + help).join("\n");
}

/**
 * Reads a number flag: `TypeError` when it is not a (whole) number,
 * `RangeError` when it is outside `min`..`max`.
 */
export function toNumber(
  flag: string,
  text: string,
  min: number,
  max: number,
  integer = true,
): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    throw new TypeError(`Cannot use --${flag}: "${text}" is not a number`);
  }
  if (integer && !Number.isInteger(value)) {
    throw new TypeError(
      `Cannot use --${flag}: "${text}" is not a whole number`,
    );
  }
  if (value < min || value > max) {
    throw new RangeError(
      `Cannot use --${flag}: ${value} is out of range (${min} to ${max})`,
    );
  }
  return value;
}

/** Reads a duration flag given in seconds; returns milliseconds. */
export function toMilliseconds(
  flag: string,
  text: string,
  maxSeconds = 86_400,
): number {
  return Math.round(toNumber(flag, text, 0, maxSeconds, false) * 1000);
}

/** Reads a flag whose value must be one of `allowed`. */
export function oneOf<T extends string>(
  flag: string,
  text: string,
  allowed: readonly T[],
): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw new TypeError(
      `Cannot use --${flag}: "${text}" is not one of ${allowed.join(", ")}`,
    );
  }
  return text as T;
}

/** Reads a flag that must be one token of visible ASCII (a name). */
export function toToken(flag: string, text: string): string {
  if (!/^[\x21-\x7e]{1,64}$/.test(text)) {
    throw new TypeError(
      `Cannot use --${flag}: "${text}" must be 1 to 64 visible ASCII characters without spaces`,
    );
  }
  return text;
}

/** Throws unless there are no positional arguments. */
export function noPositionals(positionals: readonly string[]): void {
  if (positionals.length > 0) {
    throw new TypeError(
      `Cannot parse arguments: unexpected "${positionals.join(" ")}"`,
    );
  }
}

/**
 * The Deno permission flag that would have allowed what a `NotCapable`
 * error refused, naming the exact path or address (`--allow-read=FILE`), or
 * null when `error` is not a permission error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { missingPermission } from "./flags.ts";
 *
 * const error = new Deno.errors.NotCapable(
 *   'Requires read access to "some/dir/server.pem", run again with the --allow-read flag',
 * );
 * assert.equal(missingPermission(error), "--allow-read=some/dir/server.pem");
 * ```
 */
export function missingPermission(error: unknown): string | null {
  if (
    !(error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied)
  ) return null;
  const match = /Requires (\w+) access to "([^"]*)"/.exec(error.message);
  return match ? `--allow-${match[1]}=${match[2]}` : null;
}

/**
 * Whether listening failed because the address is in use, as `Deno.listen*`
 * says it (`AddrInUse`) or `node:net` (`code` `EADDRINUSE`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isAddressInUse } from "./flags.ts";
 *
 * assert.ok(isAddressInUse(new Deno.errors.AddrInUse("in use")));
 * assert.ok(isAddressInUse(Object.assign(new Error(), { code: "EADDRINUSE" })));
 * assert.ok(!isAddressInUse(new Error("other")));
 * ```
 */
export function isAddressInUse(error: unknown): boolean {
  return error instanceof Deno.errors.AddrInUse ||
    (error as { code?: unknown } | null)?.code === "EADDRINUSE";
}

/**
 * Asks for the permission to listen on `hostname:port` (on a terminal Deno
 * prompts, as it would), throwing Deno's own `NotCapable` error when it is
 * not granted: `node:net` throws it from a later tick, where no caller can
 * catch it (an uncaught stack trace instead of the flag to add).
 */
export function requestListen(hostname: string, port: number): void {
  const host = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  const { state } = Deno.permissions.requestSync({ name: "net", host });
  if (state === "granted") return;
  throw new Deno.errors.NotCapable(
    `Requires net access to "${host}", run again with the --allow-net flag`,
  );
}
