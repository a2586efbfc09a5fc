/**
 * Tests that the README stays true: its openssl recipe makes certificates
 * the server can serve, and its permission table matches `deno.json`.
 */

import assert from "node:assert/strict";
import { assertServesTls, ROOT, withTempDir } from "./_helpers.ts";

const readme = await Deno.readTextFile(`${ROOT}README.md`);
const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as {
  tasks: Record<string, string>;
};

Deno.test("README openssl recipe makes certificates that Deno serves and trusts", async () => {
  const block = /<!-- openssl-dev-certs -->\s*```sh\n([\s\S]*?)```/.exec(
    readme,
  );
  assert.ok(block, "the README has the openssl recipe");
  await withTempDir(async (dir) => {
    const { code, stderr } = await new Deno.Command("bash", {
      args: ["-euo", "pipefail", "-c", block[1]!],
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const read = (name: string) => Deno.readTextFile(`${dir}/certs/${name}`);
    await assertServesTls(
      { cert: await read("server.pem"), key: await read("server-key.pem") },
      await read("ca.pem"),
    );
    for (const key of ["ca-key.pem", "server-key.pem"]) {
      assert.equal(
        (await Deno.stat(`${dir}/certs/${key}`)).mode! & 0o777,
        0o600,
      );
    }
  });
});

Deno.test("README permission table matches the tasks, and only the browser tests use -A", () => {
  for (const [name, command] of Object.entries(config.tasks)) {
    // Playwright needs -A under Deno: the browser tests alone get it.
    const rest = command.replace(
      "deno test -A tests/browser/web_browser.ts",
      "",
    );
    assert.doesNotMatch(rest, /(^|\s)(-A|--allow-all)(\s|$)/, name);
  }
  const rows = [...readme.matchAll(/^\| `deno task (\w+)`\s*\| `([^`]+)`/gm)];
  assert.ok(rows.length >= 5, "the README lists the tasks' permissions");
  for (const [, task, flags] of rows) {
    const command = config.tasks[task!];
    assert.ok(command, `deno.json has task ${task}`);
    for (const flag of flags!.split(" ")) {
      assert.ok(command.includes(flag), `${task}: ${flag}`);
    }
  }
  assert.match(readme, /^deno task test /m, "the README's test command");
});
