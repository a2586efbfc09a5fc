/** Tests of `/search` without a database: its words, the FTS5 query, the answer's lines and its rate. */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { ProtocolError } from "../../../lib/protocol.ts";
import {
  parseCommand,
  SEARCH_MAX_BYTES,
  SEARCH_MAX_WORDS,
  SEARCH_TOKEN_CHARACTER,
} from "../../../lib/commands.ts";
import { TokenBucket } from "../../../lib/flood.ts";
import {
  ftsPhrase,
  MIN_PREFIX,
  scopeToken,
  searchMatch,
} from "../../../lib/server/storage/search_query.ts";
import {
  type FoundLine,
  NO_SEARCH,
  type RoomBounds,
  type Search,
  searchLines,
} from "../../../lib/server/room/search.ts";
import { FakeClock } from "../../_fakes.ts";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ProtocolError, String(e));
    return e.code;
  }
  assert.fail("expected a ProtocolError");
};

/** The code of the ProtocolError `promise` rejects with. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ProtocolError, String(e));
    return e.code;
  }
  assert.fail("expected a ProtocolError");
}

Deno.test("parseCommand() takes /search's words, split on spaces", () => {
  assert.deepEqual(parseCommand("/search  deploy   Friday "), {
    kind: "search",
    words: ["deploy", "Friday"],
  });
  assert.deepEqual(parseCommand('/SEARCH "NEAR( * x'), {
    kind: "search",
    words: ['"NEAR(', "*", "x"],
  });
});

Deno.test("parseCommand() refuses /search without words, over 8 words or over 200 bytes with ERR usage", () => {
  assert.equal(code(() => parseCommand("/search")), "usage");
  assert.equal(code(() => parseCommand("/search    ")), "usage");
  const eight = Array.from({ length: SEARCH_MAX_WORDS }, (_, i) => `w${i}`);
  assert.deepEqual(parseCommand(`/search ${eight.join(" ")}`), {
    kind: "search",
    words: eight,
  });
  assert.equal(
    code(() => parseCommand(`/search ${eight.join(" ")} more`)),
    "usage",
  );
  const long = "é".repeat(SEARCH_MAX_BYTES / 2); // 200 bytes
  assert.deepEqual(parseCommand(`/search ${long}`), {
    kind: "search",
    words: [long],
  });
  assert.equal(code(() => parseCommand(`/search ${long}x`)), "usage");
});

Deno.test("parseCommand() counts a /search word's parts as the index splits them: a word of many one-letter parts (each a pass over the index) is ERR usage", () => {
  const parts = (n: number) => Array.from({ length: n }, () => "a").join(".");
  assert.deepEqual(parseCommand(`/search ${parts(SEARCH_MAX_WORDS)}`), {
    kind: "search",
    words: [parts(SEARCH_MAX_WORDS)],
  });
  assert.equal(code(() => parseCommand(`/search ${parts(100)}`)), "usage");
  assert.equal(
    code(() => parseCommand(`/search don't e-mail a.b.c.d x`)),
    "usage",
  );
  assert.deepEqual(parseCommand(`/search don't e-mail a.b x`), {
    kind: "search",
    words: ["don't", "e-mail", "a.b", "x"],
  });
  // Words with no part (punctuation only) cost nothing and count none.
  assert.deepEqual(parseCommand(`/search ! ? ${parts(SEARCH_MAX_WORDS)}`), {
    kind: "search",
    words: ["!", "?", parts(SEARCH_MAX_WORDS)],
  });
});

Deno.test("parseCommand() counts as parts the letters the index splits on: New Tai Lue's vowel signs (marks in SQLite's Unicode 6.1) are separators there", () => {
  // 'a' and U+19B0 fifty times: one part by \p{L}, fifty for FTS5, a pass
  // over the index each (measured on 200,000 lines: 140 ms, 8 parts 24 ms).
  const word = Array.from({ length: 50 }, () => "a").join("\u19b0");
  assert.equal(code(() => parseCommand(`/search ${word}`)), "usage");
  const eight = Array.from({ length: SEARCH_MAX_WORDS }, () => "a");
  assert.deepEqual(parseCommand(`/search ${eight.join("\u1cf2")}`), {
    kind: "search",
    words: [eight.join("\u1cf2")],
  });
});

Deno.test("SEARCH_TOKEN_CHARACTER is a token character of the index's tokenizer (FTS5 unicode61) for every code point it takes", () => {
  const db = new DatabaseSync(":memory:");
  try {
    db.exec(
      "CREATE VIRTUAL TABLE t USING fts5(text, tokenize = 'unicode61 remove_diacritics 2')",
    );
    const insert = db.prepare("INSERT INTO t(rowid, text) VALUES (?, ?)");
    db.exec("BEGIN");
    for (let cp = 0x80; cp < 0x110000; cp++) {
      if (cp >= 0xd800 && cp < 0xe000) continue;
      const character = String.fromCodePoint(cp);
      if (SEARCH_TOKEN_CHARACTER.test(character)) {
        insert.run(cp, `q${character}q`);
      }
    }
    db.exec("COMMIT");
    // "q" alone is a token only where the character between was a separator.
    const split = db.prepare("SELECT rowid FROM t WHERE t MATCH 'q'").all()
      .map((row) => Number(row.rowid).toString(16));
    assert.deepEqual(split, []);
  } finally {
    db.close();
  }
});

Deno.test("ftsPhrase() quotes a word, doubling its quotes", () => {
  assert.equal(ftsPhrase("deploy"), '"deploy"');
  assert.equal(ftsPhrase('"'), '""""');
  assert.equal(ftsPhrase('a"b'), '"a""b"');
});

Deno.test("searchMatch() makes every word a required phrase of the text (the last one a prefix), the rooms tokens of the scope", () => {
  assert.equal(
    searchMatch(["NEAR(", "AND", "col:x", "^start"], ["#ops", "#ops", ""]),
    'text : ("NEAR(" AND "AND" AND "col:x" AND "^start"*) AND scope : ("r236f7073" OR "r")',
  );
  assert.equal(
    searchMatch(['de" OR "xyz*', "*"], [""]),
    'text : ("de"" OR ""xyz*"*) AND scope : ("r")',
    "the prefix's * comes after the quoted phrase only",
  );
});

Deno.test("searchMatch() matches a last word (its last part) shorter than MIN_PREFIX as a whole word only", () => {
  assert.equal(MIN_PREFIX, 3);
  assert.equal(
    searchMatch(["deploy", "fr"], [""]),
    'text : ("deploy" AND "fr") AND scope : ("r")',
  );
  assert.equal(
    searchMatch(["deploy", "fri"], [""]),
    'text : ("deploy" AND "fri"*) AND scope : ("r")',
  );
  assert.equal(
    searchMatch(["foo-ba"], [""]),
    'text : ("foo-ba") AND scope : ("r")',
    "the part after the punctuation counts",
  );
  assert.equal(
    searchMatch(["über-äöü."], [""]),
    'text : ("über-äöü."*) AND scope : ("r")',
    "characters, not bytes; trailing punctuation is no part",
  );
  assert.equal(
    searchMatch(["x\u19b0\u19b0\u19b0"], [""]),
    'text : ("x\u19b0\u19b0\u19b0") AND scope : ("r")',
    "the index takes U+19B0 for a separator: the last part is x alone",
  );
});

Deno.test("searchMatch() leaves out words with no letter or digit, and finds nothing without any", () => {
  assert.equal(
    searchMatch(['"', "*", "deploy"], [""]),
    'text : ("deploy"*) AND scope : ("r")',
  );
  assert.equal(searchMatch(['"', "*", "()", "-"], [""]), null);
  assert.equal(searchMatch(["deploy"], []), null);
});

Deno.test("scopeToken() is one token of hex whatever the room's name", () => {
  assert.match(scopeToken("#a-b_c9"), /^r[0-9a-f]+$/);
  assert.notEqual(scopeToken("#a-b"), scopeToken("#a_b"));
});

/** A search that answers `found`, remembering what it was asked. */
function fakeSearch(found: readonly FoundLine[]) {
  const asked: { words: readonly string[]; rooms: readonly string[] }[] = [];
  const bounds: (RoomBounds | undefined)[] = [];
  const search: Search = {
    find(words, rooms, limit, since) {
      asked.push({ words, rooms });
      bounds.push(since);
      return Promise.resolve(found.slice(0, limit));
    },
    heard() {},
    backlog: () => ({ waiting: 0, dropped: 0 }),
    close: () => Promise.resolve(),
  };
  return { search, asked, bounds };
}

const LINE: FoundLine = {
  seq: 42,
  time: Date.UTC(2026, 10, 26, 15, 4, 5, 123),
  room: "",
  kind: "ME",
  alias: "amy",
  text: "deploys on Friday",
};

Deno.test("searchLines() answers FOUND lines naming each room, then FOUNDEND, and asks for the default room as events name it", async () => {
  const clock = new FakeClock();
  const { search, asked } = fakeSearch([LINE, {
    ...LINE,
    seq: 7,
    room: "#ops",
    kind: "MSG",
  }]);
  const lines = await searchLines({
    search,
    bucket: new TokenBucket(1, 10, () => clock.now()),
    rooms: ["#lobby", "#ops"],
    defaultRoom: "#lobby",
    since: () => 0,
    limit: 50,
    bytes: Infinity,
  }, ["deploys"]);
  assert.deepEqual(asked, [{ words: ["deploys"], rooms: ["", "#ops"] }]);
  assert.deepEqual(lines, [
    {
      type: "FOUND",
      room: "#lobby",
      seq: "42",
      time: "2026-11-26T15:04:05.123Z",
      kind: "ME",
      alias: "amy",
      text: "deploys on Friday",
    },
    {
      type: "FOUND",
      room: "#ops",
      seq: "7",
      time: "2026-11-26T15:04:05.123Z",
      kind: "MSG",
      alias: "amy",
      text: "deploys on Friday",
    },
    { type: "FOUNDEND", count: "2", text: "End of search: 2 lines" },
  ]);
});

Deno.test("searchLines() says when the answer was cut at the limit", async () => {
  const clock = new FakeClock();
  const { search } = fakeSearch([LINE, LINE, LINE]);
  const lines = await searchLines({
    search,
    bucket: new TokenBucket(1, 10, () => clock.now()),
    rooms: ["#lobby"],
    defaultRoom: "#lobby",
    since: () => 0,
    limit: 2,
    bytes: Infinity,
  }, ["x"]);
  assert.deepEqual(lines.at(-1), {
    type: "FOUNDEND",
    count: "2",
    text: "End of search: 2 lines (the newest 2)",
  });
});

Deno.test("searchLines() sends at most `bytes` of FOUND lines, the newest that fit, and says so", async () => {
  const clock = new FakeClock();
  const long = { ...LINE, text: "x".repeat(1000) };
  const { search } = fakeSearch([long, long, long]);
  const lines = await searchLines({
    search,
    bucket: new TokenBucket(1, 10, () => clock.now()),
    rooms: ["#lobby"],
    defaultRoom: "#lobby",
    since: () => 0,
    limit: 50,
    bytes: 2500,
  }, ["x"]);
  assert.equal(lines.filter((line) => line.type === "FOUND").length, 2);
  assert.deepEqual(lines.at(-1), {
    type: "FOUNDEND",
    count: "2",
    text: "End of search: 2 lines (the newest 2: those that fit at once)",
  });
});

Deno.test("searchLines() refuses past the member's searches a minute with ERR search-limit, and allows one again later", async () => {
  const clock = new FakeClock();
  const { search, asked } = fakeSearch([]);
  const ask = {
    search,
    bucket: new TokenBucket(3 / 60, 3, () => clock.now()),
    rooms: ["#lobby"],
    defaultRoom: "#lobby",
    since: () => 0,
    limit: 50,
    bytes: Infinity,
  };
  for (let i = 0; i < 3; i++) await searchLines(ask, ["x"]);
  assert.equal(await codeOf(searchLines(ask, ["x"])), "search-limit");
  assert.equal(asked.length, 3, "a refused search is not run");
  await clock.advance(60_000);
  assert.equal((await searchLines(ask, ["x"])).at(-1)?.type, "FOUNDEND");
});

Deno.test("searchLines() asks for each room above its incarnation's bound, by stored name (none for a room of all its log)", async () => {
  const clock = new FakeClock();
  const { search, bounds } = fakeSearch([]);
  const since = new Map([["#ops", 0], ["#tmp", 41], ["#lobby", 0]]);
  await searchLines({
    search,
    bucket: new TokenBucket(1, 10, () => clock.now()),
    rooms: ["#lobby", "#ops", "#tmp"],
    defaultRoom: "#lobby",
    since: (room) => since.get(room)!,
    limit: 50,
    bytes: Infinity,
  }, ["x"]);
  assert.deepEqual(bounds, [new Map([["#tmp", 41]])]);
});

Deno.test("NO_SEARCH refuses with ERR no-history", async () => {
  assert.equal(await codeOf(NO_SEARCH.find(["x"], [""], 50)), "no-history");
});
