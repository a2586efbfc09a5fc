/**
 * A recording {@linkcode IrcSink} and a fresh {@linkcode IrcState} for the
 * IRC door's pure tests: what would go to the client (as the connection
 * formats it into lines of at most 512 bytes),
 * to the session, and whether the connection would close.
 */

import { formatIrcLines } from "../../../lib/server/irc/parse.ts";
import {
  type IrcSettings,
  type IrcSink,
  IrcState,
} from "../../../lib/server/irc/state.ts";

/** What a translation sent, by destination. */
export interface Recorded extends IrcSink {
  readonly irc_: string[];
  readonly native_: string[];
  readonly closed: string[];
  /** Forgets what was recorded. */
  clear(): void;
}

/** A sink that records. */
export function recorder(): Recorded {
  const sent = {
    irc_: [] as string[],
    native_: [] as string[],
    closed: [] as string[],
  };
  return {
    ...sent,
    irc: (message) => void sent.irc_.push(...formatIrcLines(message)),
    native: (line) => void sent.native_.push(line),
    close: (text) => void sent.closed.push(text),
    clear() {
      for (const list of Object.values(sent)) list.length = 0;
    },
  };
}

/** A connection's state with test settings (accounts: alice, opal). */
export function ircState(
  settings: Partial<IrcSettings> = {},
  certificateName: string | null = null,
): IrcState {
  return new IrcState({
    server: "tlschat",
    defaultRoom: "#lobby",
    announceLimit: 100,
    isupport: ["CHANLIMIT=#:20"],
    isAccount: (name) => ["alice", "opal"].includes(name),
    holder: (alias) =>
      Promise.resolve(
        ["bob", "J.Doe"].find((a) => a.toLowerCase() === alias.toLowerCase()) ??
          null,
      ),
    ...settings,
  }, certificateName);
}
