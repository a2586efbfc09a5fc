// @ts-check
/**
 * A room's member list as the page keeps it: by lower-case alias (the
 * server's aliases are unique in any case), each with its alias as shown
 * and whether it is an operator. Pure.
 *
 * @module
 */

/** @typedef {import("./state.js").Member} Member */

/**
 * The list with `alias` in it (as it was, when it is).
 * @param {ReadonlyMap<string, Member>} members @param {string} alias
 * @param {boolean} operator
 */
export function withMember(members, alias, operator) {
  const key = alias.toLowerCase();
  if (members.has(key)) return members;
  return new Map(members).set(key, { alias, operator });
}

/** The list without `alias`. @param {ReadonlyMap<string, Member>} members @param {string} alias */
export function withoutMember(members, alias) {
  const key = alias.toLowerCase();
  if (!members.has(key)) return members;
  const fewer = new Map(members);
  fewer.delete(key);
  return fewer;
}

/**
 * The member list from a `WHO`'s aliases (operators marked with "@").
 * @param {string} aliases
 * @returns {ReadonlyMap<string, Member>}
 */
export function whoIsHere(aliases) {
  /** @type {ReadonlyMap<string, Member>} */
  let listed = new Map();
  for (const alias of aliases.split(" ").filter((a) => a !== "")) {
    listed = alias.startsWith("@")
      ? withMember(listed, alias.slice(1), true)
      : withMember(listed, alias, false);
  }
  return listed;
}
