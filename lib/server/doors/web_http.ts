/**
 * What the web door answers to a plain HTTP request: the browser client's
 * files, built into the module graph (nothing is read from disk, and no
 * path from a request reaches the file system), `/healthz` (the counts only
 * to loopback clients), or an error (and the connection closed, to a
 * request that announces a body), each with the headers of every
 * response (a strict Content-Security-Policy and the other security
 * headers; HSTS when the certificate is one browsers trust). No sockets:
 * the door says who asks and whether it was refused.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { isLoopback } from "../../address.ts";
import { announcesBody, BODY_REFUSED } from "../../http_bodies.ts";

import appJs from "../../../web/app.js" with { type: "bytes" };
import backfillJs from "../../../web/backfill.js" with { type: "bytes" };
import effectsJs from "../../../web/effects.js" with { type: "bytes" };
import entriesJs from "../../../web/entries.js" with { type: "bytes" };
import localTimesJs from "../../../web/local_times.js" with { type: "bytes" };
import iconSvg from "../../../web/icon.svg" with { type: "bytes" };
import inRoomJs from "../../../web/in_room.js" with { type: "bytes" };
import indexHtml from "../../../web/index.html" with { type: "bytes" };
import joiningJs from "../../../web/joining.js" with { type: "bytes" };
import keptJs from "../../../web/kept.js" with { type: "bytes" };
import membersJs from "../../../web/members.js" with { type: "bytes" };
import outboxJs from "../../../web/outbox.js" with { type: "bytes" };
import paceJs from "../../../web/pace.js" with { type: "bytes" };
import protocolJs from "../../../web/protocol.js" with { type: "bytes" };
import receivedJs from "../../../web/received.js" with { type: "bytes" };
import resumeJs from "../../../web/resume.js" with { type: "bytes" };
import roomsAskedJs from "../../../web/rooms_asked.js" with { type: "bytes" };
import searchJs from "../../../web/search.js" with { type: "bytes" };
import sessionJs from "../../../web/session.js" with { type: "bytes" };
import stateJs from "../../../web/state.js" with { type: "bytes" };
import styleCss from "../../../web/style.css" with { type: "bytes" };
import typedJs from "../../../web/typed.js" with { type: "bytes" };
import viewJs from "../../../web/view.js" with { type: "bytes" };

/** One file the door serves. */
export interface WebAsset {
  readonly type: string;
  readonly body: Uint8Array;
}

/** The headers of every response. */
export function securityHeaders(hsts: boolean): Record<string, string> {
  return {
    "content-security-policy": [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self'",
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    ...(hsts ? { "strict-transport-security": "max-age=31536000" } : {}),
  };
}

const JAVASCRIPT = "text/javascript; charset=utf-8";
const TEXT = "text/plain; charset=utf-8";

/**
 * The browser client's files, as the door serves them: imported as bytes
 * (`"unstable": ["raw-imports"]` in deno.json), so they are part of the
 * module graph. `deno bundle` and `deno compile` carry them, and the
 * server never reads `web/` at run time.
 */
export const WEB_ASSETS: ReadonlyMap<string, WebAsset> = new Map([
  ["/", { type: "text/html; charset=utf-8", body: indexHtml }],
  ["/app.js", { type: JAVASCRIPT, body: appJs }],
  ["/protocol.js", { type: JAVASCRIPT, body: protocolJs }],
  ["/state.js", { type: JAVASCRIPT, body: stateJs }],
  ["/received.js", { type: JAVASCRIPT, body: receivedJs }],
  ["/effects.js", { type: JAVASCRIPT, body: effectsJs }],
  ["/joining.js", { type: JAVASCRIPT, body: joiningJs }],
  ["/in_room.js", { type: JAVASCRIPT, body: inRoomJs }],
  ["/rooms_asked.js", { type: JAVASCRIPT, body: roomsAskedJs }],
  ["/outbox.js", { type: JAVASCRIPT, body: outboxJs }],
  ["/typed.js", { type: JAVASCRIPT, body: typedJs }],
  ["/kept.js", { type: JAVASCRIPT, body: keptJs }],
  ["/members.js", { type: JAVASCRIPT, body: membersJs }],
  ["/resume.js", { type: JAVASCRIPT, body: resumeJs }],
  ["/backfill.js", { type: JAVASCRIPT, body: backfillJs }],
  ["/pace.js", { type: JAVASCRIPT, body: paceJs }],
  ["/search.js", { type: JAVASCRIPT, body: searchJs }],
  ["/session.js", { type: JAVASCRIPT, body: sessionJs }],
  ["/entries.js", { type: JAVASCRIPT, body: entriesJs }],
  ["/local_times.js", { type: JAVASCRIPT, body: localTimesJs }],
  ["/view.js", { type: JAVASCRIPT, body: viewJs }],
  ["/style.css", { type: "text/css; charset=utf-8", body: styleCss }],
  ["/icon.svg", { type: "image/svg+xml", body: iconSvg }],
]);

/** What {@linkcode answerHttp} needs to know from the door. */
export interface HttpAnswerOptions {
  /** The headers of every response ({@linkcode securityHeaders}). */
  readonly headers: Record<string, string>;
  /**
   * Why the connection is refused, told with a 503 that closes it; null
   * when it is not.
   */
  readonly refusal: { readonly text: string } | null;
  /** What `/healthz` reports; a `status` other than `ok` answers 503. */
  readonly health: () => Record<string, number | string>;
  /** The client's address, when known (asked only for `/healthz`). */
  readonly client: () => string | null;
}

/** Answers a plain HTTP request: a file, the health check, or an error. */
export function answerHttp(
  request: IncomingMessage,
  response: ServerResponse,
  options: HttpAnswerOptions,
): void {
  const path = (request.url ?? "").split("?")[0]!;
  const send = (status: number, type: string, body: string | Uint8Array) => {
    response.writeHead(status, {
      ...options.headers,
      "content-type": type,
      "content-length": String(
        typeof body === "string"
          ? new TextEncoder().encode(body).length
          : body.length,
      ),
      "cache-control": "no-cache",
    });
    response.end(request.method === "HEAD" ? undefined : body);
  };
  if (options.refusal !== null) {
    response.setHeader("connection", "close");
    return send(503, TEXT, `${options.refusal.text}\n`);
  }
  // No path takes a body: answered, and closed unread (`http_bodies.ts`).
  const body = announcesBody(request);
  if (body) response.setHeader("connection", "close");
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.setHeader("allow", "GET, HEAD");
    return send(405, TEXT, "Method not allowed\n");
  }
  if (body) return send(413, TEXT, `${BODY_REFUSED}\n`);
  if (path === "/healthz") {
    const health = options.health();
    const client = options.client();
    // Counts are for the machine's own monitoring, not for anyone.
    const body = client !== null && isLoopback(client)
      ? health
      : { status: health.status };
    return send(
      health.status === "ok" ? 200 : 503,
      "application/json",
      JSON.stringify(body) + "\n",
    );
  }
  const asset = WEB_ASSETS.get(path);
  if (asset === undefined) return send(404, TEXT, "Not found\n");
  send(200, asset.type, asset.body);
}
