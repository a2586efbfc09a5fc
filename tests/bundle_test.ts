/**
 * Tests of the standalone build: `deno task bundle` makes one file per role,
 * and the bundled server and client chat with nothing else around them but
 * the certificates.
 */

import assert from "node:assert/strict";
import {
  ROOT,
  runClient,
  runCommand,
  ServerProcess,
  withTempDir,
} from "./_helpers.ts";

Deno.test("deno task bundle builds a server and a client that chat offline", async () => {
  const built = await runCommand("deno", ["task", "bundle"]);
  assert.equal(built.code, 0, built.out);
  await withTempDir(async (dir) => {
    // Only the two files travel; the server makes its certificates.
    for (const name of ["chat-server.js", "chat-client.js"]) {
      await Deno.copyFile(`${ROOT}dist/${name}`, `${dir}/${name}`);
    }
    await using server = await ServerProcess.start(
      ["--allow-net=127.0.0.1", `--allow-read=${dir}`, `--allow-write=${dir}`],
      [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--web-port",
        "0",
        "--certs-dir",
        `${dir}/certs`,
      ],
      { script: `${dir}/chat-server.js`, cwd: dir },
    );
    const port = String(server.port);
    const result = await runClient(
      [`--allow-net=127.0.0.1:${port}`, `--allow-read=${dir}/certs/ca.pem`],
      [
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--ca",
        `${dir}/certs/ca.pem`,
        "--alias",
        "bundled",
      ],
      "hello from the bundle\n",
      { NO_COLOR: "1" },
      `${dir}/chat-client.js`,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^<bundled> hello from the bundle$/m);
  });
});
