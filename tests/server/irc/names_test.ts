/** Tests of aliases as nicks and back, and rooms as channels. */

import assert from "node:assert/strict";
import {
  aliasOf,
  NICK_LENGTH,
  nickOf,
  roomOf,
} from "../../../lib/server/irc/names.ts";
import { isWellFormedAlias } from "../../../lib/protocol.ts";
import { aliasSkeleton } from "../../../lib/text.ts";

Deno.test("nickOf() and aliasOf() are each other's inverse on every alias", () => {
  const aliases = [
    "bob",
    "j.doe",
    "2bob",
    "0",
    "_x",
    "a-b_c.d",
    "A".repeat(32),
    "9" + ".".repeat(31),
  ];
  for (const alias of aliases) {
    assert.ok(isWellFormedAlias(alias), alias);
    const nick = nickOf(alias);
    assert.ok(nick.length <= NICK_LENGTH);
    assert.doesNotMatch(nick, /^[0-9]|\./, nick);
    assert.equal(aliasOf(nick), alias);
  }
  assert.equal(nickOf("j.doe"), "j^doe");
  assert.equal(nickOf("2bob"), "`2bob");
});

Deno.test("aliasOf() refuses nicks that name no alias", () => {
  for (
    const nick of [
      "",
      "[bot]",
      "j|doe",
      "^dot",
      "`bob",
      "b`ob",
      "|dot",
      "-dash",
      "2bob",
      "x".repeat(33),
      "a b",
    ]
  ) {
    assert.equal(aliasOf(nick), null, nick);
  }
});

/**
 * A nick's look-alike key, as an IRC client shows it: each character no
 * alias has read as what Unicode's confusables (TR39) make it (`|` is
 * `l`; `` ` `` is `'`, which like `^` and the brackets looks like no alias
 * character, so counts as punctuation), then the aliases' own rule.
 */
function nickSkeleton(nick: string): string {
  return aliasSkeleton(nick.replaceAll("|", "l").replace(/[`^[\]\\{}]/g, ""));
}

/** Every well-formed alias of up to `length` characters of `alphabet`. */
function aliasesOf(alphabet: string, length: number): string[] {
  let level = [""];
  const all: string[] = [];
  for (let i = 0; i < length; i++) {
    level = level.flatMap((head) => [...alphabet].map((c) => head + c));
    all.push(...level.filter(isWellFormedAlias));
  }
  return all;
}

Deno.test("nickOf() shows two aliases as look-alike nicks only when the server takes them as look-alikes", () => {
  // The report: `j.doe` showed as `j|doe`, which passes for `jldoe` and
  // `jIdoe`, aliases the server lets in beside `j.doe`.
  for (const other of ["jldoe", "jIdoe", "j1doe", "jidoe"]) {
    assert.notEqual(aliasSkeleton(other), aliasSkeleton("j.doe"));
    assert.notEqual(
      nickSkeleton(nickOf(other)),
      nickSkeleton(nickOf("j.doe")),
      `${nickOf(other)} and ${nickOf("j.doe")}`,
    );
  }
  // Every alias of up to 4 characters of those that look alike (and a
  // leading digit): a nick's key says which aliases' key it stands for.
  const seen = new Map<string, string>();
  for (const alias of aliasesOf("jlI1i.-_o0", 4)) {
    const key = nickSkeleton(nickOf(alias));
    const own = aliasSkeleton(alias);
    const before = seen.get(key) ?? own;
    assert.equal(before, own, `${nickOf(alias)} (${alias}) looks like another`);
    seen.set(key, own);
  }
});

Deno.test("roomOf() folds a channel's case and refuses what is no room", () => {
  assert.equal(roomOf("#Ops"), "#ops");
  assert.equal(roomOf("&ops"), null);
  assert.equal(roomOf("#"), null);
  assert.equal(roomOf("#a.b"), null);
  assert.equal(roomOf("#" + "x".repeat(33)), null);
});
