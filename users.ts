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
 * deno task users unpin alice
 * deno task users del alice
 * deno task users list
 * ```
 *
 * Works while the server runs (the database is shared; changes take effect
 * at the next login, or at once for operator rights). Passwords are read
 * from a terminal without echo, twice, or from the first line of stdin, and
 * stored only as scrypt hashes. Exit codes: 0 done, 1 failed, 2 bad usage.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { X509Certificate } from "node:crypto";
import {
  type FlagTable,
  formatFlags,
  missingPermission,
  parseFlags,
} from "./lib/flags.ts";
import { Accounts } from "./lib/server/access/accounts.ts";
import { openStore } from "./lib/server/storage/store.ts";
import { promptSecret } from "./lib/terminal.ts";

const FLAGS = {
  "data-dir": {
    type: "string",
    value: "DIR",
    default: "data",
    help: "The server's data directory",
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
                     no password does (the server needs --client-ca)
  unpin ALIAS        the password, and any valid client certificate named
                     ALIAS, log in again
  list               list the accounts

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
  const [command = "", alias = "", file] = positionals;
  const arity = new Map([
    ["add", 2],
    ["passwd", 2],
    ["del", 2],
    ["op", 2],
    ["deop", 2],
    ["pin", 3],
    ["unpin", 2],
    ["list", 1],
  ]);
  if (arity.get(command) !== positionals.length) {
    console.error(
      arity.has(command)
        ? `Wrong arguments for "${command}"; run with --help for usage.`
        : `Unknown command "${command}"; run with --help for usage.`,
    );
    return 2;
  }
  try {
    using store = openStore(values["data-dir"]);
    const accounts = new Accounts(store.db);
    return await run(accounts, command, alias, file);
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

async function run(
  accounts: Accounts,
  command: string,
  alias: string,
  file: string | undefined,
): Promise<number> {
  const missing = () => {
    console.error(`No account "${alias}"`);
    return 1;
  };
  switch (command) {
    case "list": {
      const list = accounts.list();
      for (const account of list) {
        const marks = [
          account.operator ? "operator" : "",
          account.fingerprint ? `pinned ${account.fingerprint}` : "",
        ].filter((m) => m !== "").join(", ");
        console.log(marks ? `${account.alias} (${marks})` : account.alias);
      }
      console.error(
        `${list.length} ${list.length === 1 ? "account" : "accounts"}`,
      );
      return 0;
    }
    case "add": {
      if (accounts.get(alias)) {
        console.error(`Cannot add "${alias}": it is already registered`);
        return 1;
      }
      const password = await readNewPassword(alias);
      if (password === null) return 1;
      const account = await accounts.add(alias, password);
      console.log(`Added ${account.alias}`);
      return 0;
    }
    case "passwd": {
      if (!accounts.get(alias)) return missing();
      const password = await readNewPassword(alias);
      if (password === null) return 1;
      await accounts.setPassword(alias, password);
      console.log(`New password set for ${alias}`);
      return 0;
    }
    case "del":
      if (!accounts.remove(alias)) return missing();
      console.log(`Deleted ${alias}`);
      return 0;
    case "op":
    case "deop":
      if (!accounts.setOperator(alias, command === "op")) return missing();
      console.log(
        command === "op"
          ? `${alias} is an operator`
          : `${alias} is no longer an operator`,
      );
      return 0;
    case "pin": {
      let fingerprint: string;
      try {
        fingerprint = new X509Certificate(await Deno.readTextFile(file!))
          .fingerprint256;
      } catch (e) {
        if (missingPermission(e) !== null) throw e;
        console.error(
          `Cannot read a certificate from "${file}": ${(e as Error).message}`,
        );
        return 1;
      }
      if (!accounts.setFingerprint(alias, fingerprint)) return missing();
      console.log(
        `${alias} logs in with the certificate ${fingerprint} only, never with a password (the server needs --client-ca)`,
      );
      return 0;
    }
    case "unpin":
      if (!accounts.setFingerprint(alias, null)) return missing();
      console.log(
        `${alias} has no pinned certificate: its password logs in again`,
      );
      return 0;
  }
  return 2;
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
