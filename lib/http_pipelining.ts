/**
 * HTTP requests piped ahead of their answers, bounded per connection, for
 * the server's two `node:http` servers (the web door's HTTPS and the
 * metrics port, which both may import this). A client that sends request
 * after request and reads no answer (browsers and scrapers never pipe)
 * has every request it got in parsed and answered into memory: Node's
 * server pauses such a connection only after that, and on Deno a paused
 * TLS socket even goes on reading. One such connection made the server
 * hold 255 MB (web door), or 2.6 GB with the room unanswered for 9 s
 * (`/metrics`, rendered each time). Past the bound the connection is
 * closed, the request not answered.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";

/** What a `node:http` server calls with each request. */
export type RequestHandler = (
  request: IncomingMessage,
  response: ServerResponse,
) => void;

/**
 * `handler`, for at most `max` requests of one connection at a time not
 * answered yet (ended, or their connection closed); one more closes the
 * connection without a word.
 */
export function pipedAtMost(
  max: number,
  handler: RequestHandler,
): RequestHandler {
  const waiting = new WeakMap<object, number>();
  return (request, response) => {
    const { socket } = request;
    const count = (waiting.get(socket) ?? 0) + 1;
    if (count > max) return void socket.destroy();
    waiting.set(socket, count);
    response.once("close", () => {
      waiting.set(socket, (waiting.get(socket) ?? 1) - 1);
    });
    handler(request, response);
  };
}
