/**
 * Backpressure with real processes: a `server.ts` with durable history (the
 * default) and flood control off, a sender writing long lines as fast as
 * TCP lets it, members reading as fast as they can through both doors, and
 * one member that never reads. Those who read get every line and stay; the
 * silent one is dropped as slow once it has held the room up; the sender is
 * slowed down by TCP, never dropped. The silent member is a small Python
 * client with a 4 KiB receive buffer, so that it holds the room up at once,
 * whatever the kernel's buffer autotuning would absorb.
 */

import assert from "node:assert/strict";
import {
  ENGINES,
  freePort,
  ROOT,
  runCommand,
  testCertificates,
  TestClient,
  withServerProcess,
  withTempDir,
  writeTestCertificates,
} from "../_helpers.ts";

/** Lines the sender writes, and their length (the scenario). */
const LINES = 4000;
const LINE_BYTES = 1800;

/** The sender's line number `i`, padded to its full length. */
function line(i: number): string {
  return `${i} `.padEnd(LINE_BYTES, "x");
}

/**
 * Reads `client`'s lines until it has every line of `from`, in order;
 * fails on a `BYE` (this member was dropped). Returns what else it saw.
 */
async function readAll(client: TestClient, from: string): Promise<string[]> {
  const others: string[] = [];
  let next = 0;
  while (next < LINES) {
    const got = await client.readLine(10_000);
    assert.ok(got !== null, `connection ended after ${next} lines`);
    assert.ok(!got.startsWith("BYE "), `dropped after ${next} lines: ${got}`);
    if (got.startsWith(`MSG ${from} `)) {
      assert.equal(Number(got.split(" ")[2]), next, "in order, none missing");
      next++;
    } else {
      others.push(got);
    }
  }
  return others;
}

/**
 * A TLS member that reads nothing once welcomed (see `_silent_reader.py`);
 * disposing of it ends the process.
 */
async function silentReader(port: number, dir: string, alias: string) {
  const child = new Deno.Command("python3", {
    args: [
      new URL("_silent_reader.py", import.meta.url).pathname,
      "127.0.0.1",
      String(port),
      `${dir}/ca.pem`,
      alias,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  const first = await lines.read();
  assert.equal(first.value?.trim(), "joined");
  return {
    async [Symbol.asyncDispose]() {
      await child.stdin.close();
      await lines.cancel();
      assert.equal((await child.status).code, 0);
    },
  };
}

/** A WebSocket member that reads everything as it comes. */
async function wsReader(port: number, alias: string, from: string) {
  const { ca } = await testCertificates();
  const http = Deno.createHttpClient({ caCerts: [ca.cert] });
  const ws = new WebSocket(`wss://localhost:${port}/ws`, {
    client: http,
  } as unknown as string[]);
  let next = 0;
  let welcomed: () => void;
  const joined = new Promise<void>((resolve) => welcomed = resolve);
  const done = Promise.withResolvers<void>();
  ws.onmessage = ({ data }) => {
    const text = String(data);
    if (text.startsWith("HELLO ")) ws.send(alias);
    else if (text.startsWith(`WELCOME ${alias} `)) welcomed();
    else if (text.startsWith("BYE ")) {
      done.reject(new Error(`${alias} dropped after ${next} lines: ${text}`));
    } else if (text.startsWith(`MSG ${from} `)) {
      if (Number(text.split(" ")[2]) !== next) {
        done.reject(new Error(`${alias}: line ${next} missing: ${text}`));
      }
      if (++next === LINES) done.resolve();
    }
  };
  ws.onclose = () =>
    done.reject(new Error(`${alias} closed after ${next} lines`));
  await joined;
  return {
    done: done.promise,
    async [Symbol.asyncDispose]() {
      const closed = new Promise((resolve) => ws.onclose = resolve);
      ws.close();
      await closed;
      http.close();
    },
  };
}

for (const engine of ENGINES) {
  for (const durability of ["normal", "memory"]) {
    Deno.test(`[${engine}] server.ts with history (${durability}): readers that keep up get every line of a fast sender; a silent member is dropped`, async () => {
      await withTempDir(async (dir) => {
        await writeTestCertificates(dir);
        const { ca } = await testCertificates();
        const webPort = freePort();
        await withServerProcess(
          [
            "--allow-net=127.0.0.1",
            `--allow-read=${dir},${ROOT}web`,
            `--allow-write=${dir}`,
            "--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE",
          ],
          [
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--certs-dir",
            dir,
            "--data-dir",
            `${dir}/data`,
            "--web-port",
            String(webPort),
            "--flood-rate",
            "0",
            "--durability",
            durability,
            "--tls-engine",
            engine,
          ],
          async (server) => {
            const join = (alias: string) =>
              TestClient.join(server.port, alias, { ca: ca.cert });
            await using _silent = await silentReader(
              server.port,
              dir,
              "silent",
            );
            using reader = await join("reader");
            await using web = await wsReader(webPort, "web", "sender");
            using sender = await join("sender");
            const sending = (async () => {
              for (let i = 0; i < LINES; i++) await sender.send(line(i));
            })();
            const [own, seen] = await Promise.all([
              readAll(sender, "sender"),
              readAll(reader, "sender"),
              web.done,
              sending,
            ]);
            // Only the member that never read was dropped, as slow.
            assert.deepEqual(
              seen.filter((l) => l.startsWith("LEAVE ")),
              ["LEAVE silent 3 slow"],
            );
            assert.ok(!own.some((l) => l.startsWith("LEAVE sender")));
            const leaves = server.output.lines.filter((l) =>
              / INFO leave /.test(l)
            );
            assert.equal(leaves.length, 1, leaves.join("\n"));
            assert.match(leaves[0]!, /alias=silent .*reason=slow/);
          },
        );
      });
    });
  }
}

/**
 * Has `count` messages said (`said before N`) by members that come and go,
 * nine lines each, within the flood burst (the alias takes a token).
 */
async function sayBefore(
  join: (alias: string) => Promise<TestClient>,
  count: number,
) {
  for (let from = 0; from < count; from += 9) {
    using before = await join(`before${from / 9}`);
    const last = Math.min(from + 9, count) - 1;
    for (let i = from; i <= last; i++) {
      await before.send(`said before ${i}`);
    }
    await before.expect(new RegExp(` said before ${last}$`));
  }
}

/**
 * Pastes `alias` and 200 lines of about 1 KB through `ncat --ssl` (the
 * README's way by hand) into a server with the default flood control, with
 * `history` messages said before and a member watching. Returns what ncat
 * printed and what the watcher got from the paster.
 */
async function paste(engine: string, history: number) {
  return await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    let result = { out: "", code: -1, watched: [] as string[] };
    await withServerProcess(
      [
        "--allow-net=127.0.0.1",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
      ],
      [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--certs-dir",
        dir,
        "--data-dir",
        `${dir}/data`,
        "--web-port",
        "0",
        "--tls-engine",
        engine,
      ],
      async (server) => {
        const join = (alias: string) =>
          TestClient.join(server.port, alias, { ca: ca.cert });
        await sayBefore(join, history);
        using watcher = await join("watcher");
        const lines = Array.from(
          { length: 200 },
          (_, i) => `line ${i} `.padEnd(1000, "y"),
        );
        await Deno.writeTextFile(
          `${dir}/paste.txt`,
          ["paster", ...lines, ""].join("\n"),
        );
        const pasting = runCommand("bash", [
          "-c",
          `cat "$0/paste.txt" | ncat --ssl --ssl-verify --ssl-trustfile "$0/ca.pem" localhost ${server.port}`,
          dir,
        ]);
        await watcher.expect(/^JOIN paster /);
        const watched: string[] = [];
        while (true) {
          const got = await watcher.readLine(10_000);
          if (got === null || got.startsWith("LEAVE paster ")) break;
          if (got.startsWith("MSG paster ")) watched.push(got);
        }
        result = { ...await pasting, watched };
      },
    );
    return result;
  });
}

for (const engine of ENGINES) {
  for (const history of [0, 50]) {
    Deno.test(`[${engine}] ncat pasting 200 lines${history ? " after 50 messages" : ""}: history, echoes of all that others got, then BYE flood`, async () => {
      const { out, watched } = await paste(engine, history);
      const got = out.split("\n");
      const bye = got.findIndex((l) => l.startsWith("BYE "));
      assert.ok(bye !== -1, `no BYE:\n${out}`);
      assert.equal(
        got[bye],
        "BYE flood Disconnected for flooding: kept sending more than 5 lines per second",
      );
      if (history > 0) {
        const end = got.indexOf("HISTEND 50 End of history: 50 messages");
        assert.ok(end !== -1, `no HISTEND:\n${out}`);
        assert.equal(got.filter((l) => l.startsWith("HIST ")).length, 50);
      }
      assert.ok(got.includes(got.find((l) => l.startsWith("ERR flood "))!));
      // Every line the others got was echoed to the paster, before its BYE.
      const echoes = got.slice(0, bye).filter((l) => l.startsWith("MSG "));
      assert.ok(watched.length >= 10, watched.join("\n"));
      assert.deepEqual(echoes, watched);
    });
  }
}
