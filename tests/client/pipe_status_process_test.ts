/**
 * End-to-end tests of `client.ts`'s exit status in pipe mode, as real
 * processes against a real TLS server: a script learns from it whether
 * every line it piped was delivered (0) or one was refused or left in
 * doubt (3).
 */

import assert from "node:assert/strict";
import {
  PipeClient,
  runClient,
  startServer,
  withClientFlags,
} from "../_helpers.ts";

Deno.test("client.ts in pipe mode exits 3 when the server refused a line it piped (muted), 0 when every line was delivered", async () => {
  await using s = await startServer("deno");
  await withClientFlags(s.port, async (permissions, flags) => {
    const member = (alias: string) =>
      new PipeClient(permissions, [
        ...flags,
        "--no-reconnect",
        "--alias",
        alias,
        "--room",
        "#ops",
      ]);
    // A guest that creates a room is its operator while connected.
    await using ops = member("ops");
    await ops.output.waitFor(/^#ops -!- ops joined \(1 online\)$/);
    await using bot = member("bot");
    await bot.output.waitFor(/^#ops -!- bot joined \(2 online\)$/);
    await bot.send("before the mute");
    await ops.output.waitFor(/^#ops <bot> before the mute$/);
    await ops.send("/mute bot");
    await bot.output.waitFor(/^#ops -!- bot was muted by ops/);
    await bot.send("after the mute");
    const code = await bot.finish();
    const said = bot.output.lines.join("\n");
    assert.match(said, /^! You are muted in #ops/m);
    assert.equal(code, 3, said);
    assert.equal(await ops.finish(), 0, ops.output.lines.join("\n"));
    // Delivered: 0, and a line the server refused after it: 3.
    const delivered = await runClient(
      permissions,
      [...flags, "--no-reconnect", "--alias", "bot2"],
      "hello\n",
    );
    assert.equal(delivered.code, 0, delivered.stdout + delivered.stderr);
    const refused = await runClient(
      permissions,
      [...flags, "--no-reconnect", "--alias", "bot3"],
      "hello\n/msg nobody hi\n",
    );
    assert.equal(refused.code, 3, refused.stdout + refused.stderr);
  });
});
