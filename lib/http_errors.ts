/**
 * Requests the HTTP parser refuses, on the server's two `node:http`
 * servers (the web door's HTTPS and the metrics port, which both may
 * import this): a head over the config's `httpMaxHeaderBytes` (16 KiB,
 * Node's default: `431`), a request not whole within the request timeout
 * (`408`), anything else unparsable (`400`). Node's own answer writes the
 * status line and destroys the socket at once; on Deno's `node:tls` that
 * destroy drops the answer not yet encrypted and sent, and a close with
 * the rest of the head unread resets the connection, so the client mostly
 * saw a bare close (curl: 6 of 8 heads of 17 KB to 1 MB got no `431`).
 * Here the answer is sent and the connection ended after it, what the
 * client still sends read and thrown away unparsed until it closes, for
 * at most the close grace and at most `discardBytes` (read on at full
 * speed, a client sending on kept the event loop busy for the whole
 * grace: about 1 GB/s over loopback, members' round trips up to 1.4 s).
 *
 * @module
 */

import type { Server } from "node:http";
import type { Duplex } from "node:stream";

/** The status line of each parser error Node's server answers. */
const STATUS_OF: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: "431 Request Header Fields Too Large",
  HPE_CHUNK_EXTENSIONS_OVERFLOW: "413 Payload Too Large",
  ERR_HTTP_REQUEST_TIMEOUT: "408 Request Timeout",
};

/** What a refused request is answered: Node's own words, closing. */
export function clientErrorAnswer(code: string | undefined): string {
  const status = STATUS_OF[code ?? ""] ?? "400 Bad Request";
  return `HTTP/1.1 ${status}\r\nConnection: close\r\ncontent-length: 0\r\n\r\n`;
}

/** Options of {@linkcode answerClientErrors}. */
export interface ClientErrorOptions {
  /** Longest a connection answered may linger before it is destroyed. */
  readonly closeGraceMs: number;
  /** Most bytes read and thrown away after the answer before it is. */
  readonly discardBytes: number;
}

/**
 * Has `server` answer a request its parser refuses (see the module) and
 * end the connection after the answer, destroying it if the client has
 * not closed within `closeGraceMs` or has sent more than `discardBytes`.
 */
export function answerClientErrors(
  server: Server,
  { closeGraceMs, discardBytes }: ClientErrorOptions,
): void {
  const answered = new WeakSet<Duplex>();
  server.on("clientError", (error: Error & { code?: string }, socket) => {
    // Answered once (a timeout may come after a parse error).
    if (answered.has(socket)) return;
    answered.add(socket);
    // An answer under way must not be cut into (Node's own rule; its
    // server keeps it in this field): then the connection just closes.
    const busy = (socket as { _httpMessage?: unknown })._httpMessage;
    if (!socket.writable || error.code === "ECONNRESET" || busy) {
      return void socket.destroy();
    }
    const timer = setTimeout(() => socket.destroy(), closeGraceMs);
    socket.once("close", () => clearTimeout(timer));
    socket.end(clientErrorAnswer(error.code));
    // The rest is thrown away unparsed: fed to the failed parser, each read
    // would say its error again (and add a listener to the socket).
    socket.removeAllListeners("data");
    let discarded = 0;
    socket.on("data", (chunk: Uint8Array) => {
      discarded += chunk.byteLength;
      if (discarded > discardBytes) socket.destroy();
    });
    socket.resume();
  });
}
