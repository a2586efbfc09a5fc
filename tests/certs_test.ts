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
import {
  assertServesTls,
  openssl,
  opensslFingerprint,
  withTempDir,
} from "./_helpers.ts";

Deno.test("writeDevCertificates() makes a CA and a leaf that openssl verifies", async () => {
  await withTempDir(async (dir) => {
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
    assert.match(
      await openssl("x509", "-in", paths.caCert, "-noout", "-text"),
      /CA:TRUE/,
    );
    for (const key of [paths.caKey, paths.key]) {
      assert.equal((await Deno.stat(key)).mode! & 0o777, 0o600, key);
    }
  });
});

Deno.test("writeDevCertificates() reuses the CA unless asked for a new one", async () => {
  await withTempDir(async (dir) => {
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
  });
});

Deno.test("writeDevCertificates() output serves TLS that Deno.connectTls trusts", async () => {
  await withTempDir(async (dir) => {
    const paths = certificatePaths(dir);
    await writeDevCertificates(dir);
    await assertServesTls(
      {
        cert: await Deno.readTextFile(paths.cert),
        key: await Deno.readTextFile(paths.key),
      },
      await Deno.readTextFile(paths.caCert),
    );
  });
});

Deno.test("fingerprintSha256() matches openssl's SHA-256 fingerprint", async () => {
  await withTempDir(async (dir) => {
    const paths = certificatePaths(dir);
    await writeDevCertificates(dir);
    const ours = await fingerprintSha256(await Deno.readTextFile(paths.caCert));
    assert.equal(ours, await opensslFingerprint(paths.caCert));
    await assert.rejects(
      () => fingerprintSha256("not a certificate"),
      TypeError,
    );
  });
});

Deno.test("isIpAddress() tells IP addresses from DNS names", () => {
  assert.deepEqual(
    ["127.0.0.1", "::1", "fe80::1", "localhost", "chat.example", "1.2.3"].map(
      isIpAddress,
    ),
    [true, true, true, false, false, false],
  );
});
