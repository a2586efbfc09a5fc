/**
 * Tests of dev certificate generation, checked with openssl and by serving
 * TLS with the result.
 */

import assert from "node:assert/strict";
import {
  certificatePaths,
  fingerprintSha256,
  isIpAddress,
  writeDevCertificates,
} from "../lib/certs.ts";

async function openssl(...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command("openssl", { args })
    .output();
  const text = new TextDecoder().decode(stdout) +
    new TextDecoder().decode(stderr);
  assert.equal(code, 0, text);
  return text;
}

Deno.test("writeDevCertificates() makes a CA and a leaf that openssl verifies", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const written = await writeDevCertificates(dir, {
      sans: ["chat.example", "10.1.2.3"],
    });
    const paths = certificatePaths(dir);
    assert.deepEqual(written.names, [
      "localhost",
      "127.0.0.1",
      "::1",
      "chat.example",
      "10.1.2.3",
    ]);
    assert.equal(written.newCa, true);
    assert.match(
      await openssl("verify", "-CAfile", paths.caCert, paths.cert),
      /: OK/,
    );
    const leaf = await openssl("x509", "-in", paths.cert, "-noout", "-text");
    assert.match(leaf, /CA:FALSE/);
    assert.match(leaf, /TLS Web Server Authentication/);
    assert.match(
      leaf,
      /DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, DNS:chat\.example, IP Address:10\.1\.2\.3/,
    );
    assert.match(leaf, /ecdsa-with-SHA256/);
    const ca = await openssl("x509", "-in", paths.caCert, "-noout", "-text");
    assert.match(ca, /CA:TRUE/);
    for (const key of [paths.caKey, paths.key]) {
      assert.equal((await Deno.stat(key)).mode! & 0o777, 0o600, key);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeDevCertificates() reuses the CA unless asked for a new one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const paths = certificatePaths(dir);
    await writeDevCertificates(dir);
    const ca1 = await Deno.readTextFile(paths.caCert);
    const leaf1 = await Deno.readTextFile(paths.cert);
    const again = await writeDevCertificates(dir, { sans: ["extra.example"] });
    assert.equal(again.newCa, false);
    assert.equal(await Deno.readTextFile(paths.caCert), ca1);
    assert.notEqual(await Deno.readTextFile(paths.cert), leaf1);
    assert.match(
      await openssl("verify", "-CAfile", paths.caCert, paths.cert),
      /: OK/,
    );
    const fresh = await writeDevCertificates(dir, { newCa: true });
    assert.equal(fresh.newCa, true);
    assert.notEqual(await Deno.readTextFile(paths.caCert), ca1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeDevCertificates() output serves TLS that Deno.connectTls trusts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const paths = certificatePaths(dir);
    await writeDevCertificates(dir);
    const cert = await Deno.readTextFile(paths.cert);
    const key = await Deno.readTextFile(paths.key);
    const ca = await Deno.readTextFile(paths.caCert);
    using listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert,
      key,
    });
    for (const hostname of ["localhost", "127.0.0.1"]) {
      const accepted = listener.accept();
      using client = await Deno.connectTls({
        hostname,
        port: listener.addr.port,
        caCerts: [ca],
      });
      using server = await accepted;
      await Promise.all([client.handshake(), server.handshake()]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fingerprintSha256() matches openssl's SHA-256 fingerprint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const paths = certificatePaths(dir);
    await writeDevCertificates(dir);
    const ours = await fingerprintSha256(await Deno.readTextFile(paths.caCert));
    const theirs = await openssl(
      "x509",
      "-in",
      paths.caCert,
      "-noout",
      "-fingerprint",
      "-sha256",
    );
    assert.equal(theirs.trim().split("=")[1], ours);
    await assert.rejects(
      () => fingerprintSha256("not a certificate"),
      TypeError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("isIpAddress() tells IP addresses from DNS names", () => {
  assert.deepEqual(
    ["127.0.0.1", "::1", "fe80::1", "localhost", "chat.example", "1.2.3"].map(
      isIpAddress,
    ),
    [true, true, true, false, false, false],
  );
});
