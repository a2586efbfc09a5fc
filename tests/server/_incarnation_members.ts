/**
 * Members of the incarnation tests (`incarnation_server_test.ts`, and the
 * cluster's `cluster_incarnation_test.ts`): a member with `rooms` and
 * `resume`, the lines up to one, a search's answer, a room made again
 * once the old one went, and what a stranger reads of a room.
 */

import { TestClient } from "../_helpers.ts";

/**
 * Connects with `rooms` and `resume`, gives `resume` if any, joins as
 * `alias` (with its account's `password` if any).
 */
export async function member(
  port: number,
  alias: string,
  resume?: string,
  password?: string,
) {
  const client = await TestClient.connect(port);
  const hello = await client.expect(/^HELLO /);
  const epoch = /,epoch=([\w-]+)/.exec(hello)![1]!;
  await client.send("/cap rooms resume");
  await client.expect(/^CAP rooms seq resume$/);
  if (resume !== undefined) await client.send(resume);
  await client.send(alias);
  if (password !== undefined) {
    await client.expect(/^PASSWORD /);
    await client.send(`/pass ${password}`);
  }
  await client.expect(/^CURRENT #lobby$/);
  return { client, epoch };
}

/** The lines up to the one matching `end` (included), tags dropped. */
export async function upTo(client: TestClient, end: RegExp): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const line = (await client.readLine())!.replace(/^@\S+ /, "");
    lines.push(line);
    if (end.test(line)) return lines;
  }
}

/** `/search WORDS`'s answer, each `FOUND` without its number and time. */
export async function search(
  client: TestClient,
  words: string,
): Promise<string[]> {
  await client.send(`/search ${words}`);
  const lines = await upTo(client, /^(FOUNDEND|ERR) /);
  return lines
    .filter((line) => /^(FOUND|FOUNDEND|ERR) /.test(line))
    .map((line) => line.replace(/^(FOUND \S+) \d+ \S+Z /, "$1 "));
}

/**
 * Joins `room` until it is let in (refused while the old room, invite-only,
 * is still there); returns what it was sent from its `JOIN` to `CURRENT`.
 */
export async function joinAgain(
  client: TestClient,
  room: string,
): Promise<string[]> {
  for (;;) {
    await client.send(`/join ${room}`);
    const first = (await client.expect(
      new RegExp(`^(ERR room-invite-only |@\\S+ ${room} JOIN )`),
    )).replace(/^@\S+ /, "");
    if (first.startsWith("ERR ")) continue;
    return [first, ...await upTo(client, /^CURRENT /)];
  }
}

/** Makes invite-only `room` and says `text` there, as `client`. */
export async function secretRoom(
  client: TestClient,
  room: string,
  text: string,
) {
  await client.send(`/join ${room}`);
  await client.expect(/^CURRENT /);
  await client.send(`${room} /inviteonly on`);
  await client.expect(new RegExp(`${room} MOD invite-only `));
  await client.send(`${room} ${text}`);
  await client.expect(new RegExp(`${room} MSG \\S+ ${text}$`));
}

/**
 * What a stranger reads of `room` after a restart: the history on joining
 * it, `/history`, and `/search` for `word`.
 */
export async function strangerReads(port: number, room: string, word: string) {
  using m = (await member(port, "mallory")).client;
  const joined = (await joinAgain(m, room)).filter((l) => /HIST /.test(l));
  await m.send(`${room} /history 50`);
  const history = (await upTo(m, /HISTEND /)).filter((l) => /HIST /.test(l));
  const found = await search(m, word);
  return { joined, history, found };
}

/**
 * Opal (its account's `password`) makes `room` again and registers it,
 * saying `text` there.
 */
export async function register(
  port: number,
  room: string,
  text: string,
  password: string,
) {
  using o = (await member(port, "opal", undefined, password)).client;
  await joinAgain(o, room);
  await o.send(`${room} /register`);
  await o.expect(new RegExp(`${room} MOD register - opal$`));
  await o.send(`${room} ${text}`);
  await o.expect(new RegExp(`${room} MSG opal ${text}$`));
}
