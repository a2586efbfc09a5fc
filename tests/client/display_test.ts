// deno-lint-ignore-file no-control-regex -- these tests look for terminal codes
/** Tests of how the client shows server lines. */

import assert from "node:assert/strict";
import { styleText } from "node:util";
import { aliasColor, formatForDisplay } from "../../lib/client/display.ts";
import { formatDateTime, formatTime } from "../../lib/client/local_time.ts";
import { parseServerLine } from "../../lib/server_lines.ts";

const plain = (text: string) =>
  formatForDisplay(parseServerLine(text) ?? text, { color: false });

Deno.test("formatForDisplay() shows each line type plainly", () => {
  const cases: [string, string | null][] = [
    [
      "HELLO tlschat/1 room Send your alias",
      "-!- Connected to room (tlschat/1)",
    ],
    [
      "WELCOME bob 3 Type /help for commands",
      "-!- Welcome, bob! 3 online. Type /help for commands",
    ],
    ["MSG bob hello there", "<bob> hello there"],
    ["ME bob waves", "* bob waves"],
    ["PRIV amy psst", "[private] <amy> psst"],
    ["SENT amy psst", "[private] to amy: psst"],
    ["NOTICE bot build passed", "-bot- build passed"],
    ["PRIVNOTICE bot psst", "[private] -bot- psst"],
    ["SENTNOTICE amy psst", "[private] to amy: psst"],
    ["JOIN amy 4", "-!- amy joined (4 online)"],
    [
      "LEAVE amy 3 quit off to bed",
      "-!- amy left (quit: off to bed, 3 online)",
    ],
    [
      "LEAVE amy 3 flood kicked for flooding",
      "-!- amy left (kicked for flooding: kicked for flooding, 3 online)",
    ],
    ["LEAVE amy 3 disconnect", "-!- amy left (disconnected, 3 online)"],
    [
      "LEAVE amy 3 server-lost",
      "-!- amy left (their server was lost, 3 online)",
    ],
    ["NICK amy amelia 3", "-!- amy is now known as amelia"],
    ["PRESENCE 12 3 140", "-!- 12 joined, 3 left (140 online)"],
    ["WHO 3 amy bob", "-!- 3 online: amy, bob and 1 more"],
    ["INFO /who: list who is online", "-!- /who: list who is online"],
    ["ERR usage Usage: /me ACTION", "! Usage: /me ACTION"],
    ["BYE quit Goodbye", "-!- Disconnected: Goodbye"],
    [
      'BYE replaced Disconnected: "ann" logged in from another connection',
      '-!- Disconnected: "ann" logged in from another connection',
    ],
    ["PING 123", null],
    ["SOMETHING new", "SOMETHING new"],
  ];
  for (const [line, shown] of cases) assert.equal(plain(line), shown, line);
});

Deno.test("formatForDisplay() sanitises what a hostile server sends", () => {
  assert.equal(
    plain("MSG bob \x1b[2J\x1b]0;owned\x07hi\x07"),
    "<bob> \u2068hi\uFFFD\u2069",
  );
  assert.equal(plain("RAW \x1b[31mtext\x00"), "\u2068RAW text\uFFFD\u2069");
  // Nor can it close the isolate a field is shown in.
  assert.equal(
    plain("MSG bob a\u2069\u202Eb"),
    "<bob> \u2068a\uFFFD\uFFFDb\u2069",
  );
});

Deno.test("formatForDisplay() colours aliases and errors, and adds the time", () => {
  const line = parseServerLine("MSG bob hi")!;
  const shown = formatForDisplay(line, {
    color: true,
    time: new Date(2026, 0, 2, 9, 5),
  })!;
  assert.match(shown, /\x1b\[2m09:05\x1b\[22m <\x1b\[\d+mbob\x1b\[39m> hi/);
  assert.match(
    formatForDisplay(parseServerLine("ERR x boom")!, { color: true })!,
    /\x1b\[31m/,
  );
  assert.doesNotMatch(
    formatForDisplay(line, { color: false, time: new Date() })!,
    /\x1b/,
  );
});

Deno.test("aliasColor() is stable, case-insensitive and spreads aliases", () => {
  assert.equal(aliasColor("Alice"), aliasColor("alice"));
  assert.equal(aliasColor("bob"), aliasColor("bob"));
  const colors = new Set(
    ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"].map(
      aliasColor,
    ),
  );
  assert.ok(colors.size >= 4, [...colors].join());
});

Deno.test("formatTime() shows local hours and minutes", () => {
  assert.equal(formatTime(new Date(2026, 10, 26, 7, 3)), "07:03");
});

Deno.test("formatForDisplay() never shows an action like a system line", () => {
  const forged = plain("ME mallory left (quit, 3 online)")!;
  const real = plain("LEAVE mallory 3 quit")!;
  assert.equal(real, "-!- mallory left (quit, 3 online)");
  assert.equal(forged, "* mallory left (quit, 3 online)");
  assert.notEqual(forged, real);
  // Every line the server itself says starts with the system prefix; no
  // message or action can.
  for (
    const line of [
      "HELLO tlschat/1 room p hi",
      "WELCOME bob 3 hi",
      "JOIN amy 4",
      "LEAVE amy 3 quit",
      "NICK amy amelia 3",
      "PRESENCE 1 2 3",
      "WHO 1 amy",
      "INFO help",
      "BYE quit Goodbye",
    ]
  ) {
    assert.match(plain(line)!, /^-!- /, line);
  }
  for (const line of ["MSG bob -!- fake", "ME bob -!- fake"]) {
    assert.doesNotMatch(plain(line)!, /^-!- /, line);
  }
});

Deno.test("formatForDisplay() dates history and dims it; live lines cannot pass for it", () => {
  // A local time, so that the expected text holds in any time zone.
  const when = new Date(2026, 10, 26, 9, 5).toISOString();
  const hist = (kind: string, text: string, time = when) =>
    formatForDisplay(
      { type: "HIST", seq: "7", time, kind, alias: "amy", text },
      { color: false, time: new Date() },
    );
  assert.equal(hist("MSG", "earlier"), "2026-11-26 09:05 <amy> earlier");
  assert.equal(hist("ME", "waved"), "2026-11-26 09:05 * amy waved");
  // A time that is not one is shown as sent, made safe.
  assert.equal(hist("MSG", "x", "soon\x1b[2J"), "soon <amy> x");
  assert.equal(
    formatForDisplay(
      { type: "HISTEND", count: "2", text: "End of history: 2 messages" },
      { color: false },
    ),
    "-!- ---- End of history: 2 messages ----",
  );
  assert.equal(
    formatForDisplay(
      {
        type: "HIST",
        seq: "1",
        time: when,
        kind: "MSG",
        alias: "a",
        text: "b",
      },
      { color: true },
    ),
    `\x1b[2m2026-11-26 09:05 \x1b[22m<${
      styleText(aliasColor("a"), "a", { validateStream: false })
    }> b`,
  );
});

Deno.test("formatForDisplay() shows a reason or action named like an object key as it came", () => {
  for (const word of ["constructor", "toString", "__proto__"]) {
    assert.equal(
      plain(`LEAVE amy 3 ${word}`),
      `-!- amy left (${word}, 3 online)`,
    );
    assert.equal(plain(`MOD ${word} amy bob`), `-!- amy ${word} by bob`);
  }
});

Deno.test("formatForDisplay() says once who banned or muted, and a kick's reason after a colon", () => {
  assert.equal(
    plain("MOD mute bob amy by amy until 2026-12-07T04:21:18.273Z"),
    `-!- bob was muted by amy until ${
      formatDateTime(new Date("2026-12-07T04:21:18.273Z"))
    }`,
  );
  assert.equal(
    plain("MOD ban bob amy by amy until lifted: spam"),
    "-!- bob was banned by amy until lifted: spam",
  );
  assert.equal(
    plain("MOD kick bob amy calm down"),
    "-!- bob was kicked by amy: calm down",
  );
  assert.equal(plain("MOD unmute bob amy"), "-!- bob was unmuted by amy");
});

Deno.test("formatForDisplay() shows a PASSWORD line without the hint for clients typed by hand: the client asks itself", () => {
  assert.equal(
    plain("PASSWORD room This room has a password: send /pass PASSWORD"),
    "-!- This room has a password",
  );
  assert.equal(
    plain('PASSWORD account "bob" is a registered alias: send /pass PASSWORD'),
    '-!- "bob" is a registered alias',
  );
});

Deno.test("formatForDisplay() shows the end of a ban or mute in local time, as every other time", () => {
  // The server writes it in UTC to the millisecond, for any time zone.
  const utc = "2026-12-08T18:17:30.779Z";
  const local = formatDateTime(new Date(utc));
  const cases: [string, string][] = [
    [
      `MOD ban bob amy by amy until ${utc}: spam`,
      `-!- bob was banned by amy until ${local}: spam`,
    ],
    [
      `BAN account bob ${utc} amy spam`,
      `-!- Ban on account bob by amy, until ${local}: spam`,
    ],
    [
      `BYE banned Banned by amy until ${utc}: spam`,
      `-!- Disconnected: Banned by amy until ${local}: spam`,
    ],
    [
      `ERR muted You are muted by amy until ${utc}`,
      `! You are muted by amy until ${local}`,
    ],
    // What someone said is shown as it came.
    [`MSG bob until ${utc}`, `<bob> until ${utc}`],
  ];
  for (const [line, shown] of cases) assert.equal(plain(line), shown, line);
});

Deno.test("formatForDisplay() labels a line with its room after the time, history included", () => {
  const time = new Date(2026, 0, 2, 9, 5);
  const room = "#ops";
  const msg = parseServerLine("MSG bob hi")!;
  assert.equal(formatForDisplay(msg, { color: false, room }), "#ops <bob> hi");
  assert.equal(
    formatForDisplay(msg, { color: false, time, room }),
    "09:05 #ops <bob> hi",
  );
  assert.equal(
    formatForDisplay(msg, { color: true, room: "#ops" }),
    `\x1b[1m#ops\x1b[22m <${
      styleText(aliasColor("bob"), "bob", { validateStream: false })
    }> hi`,
  );
  const when = new Date(2026, 10, 26, 9, 5).toISOString();
  assert.equal(
    formatForDisplay(
      {
        type: "HIST",
        seq: "7",
        time: when,
        kind: "MSG",
        alias: "a",
        text: "b",
      },
      { color: false, time, room },
    ),
    "#ops 2026-11-26 09:05 <a> b",
  );
  assert.equal(
    formatForDisplay("SOMETHING new", { color: false, room }),
    "#ops SOMETHING new",
  );
  assert.equal(formatForDisplay(msg, { color: false, room: null }), "<bob> hi");
});

Deno.test("formatForDisplay() shows parts and room moderation", () => {
  const cases: [string, string][] = [
    ["LEAVE amy 2 part", "-!- amy left (parted, 2 online)"],
    ["LEAVE amy 2 part see you", "-!- amy left (parted: see you, 2 online)"],
    ["MOD op bob amy", "-!- bob was made a room operator by amy"],
    ["MOD deop bob amy", "-!- bob is no longer a room operator by amy"],
    ["MOD invite bob amy", "-!- bob was invited by amy"],
    ["MOD key - amy on", "-!- The room now needs a key (by amy)"],
    ["MOD key - amy off", "-!- The room needs no key now (by amy)"],
    ["MOD invite-only - amy on", "-!- The room is invite-only now (by amy)"],
    ["MOD invite-only - amy off", "-!- The room is open now (by amy)"],
    ["MOD register - amy", "-!- The room is registered (by amy)"],
    ["MOD unknown-thing - amy on", "-!- unknown-thing on (by amy)"],
    ["MOD toString - amy on", "-!- toString on (by amy)"],
  ];
  for (const [line, shown] of cases) assert.equal(plain(line), shown, line);
});

Deno.test("formatForDisplay() shows rooms listed, invitations, and not CURRENT (the prompt does)", () => {
  const cases: [string, string | null][] = [
    [
      "ROOM #ops 3 mk Deploys here",
      "-!- #ops (3 members, you are in it, key): Deploys here",
    ],
    ["ROOM #quiet 1 -", "-!- #quiet (1 member)"],
    ["ROOM #club 12 ri", "-!- #club (12 members, registered, invite-only)"],
    ["INVITE #ops amy", "-!- amy invites you to #ops: /join #ops"],
    ["CURRENT #ops", null],
  ];
  for (const [line, shown] of cases) assert.equal(plain(line), shown, line);
});

/** A right-to-left word, a sentence with punctuation and digits. */
const WORD = "שלום";
const SAID = "שלום (עולם) 12!";

/**
 * What a display line shows outside its bidi isolates, which must be
 * balanced: where that is printable ASCII only, the line reads left to
 * right whatever the isolates hold (each counts as one neutral, UAX #9).
 */
function outsideIsolates(line: string): string {
  let depth = 0;
  let outside = "";
  for (const char of line) {
    if (char === "\u2068") depth++;
    else if (char === "\u2069") {
      assert.ok(depth > 0, `a PDI with no FSI: ${line}`);
      depth--;
    } else if (depth === 0) outside += char;
  }
  assert.equal(depth, 0, `an isolate left open: ${line}`);
  return outside;
}

Deno.test("formatForDisplay() isolates right-to-left text in every field it embeds: what is around it keeps its order", () => {
  const lines = [
    `HELLO tlschat/1 ${WORD} - ${SAID}`,
    `WELCOME ${WORD} 3 ${SAID}`,
    `MSG ${WORD} ${SAID}`,
    `ME ${WORD} ${SAID}`,
    `PRIV ${WORD} ${SAID}`,
    `SENT ${WORD} ${SAID}`,
    `JOIN ${WORD} 4`,
    `LEAVE ${WORD} 3 quit ${SAID}`,
    `LEAVE amy 3 ${WORD} ${SAID}`,
    `NICK ${WORD} ${WORD}x 3`,
    `PRESENCE ${WORD} ${WORD} ${WORD}`,
    `WHO 5 @${WORD} ${WORD} amy`,
    `PASSWORD account ${SAID}`,
    `TOPIC ${WORD} ${SAID}`,
    `HIST 7 2026-11-26T09:05:00.000Z MSG ${WORD} ${SAID}`,
    `HIST 7 ${WORD} ME amy ${SAID}`,
    `HISTEND 2 ${SAID}`,
    `MOD op ${WORD} ${WORD}`,
    `MOD kick ${WORD} amy ${SAID}`,
    `MOD mute ${WORD} amy by amy ${SAID}`,
    `MOD ${WORD} bob amy ${SAID}`,
    `MOD key - ${WORD} on`,
    `MOD ${WORD} - amy ${SAID}`,
    `BAN address ${WORD} ${WORD} ${WORD} ${SAID}`,
    `INFO ${SAID}`,
    `ERR usage ${SAID}`,
    `BYE quit ${SAID}`,
    `BYE kicked Disconnected: ${SAID}`,
    `FOUND #${WORD} 7 2026-11-26T09:05:00.000Z MSG ${WORD} ${SAID}`,
    `FOUNDEND 1 ${SAID}`,
    `RESUMED 7 0 ${SAID}`,
    `ROOM #${WORD} 3 mk ${SAID}`,
    `INVITE #${WORD} ${WORD}`,
    `${WORD} ${SAID}`,
  ];
  for (const line of lines) {
    for (const room of [null, `#${WORD}`]) {
      const shown = formatForDisplay(parseServerLine(line) ?? line, {
        color: false,
        room,
      })!;
      assert.match(outsideIsolates(shown), /^[\x20-\x7e]*$/, shown);
      assert.ok(shown.includes(WORD), shown);
    }
  }
});

Deno.test("formatForDisplay() shows notices with right-to-left text in their order, each piece isolated", () => {
  const cases: [string, string][] = [
    [
      `MOD op ${WORD} amy`,
      `-!- \u2068${WORD}\u2069 was made a room operator by amy`,
    ],
    [
      `MOD kick eve amy ${SAID}`,
      `-!- eve was kicked by amy: \u2068${SAID}\u2069`,
    ],
    [`TOPIC amy ${SAID}`, `-!- Topic: \u2068${SAID}\u2069 (set by amy)`],
    [
      `LEAVE amy 3 quit ${SAID}`,
      `-!- amy left (quit: \u2068${SAID}\u2069, 3 online)`,
    ],
    [`MSG amy ${SAID}`, `<amy> \u2068${SAID}\u2069`],
    [
      `BYE kicked Disconnected: ${SAID}`,
      `-!- \u2068Disconnected: ${SAID}\u2069`,
    ],
    // Plain ASCII is left as it is.
    ["MOD op bob amy", "-!- bob was made a room operator by amy"],
  ];
  for (const [line, shown] of cases) assert.equal(plain(line), shown, line);
  const colored = formatForDisplay(parseServerLine(`JOIN ${WORD} 4`)!, {
    color: true,
  })!;
  assert.ok(
    colored.includes(
      styleText(aliasColor(WORD), `\u2068${WORD}\u2069`, {
        validateStream: false,
      }),
    ),
    colored,
  );
});

Deno.test("formatForDisplay() shows when a topic or a ban was set (its @time= tag) in local time after its setter, and nothing when not known", () => {
  const utc = "2026-12-07T21:00:00.000Z";
  const setAt = new Date(utc);
  const local = formatDateTime(setAt);
  const shown = (text: string, at?: Date) =>
    formatForDisplay(parseServerLine(text)!, { color: false, setAt: at });
  assert.equal(
    shown("TOPIC opal Read the FAQ", setAt),
    `-!- Topic: Read the FAQ (set by opal on ${local})`,
  );
  assert.equal(
    shown("TOPIC opal Read the FAQ"),
    "-!- Topic: Read the FAQ (set by opal)",
  );
  assert.equal(
    shown("BAN account bob - opal spam", setAt),
    `-!- Ban on account bob by opal on ${local}, until lifted: spam`,
  );
  assert.equal(
    shown("BAN account bob - opal spam"),
    "-!- Ban on account bob by opal, until lifted: spam",
  );
  assert.equal(shown("MSG bob hi", setAt), "<bob> hi");
});
