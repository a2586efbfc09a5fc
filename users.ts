/**
 * tlschat accounts: registered aliases, their passwords, operators and
 * pinned client certificates, in the server's data directory.
 *
 * ```sh
 * deno task users add alice              # asks the password twice (or reads stdin)
 * deno task users passwd alice
 * deno task users op alice               # an operator: /kick, /ban, /mute, /topic
 * deno task users deop alice
 * deno task users pin alice certs/client-alice.pem   # only this certificate logs in, no password
 * deno task users pin alice FILE --any-name          # one whose CN is not "alice"
 * deno task users unpin alice
 * deno task users del alice
 * deno task users list
 * ```
 *
 * Works while the server runs (the database is shared; changes take effect
 * at the next login, or at once for operator rights). Only `add` creates the
 * data directory and its database; the other commands refuse a directory
 * without one (a mistyped `--data-dir`) and create nothing. Passwords are read
 * from a terminal without echo, twice, or from the first line of stdin, and
 * stored only as scrypt hashes. Exit codes: 0 done, 1 failed, 2 bad usage.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { type CertificateRole, certificateRole } from "./lib/cert_authority.ts";
import {
  type FlagTable,
  formatFlags,
  missingPermission,
  parseFlags,
} from "./lib/flags.ts";
import { join } from "node:path";
import { Accounts } from "./lib/server/access/accounts.ts";
import { DATABASE_FILE, openStore } from "./lib/server/storage/store.ts";
import { promptSecret } from "./lib/terminal.ts";

const FLAGS = {
  "data-dir": {
    type: "string",
    value: "DIR",
    default: "data",
    help: "The server's data directory",
  },
  "any-name": {
    type: "boolean",
    help: "pin: take a certificate whose subject CN is not the account's alias",
  },
  help: { type: "boolean", help: "Show this help" },
} as const satisfies FlagTable;

const USAGE = `Usage: users.ts COMMAND [ALIAS] [options]

Manages the accounts (registered aliases) of a tlschat server.

Commands:
  add ALIAS          register ALIAS; asks for its password (or reads stdin)
  passwd ALIAS       set a new password
  del ALIAS          delete the account
  op ALIAS           make it an operator
  deop ALIAS         take operator rights away
  pin ALIAS FILE     only the client certificate in FILE (PEM) logs in as ALIAS:
                     no password does (the server needs --client-ca). Refused:
                     a CA certificate, one pinned to another account, and one
                     whose subject CN is another name (unless --any-name)
  unpin ALIAS        the password, and any valid client certificate named
                     ALIAS, log in again
  list               list the accounts

Only add creates the data directory and its database; the other commands
refuse a directory without one.

Options:
${formatFlags(FLAGS)}`;

/** Minimum password length. */
const MIN_PASSWORD_LENGTH = 8;

/** Runs the command; resolves to the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseFlags(FLAGS, args));
  } catch (e) {
    console.error(`${(e as Error).message}\nRun with --help for usage.`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [command = "", alias = "", file = ""] = positionals;
  const known = Object.hasOwn(COMMANDS, command) ? COMMANDS[command]! : null;
  if (known?.arity !== positionals.length) {
    console.error(
      command === ""
        ? `Missing the command (${
          Object.keys(COMMANDS).join(", ")
        }); run with --help for usage.`
        : known !== null
        ? `Wrong arguments for "${command}"; run with --help for usage.`
        : `Unknown command "${command}"; run with --help for usage.`,
    );
    return 2;
  }
  try {
    const dir = values["data-dir"];
    if (!known.creates && !hasDatabase(dir)) {
      console.error(
        `No database in "${dir}": check --data-dir (the server, or "users add", creates one); nothing was created`,
      );
      return 1;
    }
    using store = openStore(dir);
    const accounts = new Accounts(store.db);
    const anyName = values["any-name"] ?? false;
    return await known.run({ accounts, alias, file, anyName });
  } catch (e) {
    const flag = missingPermission(e);
    console.error(
      flag === null
        ? (e as Error).message
        : `${(e as Error).message}. Run with ${flag}`,
    );
    return 1;
  }
}

/**
 * Whether `dir` holds a database. Asked before opening it, which would
 * create the directory and an empty database.
 */
function hasDatabase(dir: string): boolean {
  try {
    return Deno.statSync(join(dir, DATABASE_FILE)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * What a command is given: the accounts, its alias, and (`pin`) a file and
 * whether its certificate may name another alias.
 */
interface Call {
  readonly accounts: Accounts;
  readonly alias: string;
  readonly file: string;
  readonly anyName: boolean;
}

/**
 * Every command: how many positionals it takes (its own name included),
 * whether it may create the database, and what it does, resolving to the
 * exit code.
 */
const COMMANDS: Readonly<
  Record<string, {
    readonly arity: number;
    readonly creates?: boolean;
    readonly run: (call: Call) => number | Promise<number>;
  }>
> = {
  add: { arity: 2, creates: true, run: add },
  passwd: { arity: 2, run: passwd },
  del: { arity: 2, run: del },
  op: { arity: 2, run: (call) => setOperator(call, true) },
  deop: { arity: 2, run: (call) => setOperator(call, false) },
  pin: { arity: 3, run: pin },
  unpin: { arity: 2, run: unpin },
  list: { arity: 1, run: list },
};

/** Says there is no such account; the exit code for it. */
function missing(alias: string): number {
  console.error(`No account "${alias}"`);
  return 1;
}

function list({ accounts }: Call): number {
  const all = accounts.list();
  for (const account of all) {
    const marks = [
      account.operator ? "operator" : "",
      account.fingerprint ? `pinned ${account.fingerprint}` : "",
    ].filter((m) => m !== "").join(", ");
    console.log(marks ? `${account.alias} (${marks})` : account.alias);
  }
  console.error(`${all.length} ${all.length === 1 ? "account" : "accounts"}`);
  return 0;
}

async function add({ accounts, alias }: Call): Promise<number> {
  // Before the password is asked: an alias taken, or one that would pass
  // for another account (`a1ice` beside `alice`), is refused.
  const refusal = accounts.refusal(alias);
  if (refusal !== null) {
    console.error(refusal);
    return 1;
  }
  const password = await readNewPassword(alias);
  if (password === null) return 1;
  const account = await accounts.add(alias, password);
  console.log(`Added ${account.alias}`);
  return 0;
}

async function passwd({ accounts, alias }: Call): Promise<number> {
  if (!accounts.get(alias)) return missing(alias);
  const password = await readNewPassword(alias);
  if (password === null) return 1;
  await accounts.setPassword(alias, password);
  console.log(`New password set for ${alias}`);
  return 0;
}

function del({ accounts, alias }: Call): number {
  if (!accounts.remove(alias)) return missing(alias);
  console.log(`Deleted ${alias}`);
  return 0;
}

function setOperator({ accounts, alias }: Call, operator: boolean): number {
  if (!accounts.setOperator(alias, operator)) return missing(alias);
  console.log(
    operator ? `${alias} is an operator` : `${alias} is no longer an operator`,
  );
  return 0;
}

async function pin({ accounts, alias, file, anyName }: Call): Promise<number> {
  let cert: CertificateRole;
  try {
    cert = await certificateRole(await Deno.readTextFile(file));
  } catch (e) {
    if (missingPermission(e) !== null) throw e;
    console.error(
      `Cannot read a certificate from "${file}": ${(e as Error).message}`,
    );
    return 1;
  }
  if (!accounts.get(alias)) return missing(alias);
  const refusal = accounts.pinRefusal(alias, cert, anyName);
  if (refusal !== null) {
    console.error(refusal);
    return 1;
  }
  accounts.setFingerprint(alias, cert.fingerprint);
  console.log(
    `${alias} logs in with the certificate ${cert.fingerprint} only, never with a password (the server needs --client-ca)`,
  );
  return 0;
}

function unpin({ accounts, alias }: Call): number {
  if (!accounts.setFingerprint(alias, null)) return missing(alias);
  console.log(`${alias} has no pinned certificate: its password logs in again`);
  return 0;
}

/**
 * A new password: asked twice without echo on a terminal, or the first line
 * of stdin. Null (after saying why) when it is refused or given up.
 */
async function readNewPassword(alias: string): Promise<string | null> {
  let password: string | null;
  if (Deno.stdin.isTerminal()) {
    password = await promptSecret(`Password for ${alias}: `);
    const again = password === null ? null : await promptSecret("Again: ");
    if (password === null || again === null) return null;
    if (password !== again) {
      console.error("The two passwords differ; nothing was changed");
      return null;
    }
  } else {
    const text = await new Response(Deno.stdin.readable).text();
    password = text.split(/\r?\n/)[0] ?? "";
  }
  if (password.length < MIN_PASSWORD_LENGTH) {
    console.error(
      `A password needs at least ${MIN_PASSWORD_LENGTH} characters; nothing was changed`,
    );
    return null;
  }
  return password;
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
