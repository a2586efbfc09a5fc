/**
 * A bot built on npm `irc-framework` (the library The Lounge is built on),
 * driven by a test through its standard streams: each line on stdin is a
 * JSON command (`connect`, `join`, `say`, `raw`, `quit`), each line on
 * stdout a JSON event: every raw line from the server (`{ raw }`) and what
 * the library made of it (`{ event, ... }`). The library passes no CA to
 * TLS: run it with `--cert CA.pem` so that Deno trusts the test CA.
 */
// deno-lint-ignore-file no-console

import { Client } from "irc-framework";
import { createInterface } from "node:readline";
import process from "node:process";

const client = new Client();
const print = (value: unknown) => console.log(JSON.stringify(value));

client.on("raw", (event: { line: string; from_server: boolean }) => {
  if (event.from_server) print({ raw: event.line.replace(/\r?\n$/, "") });
});
client.on(
  "registered",
  (event: { nick: string }) => print({ event: "registered", nick: event.nick }),
);
client.on(
  "loggedin",
  (event: { account: string }) =>
    print({ event: "loggedin", account: event.account }),
);
client.on(
  "sasl failed",
  (event: { reason: string }) =>
    print({ event: "sasl failed", reason: event.reason }),
);
client.on(
  "privmsg",
  (event: { nick: string; target: string; message: string; time?: number }) =>
    print({
      event: "privmsg",
      nick: event.nick,
      target: event.target,
      message: event.message,
      time: event.time ?? null,
    }),
);
client.on("close", () => {
  print({ event: "close" });
  process.exit(0);
});

const commands = createInterface({ input: process.stdin });
for await (const line of commands) {
  const command = JSON.parse(line);
  if (command.op === "connect") {
    client.connect({
      host: "127.0.0.1",
      port: command.port,
      tls: true,
      rejectUnauthorized: true,
      nick: command.nick,
      username: command.nick,
      gecos: "irc-framework test",
      auto_reconnect: false,
      enable_echomessage: command.echo ?? false,
      ...(command.password ? { password: command.password } : {}),
      ...(command.account ? { account: command.account } : {}),
      ...(command.external
        ? {
          sasl_mechanism: "EXTERNAL",
          account: {},
          client_certificate: command.external,
        }
        : {}),
    });
  } else if (command.op === "join") {
    client.join(command.channel, command.key);
  } else if (command.op === "say") {
    client.say(command.target, command.text);
  } else if (command.op === "raw") {
    client.raw(command.line);
  } else if (command.op === "quit") {
    client.quit(command.text);
  }
}
