/**
 * TLS listeners behind one small byte-connection interface
 * (`ByteConn`, in `byte_conn.ts`), so nothing above knows which
 * engine accepted a connection. Two engines: `node` (`node_tls.ts`:
 * `node:tls` over `node:net`, TCP_NODELAY set; the default) and `deno`
 * (`deno_tls.ts`: `Deno.listenTls`, rustls). Both accept the TCP connection
 * first and run the TLS handshake lazily, on `ByteConn.handshake`,
 * so a bad client only fails its own connection. This module chooses the
 * engine and refuses what it cannot do.
 *
 * The engines differ in reading (node stops at the TCP socket, deno reads
 * only when asked), accepting (only node can read a trusted proxy's PROXY
 * header first, or ask for client certificates) and closing (deno releases
 * a socket only once a pending handshake or write has ended): see their
 * modules.
 *
 * @module
 */

import type { ByteListener } from "./byte_conn.ts";
import { listenDenoTls } from "./deno_tls.ts";
import { listenNodeTls, type NodeTlsOptions } from "./node_tls.ts";
import { engineCannot, type ServerConfig } from "../config.ts";

/** Options of {@linkcode listenTls}. */
export interface ListenTlsOptions extends NodeTlsOptions {
  /** @default {"node"} */
  engine?: ServerConfig["tlsEngine"];
}

/**
 * Binds a TLS listener with the chosen engine; throws `TypeError` when the
 * engine cannot do what is asked (see `engineCannot` in the config).
 */
export async function listenTls(
  options: ListenTlsOptions,
): Promise<ByteListener> {
  const unsupported = engineCannot(options.engine ?? "node", {
    clientCa: Boolean(options.clientCa),
    trustedProxies: (options.trustedProxies ?? []).length > 0,
  });
  if (unsupported !== null) throw new TypeError(unsupported);
  if (options.engine === "deno") {
    return listenDenoTls(options);
  }
  return await listenNodeTls(options);
}
