/**
 * Tests of the dev certificates on disk, checked with openssl and by
 * serving TLS with the result.
 */

import assert from "node:assert/strict";
import {
  certificateFacts,
  certificatePaths,
  daysLeft,
  fingerprintSha256,
  readPair,
  renewDevCertificate,
  writeDevCertificates,
  writeKey,
} from "../lib/certs.ts";
import { issueServerCertificate } from "../lib/cert_authority.ts";
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

Deno.test("writeKey() replaces a key with a new file created 0600, never rewriting in place", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/key.pem`;
    await Deno.writeTextFile(path, "old, world-readable\n", { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    const before = await Deno.stat(path);
    await writeKey(path, "new key\n");
    const after = await Deno.stat(path);
    assert.equal(await Deno.readTextFile(path), "new key\n");
    assert.equal(after.mode! & 0o777, 0o600);
    // A new file (created with its mode) took the old one's place, so the
    // key was never in a file that others could read.
    assert.notEqual(after.ino, before.ino);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name),
      ["key.pem"],
    );
  });
});

Deno.test("renewDevCertificate() reissues a dev certificate close to its end, same names", async () => {
  await withTempDir(async (dir) => {
    await writeDevCertificates(dir, { sans: ["chat.example"] });
    const paths = certificatePaths(dir);
    assert.equal((await renewDevCertificate(dir, Date.now())).renewed, false);
    // Replace the leaf by one that ends in 5 days.
    const ca = (await readPair(paths.caCert, paths.caKey))!;
    const soon = await issueServerCertificate(
      ca,
      ["localhost", "chat.example"],
      5,
    );
    await Deno.writeTextFile(paths.cert, soon.cert);
    await writeKey(paths.key, soon.key);
    const check = await renewDevCertificate(dir, Date.now());
    assert.equal(check.renewed, true);
    const facts = certificateFacts(await Deno.readTextFile(paths.cert));
    assert.ok(daysLeft(facts.notAfter, Date.now()) >= 364);
    assert.deepEqual(facts.names, ["localhost", "chat.example"]);
    assert.match(
      await openssl("verify", "-CAfile", paths.caCert, paths.cert),
      /: OK/,
    );
  });
});
