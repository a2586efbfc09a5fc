/**
 * What the client reads from files once, at start: the password to give
 * (`--password-file`) and the client certificate with its key (`--cert`,
 * `--key`). Each failure is a {@linkcode ClientError} naming the file.
 *
 * @module
 */

import type { ClientConfig } from "./config.ts";
import { ClientError } from "./connection.ts";
import { readPasswordFile } from "../password_file.ts";

/**
 * Reads the password to give from --password-file (its first line), warning
 * (`warn`) when other users may read the file (a short password is the
 * server's concern: it warns its owner).
 */
export async function readPassword(
  file: string | null,
  warn: (text: string) => void,
): Promise<string | null> {
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
      warn(`Warning: --password-file "${file}": ${warning.text}`);
    }
  }
  return read.password;
}

/** Reads --cert and --key, for mutual TLS. */
export async function readIdentity(
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
