/**
 * The password file (`--password-file`) of the server and of the client:
 * one rule for both. The password is the file's first line, as it is
 * (spaces kept, CR LF or LF ending it); an empty first line is refused. A
 * password shorter than {@linkcode MIN_PASSWORD_FILE_LENGTH} or a file
 * that other users (group or others) may read is accepted with warnings,
 * for the caller to show.
 *
 * @module
 */

/**
 * Length below which a password file's password gets a warning. It is one
 * secret shared by everyone in the room and guessed online only (slowly:
 * see the login limits), so a passphrase of a few words is enough.
 */
export const MIN_PASSWORD_FILE_LENGTH = 12;

/** Something wrong with a password file, worth a warning. */
export interface PasswordFileWarning {
  /** `short`: the password; `readable`: the file's mode. */
  readonly kind: "short" | "readable";
  /** What is wrong and what to do, as a sentence (without the path). */
  readonly text: string;
}

/** A password read from a file, and what is wrong with the file. */
export interface PasswordFile {
  readonly password: string;
  readonly warnings: readonly PasswordFileWarning[];
}

/**
 * Reads the password in `path` (its first line). Throws when it cannot be
 * read (Deno's errors) or when the first line is empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPasswordFile } from "./password_file.ts";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "four words of passphrase\r\nnot this\n");
 * await Deno.chmod(path, 0o600);
 * const { password, warnings } = await readPasswordFile(path);
 * assert.equal(password, "four words of passphrase");
 * assert.deepEqual(warnings, []);
 * await Deno.remove(path);
 * ```
 */
export async function readPasswordFile(path: string): Promise<PasswordFile> {
  const password = (await Deno.readTextFile(path)).split(/\r?\n/)[0] ?? "";
  if (password === "") {
    throw new Error(
      `Cannot use --password-file "${path}": its first line is empty`,
    );
  }
  const warnings: PasswordFileWarning[] = [];
  const length = [...password].length;
  if (length < MIN_PASSWORD_FILE_LENGTH) {
    warnings.push({
      kind: "short",
      text:
        `The password is short (${length} characters): use ${MIN_PASSWORD_FILE_LENGTH} or more, such as a few words`,
    });
  }
  const { mode } = await Deno.stat(path);
  if (mode !== null && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    warnings.push({
      kind: "readable",
      text: `Other users may read the file (mode ${octal}): chmod 600 it`,
    });
  }
  return { password, warnings };
}
