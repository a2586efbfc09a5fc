/**
 * Tests of the certificate authority in memory: the leaves it issues, read
 * back with node:crypto, and the names a certificate may hold.
 */

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import {
  generateCa,
  isIpAddress,
  issueClientCertificate,
  issueServerCertificate,
} from "../lib/cert_authority.ts";
import { openssl, withTempDir } from "./_helpers.ts";

Deno.test("isIpAddress() tells IP addresses from DNS names", () => {
  assert.deepEqual(
    ["127.0.0.1", "::1", "fe80::1", "localhost", "chat.example", "1.2.3"].map(
      isIpAddress,
    ),
    [true, true, true, false, false, false],
  );
});

Deno.test("issueServerCertificate() and issueClientCertificate() sign leaves for their use with the CA", async () => {
  const ca = await generateCa("test CA");
  const authority = new X509Certificate(ca.cert);
  assert.equal(authority.ca, true);
  const server =
    (await issueServerCertificate(ca, ["chat.example", "10.1.2.3"]))
      .cert;
  const client = (await issueClientCertificate(ca, "alice")).cert;
  await withTempDir(async (dir) => {
    for (
      const [name, pem, subject, names, use] of [
        [
          "server",
          server,
          "CN=chat.example",
          "DNS:chat.example, IP Address:10.1.2.3",
          "TLS Web Server Authentication",
        ],
        [
          "client",
          client,
          "CN=alice",
          undefined,
          "TLS Web Client Authentication",
        ],
      ] as const
    ) {
      const leaf = new X509Certificate(pem);
      assert.equal(leaf.ca, false, name);
      assert.equal(leaf.subject, subject, name);
      assert.equal(leaf.subjectAltName, names, name);
      assert.deepEqual(leaf.keyUsage, ["DigitalSignature"], name);
      assert.ok(leaf.verify(authority.publicKey), name);
      const file = `${dir}/${name}.pem`;
      await Deno.writeTextFile(file, pem);
      const text = await openssl("x509", "-in", file, "-noout", "-text");
      assert.match(
        text,
        new RegExp(`Extended Key Usage: *\\n *${use}\\n`),
        name,
      );
    }
  });
});
