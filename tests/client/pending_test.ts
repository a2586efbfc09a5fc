/** Tests of the client's bookkeeping of lines sent with ids: no sockets. */

import assert from "node:assert/strict";
import { newClientLineId, PendingLines } from "../../lib/client/pending.ts";
import { isLineId } from "../../lib/protocol.ts";
import { type ServerLine } from "../../lib/server_lines.ts";

/** Pending lines on, with ids id1, id2, ... (padded to 16 characters). */
function pendingLines(limit?: number) {
  let n = 0;
  const pending = new PendingLines({
    limit,
    newId: () => `id${++n}`.padEnd(16, "0"),
  });
  pending.enabled = true;
  return pending;
}

const id = (n: number) => `id${n}`.padEnd(16, "0");
const echo: ServerLine = { type: "MSG", alias: "amy", text: "hi" };
const err = (code: string): ServerLine => ({ type: "ERR", code, text: "x" });

Deno.test("newClientLineId() makes 128 random bits in base64url, a well-formed id", () => {
  const ids = new Set(Array.from({ length: 100 }, newClientLineId));
  assert.equal(ids.size, 100);
  for (const made of ids) {
    assert.equal(made.length, 22);
    assert.ok(isLineId(made), made);
  }
});

Deno.test("PendingLines.tag() tags messages and actions once ids are on, nothing else", () => {
  const off = new PendingLines();
  assert.equal(off.tag("hi"), "hi", "not before the server turned ids on");
  const pending = pendingLines();
  assert.equal(pending.tag("hi"), `@id=${id(1)} hi`);
  assert.equal(pending.tag("/me waves"), `@id=${id(2)} /me waves`);
  assert.equal(pending.tag("/ME waves"), `@id=${id(3)} /ME waves`);
  assert.equal(pending.tag("//etc"), `@id=${id(4)} //etc`);
  assert.equal(pending.tag("@id=x text"), `@id=${id(5)} @id=x text`);
  for (const line of ["/who", "/msg bob hi", "/mess", "", "  ", "\u200b "]) {
    assert.equal(pending.tag(line), line, JSON.stringify(line));
  }
  assert.deepEqual(pending.unanswered().map((p) => p.text), [
    "hi",
    "/me waves",
    "/ME waves",
    "//etc",
    "@id=x text",
  ]);
});

Deno.test("PendingLines.answer() shows each echo once, a second echo of a resend not at all", () => {
  const pending = pendingLines();
  pending.tag("hi");
  assert.deepEqual(pending.answer(id(1), echo), { kind: "show" });
  assert.deepEqual(pending.answer(id(1), echo), { kind: "hide" });
  assert.equal(pending.size, 0);
  // An id it never sent (or forgot): shown.
  assert.deepEqual(pending.answer(id(9), echo), { kind: "show" });
  // A line of an unknown type: shown as it is.
  pending.tag("x");
  assert.deepEqual(pending.answer(id(2), undefined), { kind: "show" });
  assert.equal(pending.size, 1, "still waiting for its answer");
});

Deno.test("PendingLines.answer() sends a line in doubt once more, with the same id", () => {
  const pending = pendingLines();
  pending.tag("in doubt");
  const first = pending.answer(id(1), err("unknown"));
  assert.equal(first.kind, "resend");
  assert.equal(first.kind === "resend" && first.line, `@id=${id(1)} in doubt`);
  // Stored after all (by the first try, or the second): shown once.
  assert.deepEqual(pending.answer(id(1), echo), { kind: "show" });
  assert.deepEqual(pending.answer(id(1), echo), { kind: "hide" });
  // In doubt again: not sent again; perhaps not sent.
  pending.tag("still in doubt");
  assert.equal(pending.answer(id(2), err("unknown")).kind, "resend");
  assert.deepEqual(pending.answer(id(2), err("unknown")), {
    kind: "unsent",
    sure: false,
    pending: { id: id(2), text: "still in doubt", room: null, resent: true },
  });
  // Refused after a resend: the first try may still have been stored, and
  // its echo then shows.
  pending.tag("refused after doubt");
  pending.answer(id(3), err("unknown"));
  const refused = pending.answer(id(3), err("unavailable"));
  assert.equal(refused.kind === "unsent" && refused.sure, false);
  assert.deepEqual(pending.answer(id(3), echo), { kind: "show" });
  assert.equal(pending.size, 0);
});

Deno.test("PendingLines.answer() reports a refused line as not sent, and other errors as they are", () => {
  const pending = pendingLines();
  pending.tag("refused");
  pending.tag("/me muted");
  assert.deepEqual(pending.answer(id(1), err("unavailable")), {
    kind: "unsent",
    sure: true,
    pending: { id: id(1), text: "refused", room: null, resent: false },
  });
  assert.deepEqual(pending.answer(id(2), err("muted")), { kind: "show" });
  assert.equal(pending.size, 0);
});

Deno.test("PendingLines keeps at most its limit, and idle() resolves once all are answered", async () => {
  const pending = pendingLines(2);
  for (const text of ["a", "b", "c"]) pending.tag(text);
  assert.deepEqual(pending.unanswered().map((p) => p.text), ["b", "c"]);
  let idle = false;
  const waiting = pending.idle().then(() => idle = true);
  pending.answer(id(2), echo);
  await Promise.resolve();
  assert.equal(idle, false);
  pending.answer(id(3), err("unavailable"));
  await waiting;
  assert.equal(idle, true);
  await pending.idle(); // nothing pending: at once
});
