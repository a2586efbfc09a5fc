/**
 * Tests that the layout is the architecture: every import between modules
 * of `lib/` (static, dynamic, `import type`, raw assets) runs one way, by
 * the table below, read from the module graph `deno info --json` gives;
 * every module of `lib/` belongs to a row of it; tests mirror the server's
 * folders; `docs/design.md`'s map names every module; and no module of
 * `lib/`, `web/` or the roles is over 400 lines, no function over 60.
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ROOT, runCommand, withTempDir } from "./_helpers.ts";

/**
 * Which part of `lib/` may import which, inner parts first. A part is a
 * folder (its modules and its subfolders') or one module; a module belongs
 * to the longest part that holds it. Every part may import itself. The
 * room knows access (who may join) and the config; storage and the
 * cluster implement the room's seams (`RoomLog`, the stored event, the
 * member); the doors hand the room `Connection`s; `backend.ts` chooses
 * the room's log and directory (storage's or the cluster's); only
 * `chat_server.ts` puts them together. Roles (`server.ts`, ...) and tests
 * may import anything.
 */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  "lib": [],
  "lib/client": ["lib"],
  "lib/server/server_flags.ts": ["lib"],
  "lib/server/server_certs.ts": ["lib", "lib/server/config.ts"],
  "lib/server/config.ts": ["lib", "lib/server/server_flags.ts"],
  "lib/server/server_args.ts": [
    "lib",
    "lib/server/server_flags.ts",
    "lib/server/config.ts",
  ],
  "lib/server/metrics": ["lib"],
  "lib/server/access": ["lib", "lib/server/metrics"],
  "lib/server/room": [
    "lib",
    "lib/server/config.ts",
    "lib/server/access",
    "lib/server/metrics",
  ],
  "lib/server/storage": ["lib", "lib/server/room", "lib/server/metrics"],
  "lib/server/cluster": [
    "lib",
    "lib/server/access",
    "lib/server/room",
    "lib/server/metrics",
  ],
  "lib/server/doors": [
    "lib",
    "lib/server/config.ts",
    "lib/server/access",
    "lib/server/room",
    "lib/server/metrics",
    "web",
  ],
  "lib/server/irc": [
    "lib",
    "lib/server/config.ts",
    "lib/server/access",
    "lib/server/room",
    "lib/server/doors",
  ],
  "lib/server/backend.ts": [
    "lib",
    "lib/server/config.ts",
    "lib/server/server_flags.ts",
    "lib/server/access",
    "lib/server/room",
    "lib/server/storage",
    "lib/server/cluster",
    "lib/server/metrics",
  ],
  "lib/server/chat_server.ts": [
    "lib",
    "lib/server/config.ts",
    "lib/server/access",
    "lib/server/room",
    "lib/server/storage",
    "lib/server/doors",
    "lib/server/irc",
    "lib/server/backend.ts",
    "lib/server/metrics",
  ],
  "lib/server/server_start.ts": [
    "lib",
    "lib/server/config.ts",
    "lib/server/storage",
    "lib/server/doors",
    "lib/server/backend.ts",
    "lib/server/chat_server.ts",
    "lib/server/metrics",
  ],
};

/** The part of a path from the repository root, or null when none holds it. */
function partOf(path: string, parts: readonly string[]): string | null {
  let best: string | null = null;
  for (const part of parts) {
    if (path === part || path.startsWith(`${part}/`)) {
      if (best === null || part.length > best.length) best = part;
    }
  }
  return best;
}

/** Every .ts/.js file under `dir` (from the repository root), sorted. */
async function modulesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(join(ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await modulesUnder(path));
    else if (/\.(ts|js)$/.test(entry.name)) found.push(path);
  }
  return found.sort();
}

/** Every import of one module by another, both from the repository root. */
async function importsOf(
  modules: readonly string[],
): Promise<{ from: string; to: string }[]> {
  return await withTempDir(async (dir) => {
    // deno info takes one root: one that imports every module of lib/.
    const root = join(dir, "all.ts");
    await Deno.writeTextFile(
      root,
      modules.map((m) => `import "${pathToFileURL(join(ROOT, m))}";\n`)
        .join(""),
    );
    const { code, out } = await runCommand("deno", [
      "info",
      "--json",
      "--config",
      join(ROOT, "deno.json"),
      root,
    ]);
    assert.equal(code, 0, out);
    const graph = JSON.parse(out) as {
      modules: {
        specifier: string;
        dependencies?: {
          code?: { specifier: string };
          type?: { specifier: string };
        }[];
      }[];
    };
    const inRepo = (url: string) =>
      url.startsWith("file:") ? relative(ROOT, fileURLToPath(url)) : null;
    const edges: { from: string; to: string }[] = [];
    for (const module of graph.modules) {
      const from = inRepo(module.specifier);
      if (from === null || !from.startsWith("lib/")) continue;
      for (const dependency of module.dependencies ?? []) {
        for (const target of [dependency.code, dependency.type]) {
          const to = target && inRepo(target.specifier);
          if (to) edges.push({ from, to });
        }
      }
    }
    return edges;
  });
}

Deno.test("every import in lib/ runs one way, by the layout table", async () => {
  const parts = Object.keys(MAY_IMPORT);
  const modules = await modulesUnder("lib");
  const unplaced = modules.filter((m) => partOf(m, parts) === null);
  assert.deepEqual(unplaced, [], "modules no row of MAY_IMPORT holds");
  // Asset folders (web/) are parts too, importable where the table says.
  const targets = [...parts, "web"];
  const edges = await importsOf(modules);
  assert.ok(edges.length > 100, `only ${edges.length} imports found`);
  const against = edges.filter(({ from, to }) => {
    const own = partOf(from, parts)!;
    const other = partOf(to, targets);
    return other !== own && !MAY_IMPORT[own]!.includes(other ?? to);
  }).map(({ from, to }) => `${from} -> ${to}`);
  assert.deepEqual(against, []);
});

Deno.test("no module of lib/ keeps mutable state at its top level", async () => {
  // Module-global state is shared by every server, door and test in the
  // process: state belongs to an object its owner makes.
  const found: string[] = [];
  for (const module of await modulesUnder("lib")) {
    const text = await Deno.readTextFile(join(ROOT, module));
    for (const match of text.matchAll(/^(?:export )?(?:let|var) \w+/gm)) {
      found.push(`${module}: ${match[0]}`);
    }
  }
  assert.deepEqual(found, []);
});

Deno.test("lib/server/ holds only its folders, the config, its flags and args, its certificate, the backend and what joins them", async () => {
  const loose: string[] = [];
  for await (const entry of Deno.readDir(join(ROOT, "lib/server"))) {
    if (!entry.isDirectory) loose.push(entry.name);
  }
  assert.deepEqual(loose.sort(), [
    "backend.ts",
    "chat_server.ts",
    "config.ts",
    "server_args.ts",
    "server_certs.ts",
    "server_flags.ts",
    "server_start.ts",
  ]);
});

Deno.test("tests/server/ mirrors the server's folders", async () => {
  const folders = async (dir: string) => {
    const names: string[] = [];
    for await (const entry of Deno.readDir(join(ROOT, dir))) {
      if (entry.isDirectory) names.push(entry.name);
    }
    return names.sort();
  };
  assert.deepEqual(
    await folders("tests/server"),
    await folders("lib/server"),
  );
});

Deno.test("docs/design.md's map names every folder and module of lib/", async () => {
  const design = await Deno.readTextFile(join(ROOT, "docs/design.md"));
  const map = design.split("## The map")[1]?.split("\n## ")[0] ?? "";
  // Words of the map: folders are named in full (lib/server/) or, inside
  // lib/server/, by their own name (room/); modules by file name.
  const words = new Set(map.split(/\s+/));
  const missing: string[] = [];
  for (const module of await modulesUnder("lib")) {
    const folder = module.slice(0, module.lastIndexOf("/") + 1);
    const short = folder.replace(/^lib\/server\/(?=.)/, "");
    if (!words.has(folder) && !words.has(short)) missing.push(folder);
    if (!words.has(module.slice(folder.length))) missing.push(module);
  }
  assert.deepEqual([...new Set(missing)], []);
});

/** What the size tests read: `lib/`, the page and the role scripts. */
const SIZED = [
  "lib",
  "web",
  "server.ts",
  "client.ts",
  "users.ts",
  "history.ts",
];

/**
 * Modules the size tests skip, each with why: known, and being reworked
 * elsewhere.
 */
const SIZE_EXEMPT: Readonly<Record<string, string>> = {};

Deno.test("no module of lib/, web/ or the roles is over 400 lines", async () => {
  const modules = (await Promise.all(
    SIZED.map((p) => p.includes(".") ? [p] : modulesUnder(p)),
  )).flat();
  const long: string[] = [];
  for (const module of modules) {
    if (module in SIZE_EXEMPT) continue;
    const text = await Deno.readTextFile(join(ROOT, module));
    const lines = text.split("\n").length - 1;
    if (lines > 400) long.push(`${module}: ${lines} lines`);
  }
  assert.deepEqual(long, []);
});

Deno.test("no function in lib/, web/ or the roles is over 60 lines", async () => {
  // Functions are found in the syntax tree deno lint builds, through a
  // lint plugin that reports each long one.
  const plugin = `export default { name: "size", rules: { long: { create(c) {
    const check = (node) => {
      const at = node.parent?.type === "MethodDefinition" ? node.parent : node;
      const [start, end] = at.range;
      const lines = c.sourceCode.text.slice(start, end).split("\\n").length;
      if (lines > 60) c.report({ node: at, message: \`\${lines} lines\` });
    };
    return {
      FunctionDeclaration: check,
      FunctionExpression: check,
      ArrowFunctionExpression: check,
    };
  } } } };\n`;
  const found = await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "size.js"), plugin);
    await Deno.writeTextFile(
      join(dir, "deno.json"),
      JSON.stringify({
        lint: {
          plugins: ["./size.js"],
          rules: { tags: [], include: ["size/long"] },
        },
      }),
    );
    // A function of 61 lines, so that the check is seen to find one.
    const probe = join(dir, "probe.ts");
    await Deno.writeTextFile(
      probe,
      `export function probe(): void {\n${"  probe();\n".repeat(59)}}\n`,
    );
    const { out } = await runCommand("deno", [
      "lint",
      "--json",
      "--config",
      join(dir, "deno.json"),
      ...SIZED,
      probe,
    ]);
    const { diagnostics } = JSON.parse(out) as {
      diagnostics: {
        filename: string;
        range: { start: { line: number } };
        message: string;
      }[];
    };
    const probed = diagnostics.filter((d) =>
      fileURLToPath(d.filename) === probe
    );
    assert.deepEqual(probed.map((d) => d.message), ["61 lines"]);
    return diagnostics.filter((d) => !probed.includes(d)).map((d) => ({
      module: relative(ROOT, fileURLToPath(d.filename)),
      at: `${d.range.start.line}: ${d.message}`,
    }));
  });
  const long = found.filter(({ module }) => !(module in SIZE_EXEMPT))
    .map(({ module, at }) => `${module}:${at}`);
  assert.deepEqual(long, []);
});
