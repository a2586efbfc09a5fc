/**
 * SASL on the IRC door: `AUTHENTICATE` with `PLAIN` (the account's alias
 * goes to the session at once, its password answers the session's
 * `PASSWORD account`) or `EXTERNAL` (a verified client certificate logs
 * in, no password). A payload comes in 400-byte chunks, at most four.
 * Only before registration is over (IRCv3 SASL 3.1): later, 907 for a
 * client logged in, 904 for a guest.
 * Pure: what to send goes to an {@linkcode IrcSink}.
 *
 * @module
 */

import { aliasKey } from "../../protocol.ts";
import { aliasOf, nickOf } from "./names.ts";
import type { IrcSink, IrcState } from "./state.ts";

/** Longest `AUTHENTICATE` payload chunk (IRCv3 SASL): one this long has more. */
const SASL_CHUNK = 400;
/** Longest whole payload taken (four chunks: a password of ~1,000 bytes). */
const SASL_PAYLOAD = 4 * SASL_CHUNK;

/** `AUTHENTICATE`: a mechanism, then its payload, or `*` to abort. */
export function authenticate(
  state: IrcState,
  payload: string,
  sink: IrcSink,
): void {
  const fail = (code = "904", text = "SASL authentication failed") => {
    state.sasl = null;
    sink.irc(state.numeric(code, text));
  };
  // Registration over (from the client's side, once its nick's alias
  // went): no SASL after it (IRCv3 SASL 3.1), and no changing accounts
  // (3.2): 907 for a client logged in, 904 for a guest, who reconnects.
  if (state.welcomed || state.aliasSent !== null) {
    return state.account
      ? fail("907", "You have already authenticated")
      : fail("904", "SASL authentication failed: registration is over");
  }
  // Before registration without `CAP REQ sasl` (IRCv3 SASL 3.1: the
  // capability comes first): a failure, so the client goes on without.
  if (!state.caps.has("sasl")) {
    return fail("904", "SASL authentication failed: sasl is not on");
  }
  if (payload === "*") return fail("906", "SASL authentication aborted");
  const sasl = state.sasl;
  if (sasl === null) {
    const mechanism = payload.toUpperCase();
    if (mechanism !== "PLAIN" && mechanism !== "EXTERNAL") {
      sink.irc(
        state.numeric("908", "PLAIN,EXTERNAL", "are available SASL mechanisms"),
      );
      return fail();
    }
    if (mechanism === "EXTERNAL" && state.certificateName === null) {
      return fail();
    }
    state.sasl = { mechanism, account: null, password: null, chunks: "" };
    return sink.irc({ command: "AUTHENTICATE", params: ["+"] });
  }
  if (sasl.account !== null || payload.length > SASL_CHUNK) return fail();
  if (payload.length === SASL_CHUNK) {
    sasl.chunks += payload;
    return sasl.chunks.length >= SASL_PAYLOAD ? fail() : undefined;
  }
  const whole = sasl.chunks + (payload === "+" ? "" : payload);
  const fields = decodeSasl(whole === "" ? "+" : whole);
  const account = sasl.mechanism === "PLAIN"
    ? fields?.[1]
    : (fields?.[0] || state.certificateName);
  const alias = account ? aliasOf(nickOf(account)) : null;
  if (
    fields === null || alias === null || alias !== account ||
    !state.settings.isAccount(alias) ||
    (sasl.mechanism === "PLAIN" && !plainWhole(fields))
  ) {
    return fail();
  }
  sasl.account = alias;
  sasl.password = sasl.mechanism === "PLAIN" ? fields[2]! : null;
  sink.native(alias);
}

/**
 * PLAIN's `authzid NUL authcid NUL password` (RFC 4616), whole: three
 * fields, a password, and no one else to act as (an authzid, when given,
 * is the authcid: nobody may log in as one account to act as another).
 */
function plainWhole(fields: readonly string[]): boolean {
  const [authzid, authcid = "", password] = fields;
  return fields.length === 3 && !!password &&
    (authzid === "" || aliasKey(authzid!) === aliasKey(authcid));
}

/** A SASL payload (`+`: empty) as its NUL-separated fields; null if bad. */
function decodeSasl(payload: string): string[] | null {
  if (payload === "+") return [""];
  try {
    const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes).split("\0");
  } catch {
    // Not base64, or not UTF-8: a failed authentication, not an error.
    return null;
  }
}

/** SASL failed: 904, and registration goes on without it. */
export function saslFailed(state: IrcState, sink: IrcSink): void {
  state.sasl = null;
  sink.irc(state.numeric("904", "SASL authentication failed"));
}
