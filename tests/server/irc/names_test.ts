/** Tests of aliases as nicks and back, and rooms as channels. */

import assert from "node:assert/strict";
import {
  aliasOf,
  NICK_LENGTH,
  nickOf,
  roomOf,
} from "../../../lib/server/irc/names.ts";
import { isWellFormedAlias } from "../../../lib/protocol.ts";

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
  assert.equal(nickOf("j.doe"), "j|doe");
  assert.equal(nickOf("2bob"), "`2bob");
});

Deno.test("aliasOf() refuses nicks that name no alias", () => {
  for (
    const nick of [
      "",
      "[bot]",
      "a^b",
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

Deno.test("roomOf() folds a channel's case and refuses what is no room", () => {
  assert.equal(roomOf("#Ops"), "#ops");
  assert.equal(roomOf("&ops"), null);
  assert.equal(roomOf("#"), null);
  assert.equal(roomOf("#a.b"), null);
  assert.equal(roomOf("#" + "x".repeat(33)), null);
});
