/**
 * What a person sees on the terminal client (`client.ts` on a 100-column
 * pseudo-terminal, the tests' `TerminalClient`) when another member tries
 * to pass off text as lines of its own.
 */

import assert from "node:assert/strict";
import {
  denoRun,
  startServer,
  TerminalClient,
  TestClient,
  withClientFlags,
} from "../_helpers.ts";

Deno.test("client.ts on a terminal: a message padded to the right margin goes on indented, not as a line of its own at column 0", async () => {
  await using s = await startServer("deno");
  using mallory = await TestClient.join(s.port, "mallory");
  await withClientFlags(s.port, async (permissions, flags) => {
    await using term = new TerminalClient(permissions, [
      ...flags,
      "--alias",
      "tom",
    ]);
    let at = await term.waitFor(/tom #lobby> $/);
    // "HH:MM <mallory> hi" and padding fill the 100 columns exactly.
    const fill = 100 - "12:34 <mallory> hi".length;
    // A message that is not plain ASCII is shown in a bidi isolate, closed
    // at the end of each row and opened again after the indent.
    const spoofs: [string, string, string][] = [
      [
        "hi" + " ".repeat(fill),
        "12:34 -!- mallory was made a room operator",
        "",
      ],
      [
        "hi" + "\u2800".repeat(fill),
        "12:34 <alice> mallory is an admin now",
        "\u2068",
      ],
    ];
    for (const [padded, spoof, fsi] of spoofs) {
      const pdi = fsi === "" ? "" : "\u2069";
      await mallory.send(padded + spoof);
      at = await term.waitFor(new RegExp(`${spoof}${pdi}\r?\n`), at);
      // The terminal shows the spoof on a row of its own either way:
      // at column 0 it passed for a line; now it is indented.
      assert.match(
        term.text,
        new RegExp(`\r?\n {6}${fsi}${spoof}${pdi}\r?\n`),
      );
    }
    await term.type("/quit\r");
    assert.equal(await term.exited(), 0);
  });
});

Deno.test("client.ts reading a pipe and printing to a terminal: a message padded to the right margin goes on indented too", async () => {
  await using s = await startServer("deno");
  using mallory = await TestClient.join(s.port, "mallory");
  await withClientFlags(s.port, async (permissions, flags) => {
    // stdin a pipe (cat's), stdout the terminal: pipe mode on a terminal.
    const client = denoRun("client.ts", permissions, [
      ...flags,
      "--alias",
      "tom",
    ])
      .map((word) => `'${word}'`).join(" ");
    await using term = new TerminalClient([], [], "NO_COLOR=1", {
      shell: `cat | deno ${client}`,
    });
    let at = await term.waitFor(/Welcome, tom!/);
    const fill = 100 - "<mallory> hi".length;
    const spoof = "-!- mallory was made a room operator";
    await mallory.send("hi" + "\u2800".repeat(fill) + spoof);
    // In a bidi isolate (the message is not plain ASCII), its rows too.
    at = await term.waitFor(new RegExp(`${spoof}\u2069\r?\n`), at);
    assert.match(term.text, new RegExp(`\r?\n {6}\u2068${spoof}\u2069\r?\n`));
    await term.type("/quit\r\x04");
    assert.equal(await term.exited(), 0);
  });
});
