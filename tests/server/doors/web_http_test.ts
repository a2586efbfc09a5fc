/**
 * Tests of what the web door answers to plain HTTP, without a network:
 * every file of web/ as it is, and the headers of every response. (Its
 * answers over real TLS are tested with the door, in web_door_test.ts.)
 */

import assert from "node:assert/strict";
import {
  securityHeaders,
  WEB_ASSETS,
} from "../../../lib/server/doors/web_http.ts";
import { ROOT } from "../../_helpers.ts";

Deno.test("WEB_ASSETS holds every file of web/ as it is, each page module as JavaScript", async () => {
  const files = [];
  for await (const entry of Deno.readDir(`${ROOT}web`)) files.push(entry.name);
  assert.deepEqual(
    [...WEB_ASSETS.keys()].sort(),
    files.map((name) => name === "index.html" ? "/" : `/${name}`).sort(),
  );
  for (const name of files) {
    const asset = WEB_ASSETS.get(name === "index.html" ? "/" : `/${name}`)!;
    assert.deepEqual(asset.body, await Deno.readFile(`${ROOT}web/${name}`));
    if (name.endsWith(".js")) {
      assert.equal(asset.type, "text/javascript; charset=utf-8", name);
      // Every module a page module imports is one of the page's files.
      const source = new TextDecoder().decode(asset.body);
      for (const [, imported] of source.matchAll(/from "\.\/([\w.]+)"/g)) {
        assert.ok(files.includes(imported!), `${name} imports ${imported}`);
      }
    }
  }
});

Deno.test("securityHeaders() adds HSTS only for a certificate browsers trust", () => {
  assert.equal(
    securityHeaders(true)["strict-transport-security"],
    "max-age=31536000",
  );
  assert.equal(securityHeaders(false)["strict-transport-security"], undefined);
  assert.match(
    securityHeaders(false)["content-security-policy"]!,
    /^default-src 'none'/,
  );
});
