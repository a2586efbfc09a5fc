/**
 * Tests of the TLS listener's choice of engine without a network: what an
 * engine cannot do is decided once (`engineCannot` in the config), so the
 * config and `listenTls` refuse the same settings with the same words.
 */

import assert from "node:assert/strict";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import { listenTls } from "../../../lib/server/doors/transport.ts";
import { parseAddressRange } from "../../../lib/address.ts";

Deno.test("listenTls() refuses what the deno engine cannot do as the config does", async () => {
  const cases = [
    {
      flags: ["--client-ca", "ca.pem"],
      options: { clientCa: { ca: "PEM", require: false } },
    },
    {
      flags: ["--trusted-proxy", "10.0.0.5"],
      options: { trustedProxies: [parseAddressRange("10.0.0.5")!] },
    },
  ];
  for (const { flags, options } of cases) {
    let said = "";
    assert.throws(() => {
      try {
        parseServerArgs([...flags, "--tls-engine", "deno"]);
      } catch (e) {
        said = (e as Error).message;
        throw e;
      }
    }, TypeError);
    await assert.rejects(
      listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert: "unused",
        key: "unused",
        engine: "deno",
        ...options,
      }),
      (e) => e instanceof TypeError && e.message === said,
    );
  }
});
