/**
 * End-to-end tests of `server.ts` as a real process with narrow permissions:
 * first-run certificates, the `certs` command, `--cert`/`--key`, logs,
 * signals, startup errors, and joining by hand with openssl and ncat.
 */

import assert from "node:assert/strict";
import { certificatePaths, writeKey } from "../../lib/certs.ts";
import { issueServerCertificate } from "../../lib/cert_authority.ts";
import {
  denoRun,
  ENGINES,
  freePort,
  loopbackArgs,
  openssl,
  opensslFingerprint,
  runCommand,
  serverPermissions,
  ServerProcess,
  testCertificates,
  TestClient,
  withServerProcess,
  withTempDir,
  writeTestCertificates,
} from "../_helpers.ts";

/** Server flags for 127.0.0.1, port 0, serving `dir`'s certificate as --cert. */
const ownCertificate = (dir: string) => [
  "--host",
  "127.0.0.1",
  "--port",
  "0",
  "--cert",
  `${dir}/server.pem`,
  "--key",
  `${dir}/server-key.pem`,
  "--data-dir",
  `${dir}/data`,
  "--web-port",
  "0",
];

/** Permissions of `deno task server`, for a certs dir and loopback. */

Deno.test("server.ts generates a dev CA and certificate on first run and prints the fingerprint", async () => {
  await withTempDir(async (dir) => {
    await withServerProcess(
      serverPermissions(dir),
      loopbackArgs(dir),
      async (server) => {
        const paths = certificatePaths(dir);
        const line = await server.output.waitFor(/INFO ca file=/);
        const fingerprint = await opensslFingerprint(paths.caCert);
        assert.match(
          line,
          new RegExp(`INFO ca file=${paths.caCert} sha256=${fingerprint} `),
        );
        await server.output.waitFor(
          /INFO certificates-generated .*names=localhost,127\.0\.0\.1,::1 newCa=true/,
        );
        for (const key of [paths.caKey, paths.key]) {
          assert.equal((await Deno.stat(key)).mode! & 0o777, 0o600);
        }
        using client = await TestClient.join(server.port, "first", {
          hostname: "localhost",
          ca: await Deno.readTextFile(paths.caCert),
        });
        await client.send("it works");
        assert.equal(await client.readLine(), "MSG first it works");
      },
    );
  });
});

Deno.test("server.ts certs reissues the server certificate with --san, keeping the CA", async () => {
  await withTempDir(async (dir) => {
    const paths = certificatePaths(dir);
    const perms = [`--allow-read=${dir}`, `--allow-write=${dir}`];
    const first = await runCommand(
      "deno",
      denoRun("server.ts", perms, ["certs", "--certs-dir", dir]),
    );
    assert.equal(first.code, 0, first.out);
    const ca = await Deno.readTextFile(paths.caCert);
    const again = await runCommand(
      "deno",
      denoRun("server.ts", perms, [
        "certs",
        "--certs-dir",
        dir,
        "--san",
        "chat.example",
      ]),
    );
    assert.equal(again.code, 0, again.out);
    assert.match(
      again.out,
      /INFO certificates-generated .*names=localhost,127\.0\.0\.1,::1,chat\.example newCa=false/,
    );
    assert.equal(await Deno.readTextFile(paths.caCert), ca);
    assert.match(
      await openssl(
        "x509",
        "-in",
        paths.cert,
        "-noout",
        "-ext",
        "subjectAltName",
      ),
      /DNS:chat\.example/,
    );
    assert.match(
      await openssl("verify", "-CAfile", paths.caCert, paths.cert),
      /: OK/,
    );
  });
});

Deno.test("server.ts serves a certificate given with --cert and --key", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    await withServerProcess(
      [
        "--allow-net=127.0.0.1",
        `--allow-read=${dir}`,
        `--allow-write=${dir}/data`,
      ],
      ownCertificate(dir),
      async (server) => {
        await server.output.waitFor(
          new RegExp(
            `INFO certificate file=${dir}/server.pem sha256=[0-9A-F:]{95}$`,
          ),
        );
        using client = await TestClient.join(server.port, "own", {
          hostname: "localhost",
          ca: ca.cert,
        });
        await client.send("/quit");
        assert.equal(await client.readLine(), "BYE quit Goodbye");
      },
    );
  });
});

for (const engine of ENGINES) {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.test(`[${engine}] server.ts on ${signal} says goodbye to everyone and exits 0 within 5 s`, async () => {
      await withTempDir(async (dir) => {
        await writeTestCertificates(dir);
        const { ca } = await testCertificates();
        await withServerProcess(
          serverPermissions(dir),
          [
            ...loopbackArgs(dir),
            "--tls-engine",
            engine,
          ],
          async (server) => {
            using alice = await TestClient.join(server.port, "alice", {
              ca: ca.cert,
            });
            using bob = await TestClient.join(server.port, "bob", {
              ca: ca.cert,
            });
            assert.equal(await alice.readLine(), "JOIN bob 2");
            await server.output.waitFor(
              /INFO join alias=bob addr=127\.0\.0\.1:\d+ online=2$/,
            );
            const started = Date.now();
            server.child.kill(signal);
            for (const member of [alice, bob]) {
              assert.equal(
                await member.readLine(),
                "BYE shutdown Server is shutting down",
              );
              assert.equal(await member.readLine(), null);
              member.conn.close();
            }
            const status = await server.exited();
            assert.equal(status.code, 0);
            assert.ok(
              Date.now() - started < 5000,
              `took ${Date.now() - started} ms`,
            );
            await server.output.waitFor(
              /^\S+Z INFO shutdown uptimeS=[\d.]+ connections=2 joins=2 peak=2 messages=0 refused=0 handshakeFailures=0$/,
            );
          },
        );
      });
    });
  }
}

Deno.test("server.ts exits within 5 s of SIGINT after a dropped member's resume grace ran out", async () => {
  // The member's idle deadline, cleared when it dropped, stayed behind its
  // grace: once the grace ran, a timer for it kept the stopped server
  // alive until the idle timeout would have come (minutes).
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    await withServerProcess(
      serverPermissions(dir),
      [...loopbackArgs(dir), "--resume-grace", "1"],
      async (server) => {
        const alice = await TestClient.connect(
          server.port,
          "localhost",
          ca.cert,
        );
        await alice.expect(/^HELLO /);
        await alice.send("/cap resume");
        await alice.expect(/^CAP /);
        await alice.send("alice");
        await alice.expect(/^RESUME /);
        alice[Symbol.dispose]();
        await server.output.waitFor(
          /INFO leave alias=alice addr=127\.0\.0\.1:\d+ reason=disconnect online=0$/,
        );
        const started = Date.now();
        server.child.kill("SIGINT");
        const late = setTimeout(() => server.child.kill("SIGKILL"), 10_000);
        const status = await server.exited();
        clearTimeout(late);
        assert.ok(
          Date.now() - started < 5000,
          `took ${Date.now() - started} ms`,
        );
        assert.equal(status.code, 0);
      },
    );
  });
});

Deno.test("server.ts logs joins, leaves, refusals and, at debug level, failed handshakes", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    for (const level of ["info", "debug"]) {
      await withServerProcess(
        serverPermissions(dir),
        [
          ...loopbackArgs(dir),
          "--max-clients",
          "1",
          "--log-level",
          level,
        ],
        async (server) => {
          const garbage = await Deno.connect({
            hostname: "127.0.0.1",
            port: server.port,
          });
          await garbage.write(new TextEncoder().encode("not TLS\r\n\r\n"));
          await garbage.read(new Uint8Array(64)).catch(() => null);
          garbage.close();
          const solo = await TestClient.join(server.port, "solo", {
            ca: ca.cert,
          });
          {
            using refused = await TestClient.connect(
              server.port,
              "localhost",
              ca.cert,
            );
            assert.deepEqual(await refused.readToEnd(), [
              "BYE server-full Server is full: 1 connections",
            ]);
          }
          solo[Symbol.dispose]();
          await server.output.waitFor(
            /^\S+Z INFO join alias=solo addr=127\.0\.0\.1:\d+ online=1$/,
          );
          await server.output.waitFor(
            /^\S+Z INFO refused addr=127\.0\.0\.1:\d+ reason=server-full$/,
          );
          await server.output.waitFor(
            /^\S+Z INFO leave alias=solo addr=127\.0\.0\.1:\d+ reason=disconnect online=0$/,
          );
          const debug = server.output.lines.filter((line) =>
            / DEBUG handshake-failed addr=127\.0\.0\.1:\d+ /.test(line)
          );
          assert.equal(
            debug.length,
            level === "debug" ? 1 : 0,
            server.output.toString(),
          );
        },
      );
    }
  });
});

Deno.test("server.ts can be joined by hand with openssl s_client and ncat --ssl", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const caFile = `${dir}/ca.pem`;
    await withServerProcess(
      serverPermissions(dir),
      loopbackArgs(dir),
      async (server) => {
        const port = String(server.port);
        const tools: [string, string[]][] = [
          ["openssl", [
            "s_client",
            "-quiet",
            "-verify_return_error",
            "-connect",
            `localhost:${port}`,
            "-CAfile",
            caFile,
          ]],
          ["ncat", [
            "--ssl",
            "--ssl-verify",
            "--ssl-trustfile",
            caFile,
            "localhost",
            port,
          ]],
        ];
        let history = "";
        for (const [tool, args] of tools) {
          const alias = `by-${tool}`;
          const { code, out } = await runCommand(
            tool,
            args,
            `${alias}\nhello over ${tool}\n/quit\n`,
          );
          assert.equal(code, 0, out);
          assert.match(
            out,
            new RegExp(
              `^WELCOME ${alias} 1 .*\\n${history}MSG ${alias} hello over ${tool}\\nBYE quit Goodbye$`,
              "m",
            ),
          );
          // The next one is shown it as history: a distinct line type with
          // its number and time, then the end of history.
          history =
            `HIST \\d+ \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z MSG ${alias} hello over ${tool}\\nHISTEND 1 End of history: 1 message\\n`;
        }
      },
    );
  });
});

Deno.test("server.ts explains startup errors and bad flags", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    // It exits at once, cleanly: nothing it started (retention's timer)
    // outlives the failure to touch a closed database.
    const busy = await new Deno.Command("deno", {
      args: denoRun("server.ts", serverPermissions(dir), [
        "--host",
        "127.0.0.1",
        "--port",
        String(taken.addr.port),
        "--certs-dir",
        dir,
        "--data-dir",
        `${dir}/data`,
        "--web-port",
        "0",
      ]),
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(10_000),
    }).output();
    const busyOut = new TextDecoder().decode(busy.stdout) +
      new TextDecoder().decode(busy.stderr);
    assert.equal(busy.code, 1, "exits 1 within 10 s");
    assert.doesNotMatch(busyOut, /Uncaught/);
    assert.match(
      busyOut,
      new RegExp(
        `Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port}: the address is in use`,
      ),
    );
    // A web port in use stops the server too, at once (nothing left
    // running keeps the process alive).
    const webBusy = await new Deno.Command("deno", {
      args: denoRun("server.ts", [
        ...serverPermissions(dir),
        "--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE",
      ], [
        ...loopbackArgs(dir),
        "--web-port",
        String(taken.addr.port),
      ]),
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(10_000),
    }).output();
    assert.equal(webBusy.code, 1, "exits 1 within 10 s");
    assert.match(
      new TextDecoder().decode(webBusy.stderr),
      new RegExp(
        `Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port} \\(--web-port, the browser client\\): the address is in use`,
      ),
    );
    const bad = await runCommand(
      "deno",
      denoRun("server.ts", [], ["--flood-rate=-1"]),
    );
    assert.equal(bad.code, 2);
    assert.match(
      bad.out,
      /Cannot use --flood-rate: -1 is out of range \(0 to 1000000\)\nRun with --help for usage\./,
    );
    const help = await runCommand("deno", denoRun("server.ts", [], ["--help"]));
    assert.equal(help.code, 0);
    for (
      const flag of [
        "--max-line-bytes",
        "--max-clients",
        "--max-per-ip",
        "--flood-rate",
        "--flood-burst",
        "--queue-bytes",
        "--handshake-timeout",
        "--alias-timeout",
      ]
    ) {
      assert.match(help.out, new RegExp(`  ${flag} `));
    }
  });
});

Deno.test("server.ts keeps running when a client sends garbage instead of TLS (process)", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    await using server = await ServerProcess.start(serverPermissions(dir), [
      ...loopbackArgs(dir),
    ]);
    for (let i = 0; i < 5; i++) {
      const raw = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.port,
      });
      await raw.write(crypto.getRandomValues(new Uint8Array(512)));
      await raw.read(new Uint8Array(64)).catch(() => null);
      raw.close();
    }
    using client = await TestClient.join(server.port, "after", { ca: ca.cert });
    await client.send("alive");
    assert.equal(await client.readLine(), "MSG after alive");
  });
});

Deno.test("server.ts listens with the node engine by default", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    await withServerProcess(
      serverPermissions(dir),
      loopbackArgs(dir),
      async (server) => {
        await server.output.waitFor(/INFO listening .*engine=node /);
      },
    );
  });
});

Deno.test("server.ts names the exact path in a missing-permission hint", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const result = await runCommand(
      "deno",
      denoRun("server.ts", [
        "--allow-net=127.0.0.1",
        `--allow-read=certs,${dir}/data`,
        `--allow-write=${dir}/data`,
      ], [
        ...loopbackArgs("certs"),
        "--data-dir",
        `${dir}/data`,
        "--cert",
        `${dir}/server.pem`,
        "--key",
        `${dir}/server-key.pem`,
      ]),
    );
    assert.equal(result.code, 1);
    assert.match(
      result.out,
      new RegExp(`Run with --allow-read=${dir}/server\\.pem \\(see README\\)`),
    );
  });
});

Deno.test("server.ts names the exact address in a missing net permission hint, on every port", async () => {
  // `node:net` threw the refusal from a later tick, where nothing caught
  // it: `deno task server --port 8443` printed an uncaught stack trace.
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    for (
      const door of ["--port", "--web-port", "--irc-port", "--metrics-port"]
    ) {
      const port = String(freePort());
      const result = await runCommand(
        "deno",
        denoRun("server.ts", [
          "--allow-net=127.0.0.1:0",
          `--allow-read=${dir}`,
          `--allow-write=${dir}`,
          "--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE",
        ], [
          ...loopbackArgs(dir, "--web-port", "0", "--irc-port", "0"),
          door,
          port,
        ]),
      );
      assert.equal(result.code, 1, result.out);
      assert.doesNotMatch(result.out, /Uncaught/);
      assert.match(
        result.out,
        new RegExp(
          `Run with --allow-net=127\\.0\\.0\\.1:${port} \\(see README\\)`,
        ),
      );
    }
  });
});

/** Writes a server certificate for loopback that ends in `days` days. */
async function writeLeafEnding(dir: string, days: number): Promise<void> {
  const { ca } = await testCertificates();
  const leaf = await issueServerCertificate(
    ca,
    ["localhost", "127.0.0.1", "::1"],
    days,
  );
  await Deno.writeTextFile(`${dir}/server.pem`, leaf.cert);
  await writeKey(`${dir}/server-key.pem`, leaf.key);
}

Deno.test("server.ts refuses an expired --cert and warns about one ending soon", async () => {
  await withTempDir(async (dir) => {
    const args = ownCertificate(dir);
    const permissions = [
      "--allow-net=127.0.0.1",
      `--allow-read=${dir}`,
      `--allow-write=${dir}/data`,
    ];
    await writeLeafEnding(dir, -1);
    const expired = await runCommand(
      "deno",
      denoRun("server.ts", permissions, args),
    );
    assert.equal(expired.code, 1);
    assert.match(
      expired.out,
      new RegExp(`Cannot serve "${dir}/server.pem": it expired on \\d{4}-`),
    );
    await writeLeafEnding(dir, 10);
    await withServerProcess(permissions, args, async (server) => {
      await server.output.waitFor(
        new RegExp(`WARN certificate-expiring file=${dir}/server.pem days=9 `),
      );
    });
  });
});

Deno.test("server.ts refuses a --key that is not the --cert's, and the two files swapped", async () => {
  // It started, and every handshake failed ("unexpected end of file" in
  // the client), or it said "BER error: Unexpected Tag".
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    await writeKey(`${dir}/ca-key.pem`, ca.key);
    const permissions = [
      "--allow-net=127.0.0.1",
      `--allow-read=${dir}`,
      `--allow-write=${dir}/data`,
    ];
    // Stopped after 15 s should it start after all.
    const start = async (cert: string, key: string) => {
      const { code, stdout, stderr } = await new Deno.Command("deno", {
        args: denoRun("server.ts", permissions, [
          ...ownCertificate(dir),
          "--cert",
          `${dir}/${cert}`,
          "--key",
          `${dir}/${key}`,
        ]),
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(15_000),
      }).output();
      const decoder = new TextDecoder();
      return { code, out: decoder.decode(stdout) + decoder.decode(stderr) };
    };
    const other = await start("server.pem", "ca-key.pem");
    assert.equal(other.code, 1, other.out);
    assert.match(
      other.out,
      new RegExp(
        `Cannot serve "${dir}/server\\.pem": "${dir}/ca-key\\.pem" is not its private key`,
      ),
    );
    const swapped = await start("server-key.pem", "server.pem");
    assert.equal(swapped.code, 1, swapped.out);
    assert.match(
      swapped.out,
      new RegExp(
        `Cannot serve "${dir}/server-key\\.pem": it holds no certificate`,
      ),
    );
  });
});

Deno.test("server.ts refuses a --client-ca that is missing or holds no certificate, naming the flag", async () => {
  // A key given as the CA started a server no certificate could log into;
  // a missing file said "NotFound: No such file or directory".
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const permissions = [
      "--allow-net=127.0.0.1",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
    ];
    for (
      const [file, problem] of [
        ["server-key.pem", "it holds no certificate"],
        ["missing.pem", "No such file or directory"],
      ] as const
    ) {
      const { code, stdout, stderr } = await new Deno.Command("deno", {
        args: denoRun("server.ts", permissions, [
          ...loopbackArgs(dir),
          "--client-ca",
          `${dir}/${file}`,
        ]),
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(15_000), // should it start after all
      }).output();
      const out = new TextDecoder().decode(stdout) +
        new TextDecoder().decode(stderr);
      assert.equal(code, 1, out);
      assert.match(
        out,
        new RegExp(
          `--client-ca "${dir}/${file.replace(".", "\\.")}": ${problem}`,
        ),
      );
    }
  });
});

Deno.test("server.ts renews its own dev certificate before it ends", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    await Deno.writeTextFile(`${dir}/ca-key.pem`, ca.key, { mode: 0o600 });
    await writeLeafEnding(dir, 5);
    await withServerProcess(
      serverPermissions(dir),
      loopbackArgs(dir),
      async (server) => {
        await server.output.waitFor(
          new RegExp(
            `INFO certificate-renewed cert=${dir}/server.pem notAfter=`,
          ),
        );
        using client = await TestClient.join(server.port, "renewed", {
          ca: ca.cert,
        });
        await client.send("fresh");
        assert.equal(await client.readLine(), "MSG renewed fresh");
      },
    );
  });
});
