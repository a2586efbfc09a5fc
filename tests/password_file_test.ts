/**
 * Tests of the password file shared by the server and the client: its
 * first line, the empty-line rule, and the warnings about a short password
 * and a file other users may read.
 */

import assert from "node:assert/strict";
import {
  MIN_PASSWORD_FILE_LENGTH,
  readPasswordFile,
} from "../lib/password_file.ts";
import { withTempDir } from "./_helpers.ts";

Deno.test("readPasswordFile() takes the first line as it is, with no warning for a long private one", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/pw`;
    for (
      const text of [" a long pass phrase \r\nnext", " a long pass phrase "]
    ) {
      await Deno.writeTextFile(path, text, { mode: 0o600 });
      await Deno.chmod(path, 0o600);
      assert.deepEqual(await readPasswordFile(path), {
        password: " a long pass phrase ",
        warnings: [],
      });
    }
  });
});

Deno.test("readPasswordFile() refuses an empty first line and warns about a short password or a readable file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/pw`;
    for (const text of ["", "\n", "\r\nsecond line"]) {
      await Deno.writeTextFile(path, text);
      await assert.rejects(
        () => readPasswordFile(path),
        new RegExp(
          `Cannot use --password-file ".*/pw": its first line is empty`,
        ),
      );
    }
    await Deno.writeTextFile(path, "hunter2\n");
    await Deno.chmod(path, 0o644);
    const { password, warnings } = await readPasswordFile(path);
    assert.equal(password, "hunter2");
    assert.deepEqual(warnings.map((w) => w.kind), ["short", "readable"]);
    assert.match(
      warnings[0]!.text,
      new RegExp(
        `is short \\(7 characters\\): use ${MIN_PASSWORD_FILE_LENGTH} or more`,
      ),
    );
    assert.match(warnings[1]!.text, /\(mode 0644\): chmod 600 it$/);
    assert.doesNotMatch(JSON.stringify(warnings), /hunter2/);
    await Deno.chmod(path, 0o640); // the group is other users too
    assert.deepEqual(
      (await readPasswordFile(path)).warnings.map((w) => w.kind),
      ["short", "readable"],
    );
    // Characters, not bytes: twelve accented letters are long enough.
    await Deno.writeTextFile(path, "éééééééééééé");
    await Deno.chmod(path, 0o600);
    assert.deepEqual((await readPasswordFile(path)).warnings, []);
  });
});
