/**
 * Aliases as IRC nicks and back, and rooms as channels. An alias is 1 to 32
 * of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`; a nick may not hold
 * `.` nor start with a digit. So a nick is its alias with every `.` written
 * `^` and a leading digit behind a backtick (`` ` ``): `j.doe` is `j^doe`,
 * `2bob` is `` `2bob ``. Neither `^` nor a backtick is an alias character,
 * so the escape is reversible, and a nick holding any other character no
 * alias has (`[ ] \ | { }`, a leading `^`, a backtick elsewhere) names no
 * alias. Neither escape looks like an alias character: Unicode's
 * confusables (TR39) map `` ` `` to `'` and nothing to `^`, where `|` is
 * `l` (`j|doe` passed for `jldoe`) and `[ ] \ { }` are strokes that pass
 * for `l` or `I` in some fonts. Like the `.` they stand for, which the
 * look-alike rule ignores (`aliasSkeleton`), they make no nick pass for
 * another: two nicks look alike exactly when their aliases do, and the
 * server lets no two such aliases in at once. A room is a channel of the
 * same name (`#` and 1 to 32 of `a-z 0-9 - _`). Pure.
 *
 * @module
 */

import { MAX_ALIAS_LENGTH, MAX_ROOM_NAME_BYTES } from "../../protocol.ts";

/** Longest nick: the longest alias, and a backtick. */
export const NICK_LENGTH = MAX_ALIAS_LENGTH + 1;

/** Longest channel name: `#` and the longest room name. */
export const CHANNEL_LENGTH = MAX_ROOM_NAME_BYTES + 1;

/**
 * The nick an alias shows as on IRC.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aliasOf, nickOf } from "./names.ts";
 *
 * assert.equal(nickOf("j.doe"), "j^doe");
 * assert.equal(nickOf("2bob"), "`2bob");
 * assert.equal(aliasOf("`2bob"), "2bob");
 * assert.equal(aliasOf("j^doe"), "j.doe");
 * assert.equal(aliasOf("j|doe"), null);
 * assert.equal(aliasOf("[bot]"), null);
 * ```
 */
export function nickOf(alias: string): string {
  const dotted = alias.replaceAll(".", "^");
  return /^[0-9]/.test(dotted) ? "`" + dotted : dotted;
}

const NICK_PATTERN = /^(?:`[0-9]|[A-Za-z_^])[A-Za-z0-9_^-]*$/;

/**
 * The alias a nick stands for, or null when the nick holds what no alias
 * may (it may still be refused as an alias: reserved, a look-alike, ...).
 */
export function aliasOf(nick: string): string | null {
  if (nick.length > NICK_LENGTH || !NICK_PATTERN.test(nick)) return null;
  const alias = nick.replace(/^`/, "").replaceAll("^", ".");
  return alias.length > MAX_ALIAS_LENGTH || alias.startsWith(".")
    ? null
    : alias;
}

const CHANNEL_PATTERN = /^#[A-Za-z0-9_-]{1,32}$/;

/** The room a channel names (case-folded), or null when none may. */
export function roomOf(channel: string): string | null {
  return CHANNEL_PATTERN.test(channel) ? channel.toLowerCase() : null;
}

/**
 * The alias a client may take as `nick`: none for a nick that is no alias,
 * nor for the server's own name, which would pass for the server's notices.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { takeableAlias } from "./names.ts";
 *
 * assert.equal(takeableAlias("TLSChat", "tlschat"), null);
 * assert.equal(takeableAlias("j^doe", "tlschat"), "j.doe");
 * ```
 */
export function takeableAlias(nick: string, server: string): string | null {
  return nick.toLowerCase() === server.toLowerCase() ? null : aliasOf(nick);
}
