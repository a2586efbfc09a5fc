/**
 * End-to-end tests of `client.ts` with rooms, as a real process: against
 * a scripted TLS server that speaks the wire format as written (with rooms,
 * and without them, as an older server or a cluster does).
 */

import assert from "node:assert/strict";
import {
  runClient,
  TerminalClient,
  testCertificates,
  withClientFlags,
} from "../_helpers.ts";

const encoder = new TextEncoder();

/**
 * A TLS server for one connection: it sends `greeting`, then answers each
 * line the client sends with `answer`'s lines, and hangs up after `/quit`.
 * What the client sent is in `heard`.
 */
async function scriptedServer(
  greeting: string,
  answer: (line: string) => string[],
) {
  const { server } = await testCertificates();
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    ...server,
  });
  const heard: string[] = [];
  const serving = listener.accept().then(async (conn) => {
    const send = (lines: string[]) =>
      conn.write(encoder.encode(lines.map((line) => `${line}\n`).join("")));
    await send([greeting]);
    let partial = "";
    const text = conn.readable.pipeThrough(new TextDecoderStream());
    reading: for await (const chunk of text) {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        heard.push(line);
        await send(answer(line));
        if (line === "/quit") break reading;
      }
    }
    try {
      conn.close();
    } catch {
      // Leaving the loop cancelled its readable, which closed it.
    }
  });
  return {
    port: listener.addr.port,
    heard,
    async [Symbol.asyncDispose]() {
      await serving;
      listener.close();
    },
  };
}

/** client.ts's permissions and flags for 127.0.0.1:port, not reconnecting. */
function withFlags<T>(
  port: number,
  body: (permissions: string[], flags: string[]) => Promise<T>,
): Promise<T> {
  return withClientFlags(port, body, ["--no-reconnect"]);
}

/** Runs client.ts against 127.0.0.1:port with `args`, stdin piped. */
function pipeClient(port: number, args: string[], stdin: string) {
  return withFlags(
    port,
    (permissions, flags) => runClient(permissions, [...flags, ...args], stdin),
  );
}

/** The line's id prefix (`@id=ID `), or "" when it has none. */
const idOf = (line: string) => /^@id=\S+ /.exec(line)?.[0] ?? "";

Deno.test("client.ts against a server without rooms sends what it sends today, and skips --room", async () => {
  await using server = await scriptedServer(
    "HELLO tlschat/1 old rate=0,burst=1,line=4096,caps=ids Send your alias",
    (line) => {
      if (line === "/cap ids") return ["CAP ids"];
      if (line === "bot") return ["WELCOME bot 1 Type /help for commands"];
      if (line.startsWith("/join")) {
        return ['ERR unknown-command Unknown command "/join"'];
      }
      if (line === "/quit") return ["BYE quit Goodbye"];
      const id = idOf(line);
      return [`${id}MSG bot ${line.slice(id.length)}`];
    },
  );
  const result = await pipeClient(
    server.port,
    ["--alias", "bot", "--room", "#dev"],
    "/join #ops\ndeploy done\n",
  );
  // The piped /join was refused (unknown command): a line not delivered.
  assert.equal(result.code, 3, result.stderr);
  assert.equal(
    result.stderr,
    "The server does not offer rooms: not joining #dev\n" +
      '1 line refused or perhaps not sent (the "!" lines above): exit status 3\n',
  );
  assert.deepEqual(server.heard.map((line) => line.replace(/^@id=\S+ /, "")), [
    "/cap ids",
    "bot",
    "/join #ops",
    "deploy done",
    "/quit",
  ]);
  assert.notEqual(idOf(server.heard[3]!), "", "ids as today");
  assert.deepEqual(result.stdout.trim().split("\n"), [
    "-!- Connected to old (tlschat/1)",
    "-!- Welcome, bot! 1 online. Type /help for commands",
    '! Unknown command "/join"',
    "<bot> deploy done",
    "-!- Disconnected: Goodbye",
  ]);
});

Deno.test("client.ts with rooms sends a piped line after /join to that room, once the server said CURRENT, and one starting with a room of its own there", async () => {
  await using server = await scriptedServer(
    "HELLO tlschat/1 new rate=0,burst=1,line=4096,caps=ids+rooms Send your alias",
    (line) => {
      if (line === "/cap ids rooms") return ["CAP ids rooms"];
      if (line === "bot") {
        return [
          "WELCOME bot 1 Type /help for commands",
          "#lobby JOIN bot 1",
          "CURRENT #lobby",
        ];
      }
      if (line === "/join #ops") return ["#ops JOIN bot 1", "CURRENT #ops"];
      if (line === "/join #dev") return ["#dev JOIN bot 2", "CURRENT #dev"];
      if (line === "/quit") return ["BYE quit Goodbye"];
      const id = idOf(line);
      const [room, ...text] = line.slice(id.length).split(" ");
      return [`${id}${room} MSG bot ${text.join(" ")}`];
    },
  );
  const result = await pipeClient(
    server.port,
    ["--alias", "bot", "--room", "#Dev"],
    "said in dev\n/join #ops\ndeploy done\n#1 priority\n#DEV back in dev\n",
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  assert.deepEqual(server.heard.map((line) => line.replace(/^@id=\S+ /, "")), [
    "/cap ids rooms",
    "bot",
    "/join #dev",
    "#dev said in dev",
    "/join #ops",
    "#ops deploy done",
    "#ops #1 priority",
    "#dev back in dev",
    "/quit",
  ]);
  assert.deepEqual(result.stdout.trim().split("\n"), [
    "-!- Connected to new (tlschat/1)",
    "-!- Welcome, bot! 1 online. Type /help for commands",
    "#dev -!- bot joined (2 online)",
    "#dev <bot> said in dev",
    "#ops -!- bot joined (1 online)",
    "#ops <bot> deploy done",
    "#ops <bot> #1 priority",
    "#dev <bot> back in dev",
    "-!- Disconnected: Goodbye",
  ]);
});

Deno.test("client.ts on a terminal shows its room and the others' unread messages in the prompt", async () => {
  await using server = await scriptedServer(
    "HELLO tlschat/1 new rate=0,burst=1,line=4096,caps=rooms Send your alias",
    (line) => {
      const replies: Record<string, string[]> = {
        "/cap rooms": ["CAP rooms"],
        tom: ["WELCOME tom 1 Hi", "#lobby JOIN tom 1", "CURRENT #lobby"],
        "/join #ops": ["#ops JOIN tom 1", "CURRENT #ops"],
        "#ops /who": [
          "#ops WHO 1 tom",
          "#lobby MSG amy one",
          "#lobby ME amy waves",
        ],
        "/join #lobby": ["CURRENT #lobby"],
        "/quit": ["BYE quit Goodbye"],
      };
      return replies[line] ?? [`ERR usage Not in this script: ${line}`];
    },
  );
  await withFlags(server.port, async (permissions, flags) => {
    await using term = new TerminalClient(permissions, [
      ...flags,
      "--alias",
      "tom",
    ]);
    let at = await term.waitFor(/Welcome, tom! 1 online. Hi\n/);
    at = await term.waitFor(/tom #lobby> $/, at);
    await term.type("/join #ops\r");
    at = await term.waitFor(/#ops -!- tom joined \(1 online\)\n/, at);
    at = await term.waitFor(/tom #ops> $/, at);
    await term.type("/who\r");
    at = await term.waitFor(/#ops -!- 1 online: tom\n/, at);
    at = await term.waitFor(/#lobby <amy> one\n/, at);
    at = await term.waitFor(/#lobby \* amy waves\n/, at);
    at = await term.waitFor(/tom #ops \[#lobby 2\]> $/, at);
    await term.type("/join #lobby\r");
    at = await term.waitFor(/tom #lobby> $/, at);
    await term.type("/quit\r");
    assert.equal(await term.exited(), 0);
    assert.doesNotMatch(term.text, /Not in this script/);
  });
});

Deno.test("client.ts on a terminal drops a room's unread count when another device of the account read it up to the last line shown", async () => {
  const at = (seq: number) => `@seq=${seq};time=2026-12-07T10:00:0${seq}.000Z`;
  await using server = await scriptedServer(
    "HELLO tlschat/1 new rate=0,burst=1,line=4096,caps=rooms+seq+resume,epoch=E1 Send your alias",
    (line) => {
      const replies: Record<string, string[]> = {
        "/cap rooms seq resume": ["CAP rooms seq resume"],
        tom: [
          "WELCOME tom 1 Hi",
          `${at(1)} #lobby JOIN tom 1`,
          "CURRENT #lobby",
        ],
        "/join #ops": [`${at(2)} #ops JOIN tom 1`, "CURRENT #ops"],
        "#ops /who": [
          "#ops WHO 1 tom",
          `${at(3)} #lobby MSG amy one`,
          `${at(4)} #lobby ME amy waves`,
          "#lobby READ 3", // not the last line here: one unread
        ],
        "#ops /names": ["#lobby READ 4"], // read up to the last
        "/quit": ["BYE quit Goodbye"],
      };
      return replies[line] ?? [`ERR usage Not in this script: ${line}`];
    },
  );
  await withFlags(server.port, async (permissions, flags) => {
    await using term = new TerminalClient(permissions, [
      ...flags,
      "--alias",
      "tom",
    ]);
    let at = await term.waitFor(/tom #lobby> $/);
    await term.type("/join #ops\r");
    at = await term.waitFor(/tom #ops> $/, at);
    await term.type("/who\r");
    at = await term.waitFor(/#lobby \* amy waves\n/, at);
    at = await term.waitFor(/tom #ops \[#lobby 2\]> $/, at);
    await term.type("/names\r");
    at = await term.waitFor(/tom #ops> $/, at);
    await term.type("/quit\r");
    assert.equal(await term.exited(), 0);
    assert.doesNotMatch(term.text, /Not in this script/);
  });
});

Deno.test("client.ts on a terminal does not recall a line that carried a room's key", async () => {
  await using server = await scriptedServer(
    "HELLO tlschat/1 new rate=0,burst=1,line=4096,caps=rooms Send your alias",
    (line) => {
      const replies: Record<string, string[]> = {
        "/cap rooms": ["CAP rooms"],
        tom: ["WELCOME tom 1 Hi", "#lobby JOIN tom 1", "CURRENT #lobby"],
        "/join #vault hunter2": ["ERR room-key Wrong key for #vault"],
        "/quit": ["BYE quit Goodbye"],
      };
      const said = /^#lobby (.*)$/.exec(line)?.[1];
      if (said !== undefined) return [`#lobby MSG tom ${said}`];
      return replies[line] ?? [`ERR usage Not in this script: ${line}`];
    },
  );
  await withFlags(server.port, async (permissions, flags) => {
    await using term = new TerminalClient(permissions, [
      ...flags,
      "--alias",
      "tom",
    ]);
    let at = await term.waitFor(/tom #lobby> $/);
    await term.type("said once\r");
    at = await term.waitFor(/<tom> said once\n/, at);
    await term.type("/join #vault hunter2\r");
    at = await term.waitFor(/! Wrong key for #vault\n/, at);
    await term.type("\x1b[A\r"); // up arrow, enter: the line before
    at = await term.waitFor(/<tom> said once\n/, at);
    await term.type("/quit\r");
    assert.equal(await term.exited(), 0);
    assert.equal(server.heard.filter((l) => l.includes("hunter2")).length, 1);
  });
});
