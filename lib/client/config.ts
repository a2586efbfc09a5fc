/**
 * The client's configuration: its flag table and one readonly, resolved
 * {@linkcode ClientConfig}. Pure: it never reads `Deno.args` itself.
 *
 * @module
 */

import { DEFAULT_SANS } from "../certs.ts";
import {
  type FlagTable,
  noPositionals,
  parseFlags,
  toNumber,
} from "../flags.ts";
import { MAX_ROOM_NAME_BYTES } from "../protocol.ts";
import { toRoomName } from "./room_names.ts";

/** Port of a room when none is given. */
export const DEFAULT_PORT = 7443;

/**
 * CA file the client trusts when `--ca` is not given, for the names every
 * dev server certificate covers (localhost and the loopback addresses).
 */
export const DEFAULT_CA_FILE = "certs/ca.pem";

/** Client flags. */
export const CLIENT_FLAGS = {
  host: {
    type: "string",
    value: "HOST",
    default: "localhost",
    help: "Server to connect to",
  },
  port: {
    type: "string",
    value: "N",
    default: String(DEFAULT_PORT),
    help: "Server port",
  },
  server: {
    type: "string",
    value: "HOST:PORT,...",
    multiple: true,
    help:
      "Servers to connect to, tried in turn (repeatable; replaces --host and --port)",
  },
  "no-reconnect": {
    type: "boolean",
    help: "Exit when the connection is lost instead of reconnecting",
  },
  ca: {
    type: "string",
    value: "FILE",
    help:
      `CA certificate that signed the server's (default: ${DEFAULT_CA_FILE} for localhost if readable, else the system roots)`,
  },
  alias: {
    type: "string",
    value: "NAME",
    help: "Alias to join with (asked for when missing on a terminal)",
  },
  "password-file": {
    type: "string",
    value: "FILE",
    help:
      "Password to give when the server asks (first line); asked on a terminal otherwise",
  },
  cert: {
    type: "string",
    value: "FILE",
    help: "Client certificate (PEM) to present, with --key",
  },
  key: { type: "string", value: "FILE", help: "Private key of --cert" },
  room: {
    type: "string",
    value: "#ROOM",
    multiple: true,
    help:
      "Room to join once connected (repeatable; the last one is current), when the server offers rooms",
  },
  history: {
    type: "boolean",
    help:
      "When stdin is not a terminal: print the history sent on joining too (a terminal always shows it)",
  },
  help: { type: "boolean", help: "Show this help" },
} as const satisfies FlagTable;

/** One server to connect to. */
export interface ServerAddress {
  readonly hostname: string;
  readonly port: number;
}

/** The resolved client configuration. */
export interface ClientConfig {
  readonly help: boolean;
  /** The first server (`--host`/`--port`, or the first of `--server`). */
  readonly hostname: string;
  readonly port: number;
  /** The servers to connect to, in turn (at least one). */
  readonly servers: readonly ServerAddress[];
  /** Reconnect (and resume) when the connection is lost. */
  readonly reconnect: boolean;
  /** CA file to trust; null means the system roots. */
  readonly caFile: string | null;
  /** Whether `caFile` was given explicitly (a missing file is then an error). */
  readonly caExplicit: boolean;
  readonly alias: string | null;
  /** File whose first line is the password to give; null: ask. */
  readonly passwordFile: string | null;
  /** Client certificate and key files (mutual TLS); null: none. */
  readonly certFile: string | null;
  readonly keyFile: string | null;
  /** Pipe mode prints history lines (`HIST`, `HISTEND`) too. */
  readonly history: boolean;
  /** Rooms to join once connected (`--room`, case-folded), in order. */
  readonly rooms: readonly string[];
}

/**
 * Parses client arguments into a complete {@linkcode ClientConfig}. Without
 * `--ca`, the dev CA file is trusted only for the loopback names a dev
 * certificate covers; any other host is checked against the system roots.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseClientArgs } from "./config.ts";
 *
 * assert.equal(parseClientArgs([]).caFile, "certs/ca.pem");
 * assert.equal(parseClientArgs(["--host", "chat.example"]).caFile, null);
 * ```
 */
export function parseClientArgs(args: readonly string[]): ClientConfig {
  const { values, positionals } = parseFlags(CLIENT_FLAGS, args);
  noPositionals(positionals);
  const servers = values.server === undefined
    ? [{
      hostname: values.host,
      port: toNumber("port", values.port, 1, 65_535),
    }]
    : values.server.flatMap((list) => parseServerList(list));
  const { hostname, port } = servers[0]!;
  const certFile = values.cert ?? null;
  const keyFile = values.key ?? null;
  if ((certFile === null) !== (keyFile === null)) {
    throw new TypeError(
      "Cannot use --cert without --key, or --key without --cert",
    );
  }
  return {
    help: values.help ?? false,
    hostname,
    port,
    servers,
    reconnect: !(values["no-reconnect"] ?? false),
    caFile: values.ca ??
      (servers.every((s) => DEFAULT_SANS.includes(s.hostname))
        ? DEFAULT_CA_FILE
        : null),
    caExplicit: values.ca !== undefined,
    alias: values.alias ?? null,
    passwordFile: values["password-file"] ?? null,
    certFile,
    keyFile,
    history: values.history ?? false,
    rooms: (values.room ?? []).map(roomFlag),
  };
}

/**
 * A `--server` value: `HOST:PORT` (or `HOST`, on port 7443; `[::1]:7443`
 * for an IPv6 address), several separated by commas.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseServerList } from "./config.ts";
 *
 * assert.deepEqual(parseServerList("a.example:7000,[::1]:7443,b.example"), [
 *   { hostname: "a.example", port: 7000 },
 *   { hostname: "::1", port: 7443 },
 *   { hostname: "b.example", port: 7443 },
 * ]);
 * ```
 */
export function parseServerList(value: string): ServerAddress[] {
  return value.split(",").map((item) => {
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]\s]+))(?::(\d+))?$/
      .exec(item.trim());
    if (match === null) {
      throw new TypeError(
        `Cannot use --server "${value}": give HOST:PORT, several separated by commas`,
      );
    }
    const port = match[3] ?? String(DEFAULT_PORT);
    return {
      hostname: match[1] ?? match[2]!,
      port: toNumber("server", port, 1, 65_535),
    };
  });
}

/** A `--room` value, case-folded; a TypeError when it is no room name. */
function roomFlag(value: string): string {
  const room = toRoomName(value);
  if (room === null) {
    throw new TypeError(
      `Cannot use --room "${value}": a room is # then 1 to ${MAX_ROOM_NAME_BYTES} letters, digits, "-" and "_"`,
    );
  }
  return room;
}
