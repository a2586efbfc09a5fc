/**
 * Members of the incarnation tests (`incarnation_server_test.ts`, and the
 * cluster's `cluster_incarnation_test.ts`): a member with `rooms` and
 * `resume`, the lines up to one, and a search's answer.
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
