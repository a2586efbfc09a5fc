/**
 * Tests of the standalone build: `deno task bundle` makes one file per role,
 * and the bundled server, run with its defaults (certificates and data made
 * in the current folder, the web door on) from a folder holding nothing but
 * the two files, serves the page over HTTPS and chats with the bundled
 * client and a WebSocket member.
 */

import assert from "node:assert/strict";
import {
  LineLog,
  ROOT,
  runClient,
  runCommand,
  ServerProcess,
  withTempDir,
} from "./_helpers.ts";
import { freePort } from "./_helpers.ts";

const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as {
  tasks: Record<string, string>;
};

/**
 * The permissions of `deno task server`, on the given ports of 127.0.0.1
 * instead of 7443 and 7444 on every address.
 */
function serverTaskPermissions(port: number, webPort: number): string[] {
  const flags = config.tasks.server!.split(" ").filter((word) =>
    word.startsWith("--allow-")
  );
  return flags.map((flag) =>
    flag.startsWith("--allow-net=")
      ? flag.replace("0.0.0.0:7443", `127.0.0.1:${port}`)
        .replace("0.0.0.0:7444", `127.0.0.1:${webPort}`)
      : flag
  );
}

Deno.test("deno task bundle builds a server that needs nothing beside it, and a client", async () => {
  const built = await runCommand("deno", ["task", "bundle"]);
  assert.equal(built.code, 0, built.out);
  await withTempDir(async (dir) => {
    // Only the two files travel: the server makes its certificates and its
    // data directory, and carries the page.
    for (const name of ["chat-server.js", "chat-client.js"]) {
      await Deno.copyFile(`${ROOT}dist/${name}`, `${dir}/${name}`);
    }
    const [port, webPort] = [freePort(), freePort()];
    await using server = await ServerProcess.start(
      serverTaskPermissions(port, webPort),
      [
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--web-port",
        String(webPort),
      ],
      { script: `${dir}/chat-server.js`, cwd: dir },
    );
    try {
      const ca = await Deno.readTextFile(`${dir}/certs/ca.pem`);
      using http = Deno.createHttpClient({ caCerts: [ca] });
      // The page and every module it imports.
      const page = ["index.html", "app.js", "protocol.js", "state.js"];
      const state = ["effects.js", "joining.js", "in_room.js", "session.js"];
      const rooms = ["rooms_asked.js", "outbox.js", "kept.js", "members.js"];
      for (
        const file of [
          ...page,
          ...state,
          ...rooms,
          "entries.js",
          "local_times.js",
          "view.js",
        ]
      ) {
        const path = file === "index.html" ? "/" : `/${file}`;
        const response = await fetch(`https://localhost:${webPort}${path}`, {
          client: http,
        });
        assert.equal(response.status, 200, path);
        assert.deepEqual(
          new Uint8Array(await response.arrayBuffer()),
          await Deno.readFile(`${ROOT}web/${file}`),
          path,
        );
      }
      // A member in the page's way (a WebSocket on /ws) hears the client.
      const ws = new WebSocket(`wss://localhost:${webPort}/ws`, {
        client: http,
      } as unknown as string[]);
      const lines = new LineLog();
      const closed = new Promise((resolve) => ws.onclose = resolve);
      ws.onmessage = (event) => lines.push(event.data as string);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      await lines.waitFor(/^HELLO /);
      ws.send("web");
      await lines.waitFor(/^WELCOME web /);
      const result = await runClient(
        [`--allow-net=127.0.0.1:${port}`, `--allow-read=${dir}/certs/ca.pem`],
        [
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
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
      await lines.waitFor(/^MSG bundled hello from the bundle$/);
      // The search index's worker is in the one file too.
      ws.send("/search bund");
      await lines.waitFor(/^FOUND #lobby \d+ \S+ MSG bundled hello from/);
      assert.ok(await Deno.stat(`${dir}/data/search.db`));
      ws.close();
      await closed;
    } catch (e) {
      throw server.annotate(e);
    }
  });
});
