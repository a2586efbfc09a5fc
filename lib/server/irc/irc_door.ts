/**
 * The IRC door (`--irc-port`): the TLS door's accept loop, admission,
 * PROXY header and handshake deadline, on a listener of its own with the
 * chat port's certificate, client CA and engine, each connection wrapped in
 * an {@linkcode IrcConnection} before its session (or its refusal, told as
 * `ERROR`), paced at the session's flood limits. Lines are framed at 512
 * bytes plus 8191 of tags.
 *
 * @module
 */

import type { ServerConfig } from "../config.ts";
import { TlsDoor, type TlsDoorHost } from "../doors/tls_door.ts";
import type { ByteListener } from "../doors/byte_conn.ts";
import { IrcConnection } from "./irc_connection.ts";
import { IRC_LINE_BYTES, IRC_TAG_BYTES } from "./parse.ts";
import type { IrcConnectionOptions, IrcSettings } from "./state.ts";
import type { Found } from "../room/directory.ts";
import { SharedLines } from "./shared_lines.ts";
import { chunkBytesFor } from "../room/line_arena.ts";

/** A server name as IRC shows it: the configured one when it may be one. */
function serverName(config: ServerConfig): string {
  return /^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(config.name)
    ? config.name
    : "tlschat";
}

/**
 * Opens the IRC door on `listener` for the server whose TLS door `host`
 * serves, whose members `find` finds (the room's directory).
 */
export function openIrcDoor(
  listener: ByteListener,
  host: TlsDoorHost,
  find: (alias: string) => Promise<Found<{ alias: string }> | null>,
): TlsDoor {
  const { config } = host;
  const settings: IrcSettings = {
    server: serverName(config),
    defaultRoom: config.defaultRoom,
    announceLimit: config.announceLimit,
    isupport: [
      `CHANLIMIT=#:${config.maxRoomsPerMember}`,
      `MAXLIST=b:${config.maxRoomEntries}`,
    ],
    isAccount: (name) => host.gate.accounts.get(name) !== null,
    holder: async (alias) => {
      const found = await find(alias);
      if (found === null) return null;
      return "here" in found ? found.here.alias : found.elsewhere.alias;
    },
  };
  // One options object for every connection (memory per member).
  const options: IrcConnectionOptions = {
    settings,
    queueBytes: config.queueBytes,
    floodRate: config.floodRate,
    floodBurst: config.floodBurst,
    clock: host.clock,
    shared: new SharedLines(chunkBytesFor(config.queueBytes)),
  };
  return new TlsDoor(listener, {
    ...host,
    maxLineBytes: Math.min(
      IRC_LINE_BYTES + IRC_TAG_BYTES,
      config.maxSkipBytes,
    ),
    wrap: (tls) => new IrcConnection(tls, options),
  });
}
