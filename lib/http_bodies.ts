/**
 * Request bodies on the server's two `node:http` servers (the web door's
 * HTTPS and the metrics port, which both may import this): no path of
 * either takes one, so a request that announces a body is answered (`405`
 * for a method other than `GET` and `HEAD`, else `413`; at once, not
 * invited with `100 Continue`) and its connection closed, the body never
 * read. Otherwise Node's server reads such a body after the answer, to
 * throw it away, for as long as it comes (the request timeout no longer
 * holds once answered), and on Deno a TLS socket goes on reading while
 * paused: one `POST /` announcing 10 GB, sent to the web door at full
 * speed, made the server hold 2.6 GB within 6 s; a trickle of one held a
 * connection for as long as it went on.
 *
 * @module
 */

import type { IncomingHttpHeaders, Server } from "node:http";

/** What a `GET` or `HEAD` announcing a body is told (with a `413`). */
export const BODY_REFUSED = "Request bodies are not accepted";

/**
 * Whether a request announces a body: any `Transfer-Encoding`, or a
 * `Content-Length` other than 0 (browsers and scrapers send neither with
 * `GET` or `HEAD`).
 *
 * @example A body, announced either way
 * ```ts
 * import assert from "node:assert/strict";
 * import { announcesBody } from "./http_bodies.ts";
 *
 * assert.equal(announcesBody({ headers: {} }), false);
 * assert.equal(announcesBody({ headers: { "content-length": "0" } }), false);
 * assert.equal(announcesBody({ headers: { "content-length": "5" } }), true);
 * assert.equal(
 *   announcesBody({ headers: { "transfer-encoding": "chunked" } }),
 *   true,
 * );
 * ```
 */
export function announcesBody(
  request: { readonly headers: IncomingHttpHeaders },
): boolean {
  const { headers } = request;
  if (headers["transfer-encoding"] !== undefined) return true;
  const length = headers["content-length"];
  return length !== undefined && !/^0+$/.test(length.trim());
}

/**
 * Has `server` answer a request with `Expect: 100-continue` at once, as
 * any other (its body refused), instead of inviting the body with a `100`.
 */
export function answerBeforeBody(server: Server): void {
  server.on("checkContinue", (request, response) => {
    server.emit("request", request, response);
  });
}
