/**
 * `client.ts` in a room other than the default one, whose line's echo is
 * lost with its connection: against `server.ts` as a real process, through
 * a TCP relay that drops the first bytes the server sends after the line
 * was typed (the echo) and cuts the connection. The client reconnects,
 * resumes (the catch-up shows the line, in its room) and sends the line
 * again under its id; the server's echo of that resend is the first echo,
 * numbered: the client shows the line once, in its room, and quits with
 * nothing unanswered.
 */

import assert from "node:assert/strict";
import {
  loopbackArgs,
  PipeClient,
  serverPermissions,
  withServerProcess,
  withTempDir,
  writeTestCertificates,
} from "../_helpers.ts";

/**
 * A TCP relay to `port` on 127.0.0.1. Once `cut()` was called, the next
 * bytes the server sends are dropped and that connection closed (both
 * ends); later connections are relayed whole.
 */
function relay(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let armed = false;
  let cut = Promise.withResolvers<void>();
  const pipes: Promise<unknown>[] = [];
  const serve = async (client: Deno.Conn) => {
    const server = await Deno.connect({ hostname: "127.0.0.1", port });
    const close = () => {
      for (const conn of [client, server]) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
    };
    const up = client.readable.pipeTo(server.writable).catch(() => {});
    const down = (async () => {
      const writer = client.writable.getWriter();
      for await (const chunk of server.readable) {
        if (armed) {
          armed = false;
          cut.resolve();
          break;
        }
        await writer.write(chunk);
      }
    })().catch(() => {}).finally(close);
    await Promise.all([up, down]);
  };
  const accepting = (async () => {
    for await (const conn of listener) pipes.push(serve(conn));
  })().catch(() => {});
  return {
    port: listener.addr.port,
    /** Arms the cut; resolves once it was made. */
    cut(): Promise<void> {
      cut = Promise.withResolvers<void>();
      armed = true;
      return cut.promise;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      await Promise.all(pipes);
    },
  };
}

Deno.test("client.ts whose echo was lost in a room not the default shows its line once, in its room, after resending it", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    await withServerProcess(
      serverPermissions(dir),
      loopbackArgs(dir, "--flood-rate", "0"),
      async (server) => {
        await using front = relay(server.port);
        await using bot = new PipeClient([
          `--allow-net=127.0.0.1:${front.port}`,
          `--allow-read=${dir}/ca.pem`,
        ], [
          "--server",
          `127.0.0.1:${front.port}`,
          "--ca",
          `${dir}/ca.pem`,
          "--alias",
          "bot",
        ]);
        await bot.output.waitFor(/^-!- Welcome, bot!/);
        await bot.send("/join #den");
        await bot.output.waitFor(/^#den -!- bot joined/);
        const cut = front.cut();
        await bot.send("cut 0");
        await cut;
        await bot.output.waitFor(/^-!- Welcome, bot!/, {
          count: 2,
          timeoutMs: 10_000,
        });
        assert.equal(await bot.finish(), 0, bot.output.toString());
        const said = bot.output.lines.filter((line) => /cut 0$/.test(line));
        assert.equal(said.length, 1, bot.output.toString());
        assert.match(said[0]!, /^#den .*<bot> cut 0$/, bot.output.toString());
      },
    );
  });
});
