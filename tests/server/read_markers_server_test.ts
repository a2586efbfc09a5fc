/**
 * `/read` end to end in process: a real TLS listener on 127.0.0.1 port 0
 * and real TLS clients. What holds before the `seq` capability is on:
 * malformed lines and clients without `seq` get `ERR usage`, a room the
 * member is not in `ERR not-in-room`, and nobody gets a `READ`.
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "../_helpers.ts";

Deno.test("serveChat() answers /read without seq, malformed or for a room one is not in, and tells nobody", async () => {
  await using s = await startServer("node");
  using plain = await TestClient.join(s.port, "plain");
  using alice = await TestClient.connect(s.port);
  await alice.expect(/^HELLO /);
  await alice.send("/cap rooms");
  await alice.expect(/^CAP rooms$/);
  await alice.send("alice");
  await alice.expect(/^CURRENT /);
  await plain.expect(/^JOIN alice 2$/);
  for (const line of ["/read", "/read #lobby", "/read 1 2 3", "/read -4"]) {
    await plain.send(line);
    assert.match(await plain.readLine() ?? "", /^ERR usage .*\/read/, line);
  }
  await plain.send("/read 5");
  assert.match(await plain.readLine() ?? "", /^ERR usage .*seq/);
  await alice.send("/read #nowhere 5");
  assert.equal(
    await alice.readLine(),
    "ERR not-in-room You are not in #nowhere",
  );
  await alice.send("/read #lobby 5");
  assert.match(await alice.readLine() ?? "", /^ERR usage .*seq/);
  await plain.send("/who"); // nothing else came before its answer
  assert.match(await plain.readLine() ?? "", /^WHO 2 /);
});
