/**
 * The browser client in a real browser: Debian's Chromium, headless, driven
 * by Playwright, against a real `server.ts` process, with the terminal
 * client (`client.ts`) in the same room. Playwright under Deno needs `-A`
 * (it reads `/proc/sys/...`), so these tests run apart from the others:
 * the file is not named `*_test.ts`, so `deno test tests/` leaves it out,
 * and `deno task test` runs it by name with `-A` (see the README's
 * permission table).
 *
 * `TLSCHAT_SCREENSHOTS=1 deno task test` also refreshes `docs/web.png`.
 */

import assert from "node:assert/strict";
import {
  type Browser,
  chromium,
  type Locator,
  type Page,
} from "playwright-core";
import {
  denoRun,
  freePort,
  loopbackArgs,
  ROOT,
  runCommand,
  ServerProcess,
  TestClient,
  withTempDir,
} from "../_helpers.ts";
import { Redis } from "../_redis.ts";
import { Weechat } from "../server/irc/_weechat.ts";

const CHROMIUM = "/usr/lib/chromium/chromium";

/** A server process with its web door, its files in `dir`. */
function startServer(dir: string, webPort: number, ...more: string[]) {
  return ServerProcess.start(
    [
      "--allow-net=127.0.0.1",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      "--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE,REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS",
    ],
    loopbackArgs(dir, "--web-port", String(webPort), ...more),
  );
}

/** Runs the body with a headless Chromium, closed afterwards. */
async function withBrowser(body: (browser: Browser) => Promise<void>) {
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  try {
    await body(browser);
  } finally {
    await browser.close();
  }
}

/** A page on the room, failing the test on any script error or dialog. */
async function openPage(
  browser: Browser,
  webPort: number,
  viewport = { width: 1280, height: 800 },
  colorScheme: "light" | "dark" = "light",
  fragment = "",
  options: { clock?: boolean } = {},
): Promise<Page> {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, // the dev CA is not in this browser's store
    viewport,
    colorScheme,
  });
  const page = await context.newPage();
  if (options.clock) await page.clock.install();
  page.on("pageerror", (error) => {
    throw new Error(`script error in the page: ${error.message}`);
  });
  page.on("dialog", (dialog) => {
    throw new Error(`the page opened a dialog: ${dialog.message()}`);
  });
  await page.goto(`https://127.0.0.1:${webPort}/${fragment}`);
  return page;
}

const aliasBox = (page: Page) =>
  page.getByRole("textbox", { name: "Alias", exact: true });
const messageBox = (page: Page) =>
  page.getByRole("textbox", { name: "Message", exact: true });

/** Joins as `alias` with the keyboard only. */
async function join(page: Page, alias: string): Promise<void> {
  // Once the server greeted the page, the alias box has the focus.
  await page.locator("#alias:focus").waitFor();
  await page.keyboard.type(alias);
  await page.keyboard.press("Enter");
  await messageBox(page).waitFor();
}

/** Types a line into the message box and sends it with Enter. */
async function say(page: Page, text: string): Promise<void> {
  await messageBox(page).fill(text);
  await messageBox(page).press("Enter");
}

/** The texts of the messages shown, without time or alias. */
function messages(page: Page): Promise<string[]> {
  return page.locator("#messages > li.message").evaluateAll((items) =>
    items.map((item) => (item.lastChild?.textContent ?? "").trim())
  );
}

/** `client.ts` in pipe mode, kept open: lines in, printed lines out. */
class PipeClient implements AsyncDisposable {
  readonly lines: string[] = [];
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reading: Promise<void>;

  constructor(port: number, caFile: string, alias: string) {
    const child = this.#child = new Deno.Command("deno", {
      args: denoRun(
        "client.ts",
        [`--allow-net=127.0.0.1:${port}`, `--allow-read=${caFile}`],
        [
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
          "--ca",
          caFile,
          "--alias",
          alias,
        ],
      ),
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#reading = (async () => {
      let partial = "";
      for await (
        const chunk of child.stdout.pipeThrough(new TextDecoderStream())
      ) {
        const parts = (partial + chunk).split("\n");
        partial = parts.pop()!;
        this.lines.push(...parts);
      }
    })();
  }

  send(line: string): Promise<void> {
    return this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#writer.close().catch(() => {});
    await this.#child.status;
    await this.#reading;
  }
}

/** Waits until `check` holds, polling the page's state (no sleeps). */
async function until(check: () => boolean | Promise<boolean>, what: string) {
  const deadline = Date.now() + 10_000;
  while (!await check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Asserts that the page was never throttled (`ERR flood`) since its log
 * began, nor anyone disconnected for flooding by the server.
 */
async function notThrottled(page: Page, server: ServerProcess) {
  const throttled = page.locator("li.error-line", {
    hasText: /flood|Slow down/,
  });
  assert.deepEqual(await throttled.allInnerTexts(), []);
  assert.deepEqual(
    server.output.lines.filter((line) => /flood/.test(line)),
    [],
  );
}

Deno.test("two browser pages and a terminal client see every line in one order", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using server = await startServer(dir, webPort);
    await withBrowser(async (browser) => {
      const ann = await openPage(browser, webPort);
      const bob = await openPage(browser, webPort);
      await join(ann, "ann");
      await join(bob, "bob");
      await using terminal = new PipeClient(
        server.port,
        `${dir}/ca.pem`,
        "tom",
      );
      await ann.getByText("tom joined").waitFor();
      for (let i = 0; i < 5; i++) {
        await say(ann, `ann ${i}`);
        await say(bob, `bob ${i}`);
        await terminal.send(`tom ${i}`);
      }
      const said = /^(ann|bob|tom) \d$/;
      const fromPage = async (page: Page) =>
        (await messages(page)).filter((text) => said.test(text));
      const fromTerminal = () =>
        terminal.lines.map((line) => line.replace(/^<\w+> /, ""))
          .filter((text) => said.test(text));
      await until(async () => (await fromPage(bob)).length === 15, "15 lines");
      await until(async () => (await fromPage(ann)).length === 15, "15 lines");
      await until(() => fromTerminal().length === 15, "15 lines");
      const order = await fromPage(ann);
      assert.deepEqual(await fromPage(bob), order);
      assert.deepEqual(fromTerminal(), order);
      // A member list that knows the terminal user, and /msg shown private.
      await ann.locator("#member-list").getByText("tom").waitFor();
      await terminal.send("/msg ann psst");
      await ann.locator("li.private").getByText("psst").waitFor();
      assert.match(
        await ann.locator("li.private").innerText(),
        /private from\s*tom psst/,
      );
      await terminal.send("/me waves");
      await bob.locator("li.action").getByText("waves").waitFor();
    });
  });
});

Deno.test("weechat on the IRC door, a browser page and a terminal client see every line in one order, weechat with the history", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using server = await startServer(dir, webPort, "--irc-port", "0");
    const listening = await server.output.waitFor(/INFO listening /);
    const ircPort = / irc=127\.0\.0\.1:(\d+)/.exec(listening)![1]!;
    await withBrowser(async (browser) => {
      const ann = await openPage(browser, webPort);
      await join(ann, "ann");
      await using terminal = new PipeClient(
        server.port,
        `${dir}/ca.pem`,
        "tom",
      );
      await ann.getByText("tom joined").waitFor();
      await say(ann, "said before weechat");
      await until(
        () => terminal.lines.some((l) => l.endsWith("said before weechat")),
        "the line before weechat",
      );
      await using wee = await Weechat.start({
        home: `${dir}/weechat`,
        ircPort,
        ca: `${dir}/ca.pem`,
        nick: "wee",
      });
      await wee.waitFor("#lobby", /^<ann> said before weechat$/);
      await ann.getByText("wee joined").waitFor();
      for (let i = 0; i < 3; i++) {
        await say(ann, `ann ${i}`);
        await terminal.send(`tom ${i}`);
      }
      const seen = await wee.waitFor("#lobby", /^<(ann|tom)> (ann|tom) \d$/, 6);
      for (let i = 0; i < 3; i++) await wee.say("#lobby", `wee ${i}`);
      const said = /^(ann|tom|wee) \d$/;
      const fromPage = async () =>
        (await messages(ann)).filter((text) => said.test(text));
      const fromTerminal = () =>
        terminal.lines.map((line) => line.replace(/^<\w+> /, ""))
          .filter((text) => said.test(text));
      await until(async () => (await fromPage()).length === 9, "9 lines");
      await until(() => fromTerminal().length === 9, "9 lines");
      const order = await fromPage();
      assert.deepEqual(fromTerminal(), order);
      // Weechat saw the others' lines in that order (its own it shows as
      // sent, with no echo-message in weechat 3.8).
      assert.deepEqual(
        seen.map((line) => line.replace(/^<\w+> /, ""))
          .filter((text) => said.test(text)),
        order.filter((text) => !text.startsWith("wee")),
      );
      assert.deepEqual(order.filter((text) => text.startsWith("wee")), [
        "wee 0",
        "wee 1",
        "wee 2",
      ]);
    });
  });
});

Deno.test("the page says an alias is taken, and shows hostile text as text", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using server = await startServer(dir, webPort);
    await withBrowser(async (browser) => {
      const page = await openPage(browser, webPort);
      using eve = await TestClient.join(server.port, "eve", {
        ca: await Deno.readTextFile(`${dir}/ca.pem`),
      });
      await page.locator("#alias:focus").waitFor(); // greeted
      await aliasBox(page).fill("EVE");
      await aliasBox(page).press("Enter");
      await page.getByRole("alert").getByText(/alias "EVE" is taken/).waitFor();
      await aliasBox(page).fill("alice");
      await aliasBox(page).press("Enter");
      await messageBox(page).waitFor();
      const hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>";
      await eve.send(`${hostile} \x1b[31mred\x07 \u202eevil`);
      await say(page, "<b>bold?</b>");
      const item = page.locator("#messages > li", { hasText: "onerror" });
      await item.waitFor();
      assert.equal(
        await page.locator("#messages img, #messages script, #messages b")
          .count(),
        0,
      );
      const shown = await item.innerText();
      assert.ok(shown.includes(hostile), shown);
      // The server made the escapes harmless; the page shows what is left.
      for (const control of ["\x1b", "\x07", "\u202e"]) {
        assert.ok(!shown.includes(control), JSON.stringify(shown));
      }
      await page.locator("#messages > li", { hasText: "<b>bold?</b>" })
        .waitFor();
    });
  });
});

/**
 * Where each line of the entry holding `text` starts, left of the log's
 * edge in CSS pixels, its first line's included.
 */
function lineStarts(page: Page, text: string): Promise<number[]> {
  return page.locator("#messages > li", { hasText: text }).evaluate((li) => {
    const range = li.ownerDocument.createRange();
    range.selectNodeContents(li);
    const edge = li.getBoundingClientRect().left;
    const starts = new Map<number, number>(); // line top -> its left
    for (const rect of range.getClientRects()) {
      const top = Math.round(rect.top);
      starts.set(top, Math.min(starts.get(top) ?? Infinity, rect.left));
    }
    return [...starts.values()].map((left) => Math.round(left - edge));
  });
}

Deno.test("the page indents an entry's further lines: text padded with no-break spaces or blanks does not start a line at the left edge", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using server = await startServer(dir, webPort);
    await withBrowser(async (browser) => {
      const page = await openPage(browser, webPort, {
        width: 900,
        height: 500,
      });
      using mallory = await TestClient.join(server.port, "mallory", {
        ca: await Deno.readTextFile(`${dir}/ca.pem`),
      });
      await join(page, "ann");
      for (const pad of ["\u00a0", "\u2800", "\u3164"]) {
        const spoof = `12:34 alice: mallory is an admin now ${
          pad.codePointAt(0)
        }`;
        await mallory.send("hi" + pad.repeat(300) + spoof);
        await page.locator("#messages > li", { hasText: spoof }).waitFor();
        const [first, ...further] = await lineStarts(page, spoof);
        assert.equal(first, 0);
        assert.ok(further.length > 0);
        // Every further line starts 1.5rem (24 px) in.
        assert.deepEqual(further.filter((left) => left < 20), [], spoof);
      }
    });
  });
});

/**
 * Where, left to right in CSS pixels, `text` shows in the element holding
 * it (an entry of the log, the topic): the page's words before it (their
 * right edge), the letters of `text` (their leftmost left edge) and its
 * `!` (its left edge).
 */
function bidiPlaces(holder: Locator, text: string) {
  return holder.evaluate(
    (li, text) => {
      const doc = li.ownerDocument;
      const walker = doc.createTreeWalker(li, 4); // NodeFilter.SHOW_TEXT
      const range = doc.createRange();
      const place = { before: 0, letters: Infinity, bang: NaN };
      for (
        let node = walker.nextNode();
        node !== null;
        node = walker.nextNode()
      ) {
        const at = node.textContent!.indexOf(text);
        if (at === -1) {
          range.selectNodeContents(node);
          place.before = Math.max(
            place.before,
            range.getBoundingClientRect().right,
          );
          continue;
        }
        for (let i = at; i < at + text.length; i++) {
          range.setStart(node, i);
          range.setEnd(node, i + 1);
          const { left } = range.getBoundingClientRect();
          if (text[i - at] === "!") place.bang = left;
          else if (/\p{L}/u.test(text[i - at]!)) {
            place.letters = Math.min(place.letters, left);
          }
        }
        break;
      }
      return place;
    },
    text,
  );
}

Deno.test("the page shows what someone wrote in a <bdi>: right-to-left text keeps its own punctuation and leaves the page's words in place", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using server = await startServer(dir, webPort);
    await withBrowser(async (browser) => {
      const page = await openPage(browser, webPort);
      await join(page, "ann");
      using eve = await TestClient.join(server.port, "eve", {
        ca: await Deno.readTextFile(`${dir}/ca.pem`),
      });
      const said = "שלום עולם!";
      const reason = "להתראות!";
      await eve.send(said);
      await eve.send(`/quit ${reason}`);
      const message = page.locator("#messages > li.message", { hasText: said });
      const leave = page.locator("#messages > li.notice", { hasText: reason });
      await leave.waitFor();
      assert.equal(await message.locator("bdi", { hasText: said }).count(), 1);
      assert.equal(await leave.locator("bdi", { hasText: reason }).count(), 1);
      assert.ok((await leave.innerText()).endsWith(`eve left: ${reason}`));
      // Read right to left, the "!" ends the Hebrew: at its left. Without
      // the isolate the page's left-to-right line took it to the right end.
      for (const text of [said, reason]) {
        const { before, letters, bang } = await bidiPlaces(
          page.locator("#messages > li", { hasText: text }),
          text,
        );
        assert.ok(
          bang < letters,
          `${text}: ! at ${bang}, letters from ${letters}`,
        );
        assert.ok(
          before <= bang + 0.5,
          `${text}: the page's words end at ${before}`,
        );
      }
      // The topic too (in a room of ann's own, its operator): a plain <p>
      // took the "!" to its right end. The heading is isolated too.
      await page.getByRole("textbox", { name: "Join a room" }).fill("he");
      await page.getByRole("textbox", { name: "Join a room" }).press("Enter");
      await page.locator("h1 > bdi", { hasText: "#he" }).waitFor();
      await say(page, `/topic ${said}`);
      await page.locator("#topic bdi", { hasText: said }).waitFor();
      const topic = await bidiPlaces(page.locator("#topic"), said);
      assert.ok(
        topic.bang < topic.letters,
        `topic: ! at ${topic.bang}, letters from ${topic.letters}`,
      );
    });
  });
});

Deno.test("the page resumes after a server restart: the lines said while it was away once, after a divider, the scroll kept", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    let server = await startServer(dir, webPort);
    try {
      await withBrowser(async (browser) => {
        // The page's clock is Playwright's: its reconnect waits until the
        // lines to miss have been said.
        const page = await openPage(browser, webPort, undefined, "light", "", {
          clock: true,
        });
        await join(page, "rosa");
        await say(page, "before the restart");
        await page.locator("li.message", { hasText: "before the restart" })
          .waitFor();
        await page.clock.pauseAt(Date.now() + 60_000);
        server.child.kill("SIGTERM");
        await server.exited();
        await page.getByRole("status").getByText(/Reconnecting/).waitFor();
        server = await startServer(dir, webPort, "--port", String(server.port));
        using tom = await TestClient.join(server.port, "tom", {
          ca: await Deno.readTextFile(`${dir}/ca.pem`),
        });
        for (const i of [0, 1, 2]) {
          await tom.send(`while away ${i}`);
          await tom.expect(new RegExp(`while away ${i}`));
        }
        await page.clock.resume();
        await page.getByRole("status").getByText("Connected as rosa").waitFor({
          timeout: 15_000,
        });
        await page.locator("li.message", { hasText: "while away 2" }).waitFor();
        const texts = await messages(page);
        assert.deepEqual(
          texts.filter((t) => /before the restart|while away/.test(t)),
          [
            "before the restart",
            "while away 0",
            "while away 1",
            "while away 2",
          ],
          "each line once, in order",
        );
        // The divider comes before the first line caught up, and is shown.
        const around = await page.locator("#messages > li").evaluateAll(
          (items) =>
            items.map((item) => `${item.className}: ${item.textContent}`),
        );
        const at = around.findIndex((t) => t.startsWith("divider"));
        assert.equal(around[at], "divider: 3 new messages", around.join("\n"));
        // Then what happened while away, tom's arrival included.
        assert.deepEqual(
          around.slice(at + 1).filter((t) => /tom joined|while away/.test(t))
            .map((t) => t.replace(/^.*(tom joined|while away \d)$/, "$1")),
          ["tom joined", "while away 0", "while away 1", "while away 2"],
          around.join("\n"),
        );
        assert.equal(await page.locator("li.history").count(), 0);
        assert.ok(
          await page.locator("li.divider").evaluate((divider) => {
            const list = divider.parentElement!.getBoundingClientRect();
            const top = divider.getBoundingClientRect().top;
            return top >= list.top - 1 && top < list.bottom;
          }),
          "the divider is in view",
        );
        await say(page, "after the restart");
        await page.locator("li.message", { hasText: "after the restart" })
          .waitFor();
        await tom.expect(/after the restart/);
      });
    } finally {
      await server[Symbol.asyncDispose]();
    }
  });
});

Deno.test("the page searches the rooms it is in and shows the results as text", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using server = await startServer(dir, webPort);
    await withBrowser(async (browser) => {
      using tom = await TestClient.join(server.port, "tom", {
        ca: await Deno.readTextFile(`${dir}/ca.pem`),
      });
      const hostile = "deploy <img src=x onerror=alert(1)>";
      await tom.send(hostile);
      await tom.send("nothing to see");
      await tom.expect(/nothing to see/);
      const page = await openPage(browser, webPort);
      await join(page, "sam");
      const box = page.getByRole("searchbox", { name: "Search messages" });
      await box.fill("deploy");
      await box.press("Enter");
      const results = page.getByRole("region", { name: "Search results" });
      await results.getByText(/1 message found for “deploy”/).waitFor({
        timeout: 15_000,
      });
      assert.equal(await results.locator("#found > li").count(), 1);
      assert.match(await results.locator("#found > li").innerText(), /#lobby/);
      // Its first line, the date first, starts inside the list, not cut
      // off at the left edge (a hanging indent without its padding).
      const cut = await results.locator("#found > li").evaluate((li) => {
        const range = li.ownerDocument.createRange();
        range.selectNodeContents(li.firstChild!);
        return li.parentElement!.getBoundingClientRect().left -
          range.getBoundingClientRect().left;
      });
      assert.ok(
        cut <= 0,
        `the result's first line starts ${cut}px left of the list`,
      );
      assert.ok((await results.innerText()).includes(hostile));
      assert.equal(await page.locator("#found img").count(), 0);
      await results.getByRole("button", { name: "Close" }).click();
      await results.waitFor({ state: "hidden" });
    });
  });
});

Deno.test("the page paces what is sent faster than the server's flood limits: never throttled, every line in order; a browser socket that does not pace is throttled, then disconnected", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    const tight = ["--flood-rate", "20", "--flood-burst", "5"];
    await using server = await startServer(dir, webPort, ...tight);
    await withBrowser(async (browser) => {
      const page = await openPage(browser, webPort);
      await join(page, "fast");
      // 14 lines sent at once through the form (as a user pressing Enter
      // faster than the rate would): a burst of 5 runs out however fast
      // Playwright types on a busy host, and 9 lines delayed in a row end
      // an unpaced client.
      await page.evaluate(`(() => {
        const box = document.getElementById("message");
        for (let i = 0; i < 14; i++) {
          box.value = "burst " + i;
          box.form.requestSubmit();
        }
      })()`);
      await page.locator("li.message", { hasText: "burst 13" }).waitFor();
      assert.deepEqual(
        await messages(page),
        Array.from({ length: 14 }, (_, i) => `burst ${i}`),
      );
      await notThrottled(page, server);
      // The server's flood control, for a browser's socket that does not
      // pace itself: delayed with a warning, then disconnected once 6 lines
      // in a row were delayed. 40 lines, not just enough for that (14): if
      // one of the server's 50 ms waits ends 50 ms late (a loaded host),
      // the next line finds a token and the count starts again.
      const heard = await page.evaluate(`new Promise((resolve) => {
        const heard = [];
        const socket = new WebSocket("wss://" + location.host + "/ws");
        socket.onopen = () => {
          for (let i = 0; i < 40; i++) socket.send(i === 0 ? "rude" : "x" + i);
        };
        socket.onmessage = (event) => heard.push(event.data);
        socket.onclose = () => resolve(heard);
      })`) as string[];
      assert.match(
        heard.find((line) => line.startsWith("ERR ")) ?? "",
        /^ERR flood Slow down/,
      );
      assert.match(heard.at(-1) ?? "", /^BYE flood /);
    });
  });
});

Deno.test("the page answers PING while idle, and /nick to a registered alias asks for its password in the room", async () => {
  await withTempDir(async (dir) => {
    const added = await runCommand(
      "deno",
      denoRun(
        "users.ts",
        [`--allow-read=${dir}`, `--allow-write=${dir}/data`],
        ["add", "bob", "--data-dir", `${dir}/data`],
      ),
      "bob's password\n",
    );
    assert.equal(added.code, 0);
    const webPort = freePort();
    await using server = await startServer(
      dir,
      webPort,
      "--idle-timeout",
      "2",
    );
    await withBrowser(async (browser) => {
      const page = await openPage(browser, webPort);
      await join(page, "lurker");
      // Silent past the idle timeout: the server's PINGs (one a second)
      // are answered, so it stays. (A span of time is what is tested.)
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await say(page, "/nick bob");
      await page.locator("li.error-line", { hasText: "type /pass" })
        .waitFor();
      assert.equal(await messageBox(page).isVisible(), true, "still in");
      await say(page, "/pass bob's password");
      await page.locator("li", { hasText: "lurker is now known as bob" })
        .waitFor();
      assert.doesNotMatch(`${server.output}`, /reason=timeout/);
      assert.doesNotMatch(`${server.output}`, /login-failed/);
    });
  });
});

Deno.test("the page takes a password again after a wrong one, without a reload", async () => {
  await withTempDir(async (dir) => {
    const added = await runCommand(
      "deno",
      denoRun(
        "users.ts",
        [`--allow-read=${dir}`, `--allow-write=${dir}/data`],
        ["add", "bob", "--data-dir", `${dir}/data`],
      ),
      "bob's password\n",
    );
    assert.equal(added.code, 0);
    await Deno.writeTextFile(`${dir}/room-password`, "open sesame, friends\n", {
      mode: 0o600,
    });
    const webPort = freePort();
    await using _server = await startServer(
      dir,
      webPort,
      "--password-file",
      `${dir}/room-password`,
    );
    await withBrowser(async (browser) => {
      // An account: a wrong password sends the page back to the alias,
      // which it sends again with the next password typed.
      const bob = await openPage(browser, webPort);
      await bob.locator("#alias:focus").waitFor();
      await bob.keyboard.type("bob");
      await bob.keyboard.press("Enter");
      await bob.locator("#password:focus").waitFor();
      await bob.keyboard.type("not bob's password");
      await bob.keyboard.press("Enter");
      await bob.getByRole("alert").getByText("Wrong alias or password")
        .waitFor();
      await bob.locator("#password:focus").waitFor();
      await bob.keyboard.type("bob's password");
      await bob.keyboard.press("Enter");
      await bob.getByRole("status").getByText("Connected as bob").waitFor();
      // The room password: asked again at once, the refusal still shown.
      const ann = await openPage(browser, webPort);
      await ann.locator("#alias:focus").waitFor();
      await ann.keyboard.type("ann");
      await ann.keyboard.press("Enter");
      await ann.locator("#password:focus").waitFor();
      await ann.keyboard.type("open sesame");
      await ann.keyboard.press("Enter");
      await ann.getByRole("alert").getByText(/Wrong room password/).waitFor();
      await ann.locator("#password:focus").waitFor();
      await ann.keyboard.type("open sesame, friends");
      await ann.keyboard.press("Enter");
      await ann.getByRole("status").getByText("Connected as ann").waitFor();
      await bob.locator("li.notice", { hasText: "ann joined" }).waitFor();
    });
  });
});

Deno.test("the page fits a phone and a desktop, in light and dark, with a live region and unread count", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using server = await startServer(dir, webPort);
    await withBrowser(async (browser) => {
      const shots = Deno.env.get("TLSCHAT_SCREENSHOTS") === "1";
      using guest = await TestClient.join(server.port, "guest", {
        ca: await Deno.readTextFile(`${dir}/ca.pem`),
      });
      await guest.send("Welcome to the room, everyone");
      await guest.send("/me puts the kettle on");
      for (
        const [viewport, scheme] of [
          [{ width: 375, height: 700 }, "light"],
          [{ width: 1280, height: 800 }, "light"],
          [{ width: 1280, height: 800 }, "dark"],
        ] as const
      ) {
        const page = await openPage(browser, webPort, viewport, scheme);
        const head = await page.request.get(`https://127.0.0.1:${webPort}/`);
        assert.match(
          head.headers()["content-security-policy"] ?? "",
          /script-src 'self'/,
        );
        await join(page, `${scheme}${viewport.width}`);
        const hello = `hello from ${scheme} at ${viewport.width}`;
        await say(page, hello);
        await page.locator("li.message:not(.history)", { hasText: hello })
          .waitFor();
        // (Run in the page: plain JavaScript, as a string.)
        const layout = await page.evaluate(`({
          scrollWidth: document.documentElement.scrollWidth,
          clientWidth: document.documentElement.clientWidth,
          messageWidth: document.getElementById("message")
            .getBoundingClientRect().right,
          background: getComputedStyle(document.body).backgroundColor,
          live: document.getElementById("messages").getAttribute("aria-live"),
          role: document.getElementById("messages").getAttribute("role"),
        })`) as {
          scrollWidth: number;
          clientWidth: number;
          messageWidth: number;
          background: string;
          live: string;
          role: string;
        };
        assert.ok(
          layout.scrollWidth <= layout.clientWidth,
          `no horizontal scroll at ${viewport.width}: ${
            JSON.stringify(layout)
          }`,
        );
        assert.ok(
          layout.messageWidth <= viewport.width,
          "the message box fits",
        );
        assert.equal(layout.live, "polite");
        assert.equal(layout.role, "log");
        assert.equal(
          layout.background,
          scheme === "dark" ? "rgb(20, 23, 28)" : "rgb(255, 255, 255)",
        );
        // The rooms are listed (a strip above the messages on a phone).
        await roomNav(page).getByRole("button", { name: "#lobby", exact: true })
          .waitFor();
        if (viewport.width < 640) {
          // The member list is behind a button on a phone.
          await page.getByRole("button", { name: /Members/ }).click();
          await page.locator("#member-list").getByText("guest").waitFor();
        }
        // In a background tab, new messages are counted in the title.
        await page.evaluate(
          `Object.defineProperty(document, "hidden", { value: true })`,
        );
        await guest.send(`ping ${scheme}${viewport.width}`);
        await until(
          async () => /^\(1\) /.test(await page.title()),
          "the unread count",
        );
        if (shots && viewport.width === 1280 && scheme === "light") {
          await page.screenshot({ path: `${ROOT}docs/web.png` });
        }
        await page.context().close();
      }
    });
  });
});

Deno.test("a room operator's longest topic leaves a phone's message box and last message on screen: the topic scrolls in a few lines", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using _server = await startServer(dir, webPort);
    await withBrowser(async (browser) => {
      const viewport = { width: 375, height: 667 };
      const page = await openPage(browser, webPort, viewport);
      await join(page, "ann");
      // Whoever creates a room is its operator, and sets its topic: as long
      // as a line allows.
      await page.getByRole("textbox", { name: "Join a room" }).fill("long");
      await page.getByRole("textbox", { name: "Join a room" }).press("Enter");
      await page.locator("h1", { hasText: "#long" }).waitFor();
      const topic = "Read this first. ".repeat(230).trim();
      await say(page, `/topic ${topic}`);
      await page.locator("#topic", { hasText: "Read this first." }).waitFor();
      await say(page, "still here?");
      const last = page.locator("li.message", { hasText: "still here?" });
      await last.waitFor();
      const box = await messageBox(page).boundingBox();
      const said = await last.boundingBox();
      const header = await page.locator("header").boundingBox();
      assert.ok(box !== null && said !== null && header !== null);
      // Before, the topic took the whole screen: the box was squeezed out.
      assert.ok(
        box.height > 20 && box.y + box.height <= viewport.height,
        `the message box on screen: ${JSON.stringify(box)}`,
      );
      assert.ok(
        said.y >= header.y + header.height && said.y < box.y,
        `the last message on screen: ${JSON.stringify({ said, header })}`,
      );
      assert.ok(header.height < viewport.height / 3, JSON.stringify(header));
      // All of it can still be read: it scrolls.
      const scrolls = await page.locator("#topic").evaluate((p) =>
        p.scrollHeight > p.clientHeight &&
        p.ownerDocument.defaultView!.getComputedStyle(p).overflowY === "auto"
      );
      assert.ok(scrolls, "the topic scrolls");
    });
  });
});

/** The room list of a page. */
const roomNav = (page: Page) => page.getByRole("navigation", { name: "Rooms" });

/** The rooms a page lists, the one shown marked with "*", unread after. */
function roomList(page: Page): Promise<string[]> {
  return roomNav(page).locator("button.room").evaluateAll((buttons) =>
    buttons.map((button) =>
      `${button.getAttribute("aria-current") === "true" ? "*" : ""}${
        button.getAttribute("aria-label") ?? button.textContent
      }`
    )
  );
}

/** Waits until a page lists these rooms (see {@linkcode roomList}). */
async function untilRooms(page: Page, rooms: string[]): Promise<void> {
  await until(
    async () => JSON.stringify(await roomList(page)) === JSON.stringify(rooms),
    `rooms ${rooms.join(" ")} (listed: ${(await roomList(page)).join(" ")})`,
  );
}

Deno.test("a browser member joins rooms by the URL and the room form, sees each room's history and unread count, switches and parts", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using server = await startServer(dir, webPort);
    await withBrowser(async (browser) => {
      // A member of #ops before: its line is the room's history.
      const bob = await openPage(browser, webPort, undefined, "light", "#ops");
      await join(bob, "bob");
      await untilRooms(bob, ["#lobby", "*#ops"]);
      await say(bob, "ops history line");
      await bob.locator("li.message", { hasText: "ops history line" })
        .waitFor();
      await say(bob, "/topic Deploys at noon");
      await bob.locator("#topic", { hasText: "Deploys at noon" }).waitFor();
      // The URL names the room: joined and shown, its history with it.
      const ann = await openPage(browser, webPort, undefined, "light", "#Ops");
      await ann.getByRole("heading", { name: "Join #ops" }).waitFor();
      await join(ann, "ann");
      await untilRooms(ann, ["#lobby", "*#ops"]);
      await ann.locator("h1", { hasText: "#ops" }).waitFor();
      await ann.locator("li.history", { hasText: "ops history line" })
        .waitFor();
      assert.equal(new URL(ann.url()).hash, "#ops");
      await ann.locator("#member-list").getByText("bob").waitFor();
      // The topic bob (its creator, so its operator) set before ann came.
      await ann.locator("#topic", { hasText: "Deploys at noon" }).waitFor();
      await say(ann, "ops now");
      await ann.locator("li.message", { hasText: "ops now" }).waitFor();
      // A member without rooms speaks in the default room: unread for ann.
      using tom = await TestClient.join(server.port, "tom", {
        ca: await Deno.readTextFile(`${dir}/ca.pem`),
      });
      await tom.send("lobby news");
      await untilRooms(ann, ["#lobby, 1 unread", "*#ops"]);
      assert.deepEqual(await messages(ann), ["ops history line", "ops now"]);
      // Switch with the keyboard: the lobby's lines, the unread gone.
      await roomNav(ann).getByRole("button", { name: "#lobby, 1 unread" })
        .focus();
      await ann.keyboard.press("Enter");
      await untilRooms(ann, ["*#lobby", "#ops"]);
      await ann.locator("li.message", { hasText: "lobby news" }).waitFor();
      assert.ok(!(await messages(ann)).includes("ops now"));
      // Its own topic (none) and members (tom, who is not in #ops).
      await ann.locator("#member-list").getByText("tom").waitFor();
      assert.equal(await ann.locator("#topic").innerText(), "");
      assert.equal(new URL(ann.url()).hash, "#lobby");
      // Back to #ops by the URL's fragment: its own lines again. The
      // address is rewritten in the same step, before hashchange runs (as
      // the page does when a join is answered meanwhile): the room asked
      // for is the one the address changed to, not the one shown later.
      await ann.evaluate(
        `location.hash = "#ops"; history.replaceState(null, "", "#lobby")`,
      );
      await untilRooms(ann, ["#lobby", "*#ops"]);
      await ann.locator("li.message", { hasText: "ops now" }).waitFor();
      assert.ok(!(await messages(ann)).includes("lobby news"));
      await ann.locator("#topic", { hasText: "Deploys at noon" }).waitFor();
      assert.equal(
        await ann.locator("#member-list").getByText("tom").count(),
        0,
      );
      // A new room from the form, with the keyboard.
      await ann.getByRole("textbox", { name: "Join a room" }).focus();
      await ann.keyboard.type("dev");
      await ann.keyboard.press("Enter");
      await untilRooms(ann, ["#lobby", "#ops", "*#dev"]);
      await messageBox(ann).and(ann.locator(":focus")).waitFor();
      await say(ann, "dev first");
      await ann.locator("li.message", { hasText: "dev first" }).waitFor();
      assert.equal(new URL(ann.url()).hash, "#dev");
      // Part #dev: gone from the list, the last room joined still there shown.
      await roomNav(ann).getByRole("button", { name: "Leave #dev" }).focus();
      await ann.keyboard.press("Enter");
      await untilRooms(ann, ["#lobby", "*#ops"]);
      // The focus stays in the list, on the room shown.
      await roomNav(ann).locator('button[aria-current="true"]:focus').waitFor();
      await ann.locator("li.notice", { hasText: "#dev" }).waitFor();
      await bob.locator("li.notice", { hasText: "ann joined" }).waitFor();
    });
  });
});

Deno.test("a room the address names is offered, not joined: changed by another window or on a reload, only the user's click joins it", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using _server = await startServer(dir, webPort);
    await withBrowser(async (browser) => {
      const ann = await openPage(browser, webPort);
      await join(ann, "ann");
      await untilRooms(ann, ["*#lobby"]);
      // Anyone may navigate the tab to the room's address (a link, another
      // window): before, the page joined #evil on its own.
      await ann.evaluate(`location.hash = "#evil"`);
      const offer = ann.getByRole("button", { name: "Join #evil" });
      await offer.waitFor();
      assert.deepEqual(await roomList(ann), ["*#lobby"]);
      assert.equal(new URL(ann.url()).hash, "#lobby", "the address set back");
      await messageBox(ann).fill("typed meanwhile");
      await ann.getByRole("button", { name: "Not now" }).click();
      await offer.waitFor({ state: "hidden" });
      assert.equal(await messageBox(ann).inputValue(), "typed meanwhile");
      await ann.evaluate(`location.hash = "#evil"`);
      await offer.click();
      await untilRooms(ann, ["#lobby", "*#evil"]);
      await offer.waitFor({ state: "hidden" });
      // Reloaded at another room's address: back in its own rooms, the
      // other offered (before, joined by the reload).
      await ann.goto(`https://127.0.0.1:${webPort}/?again#trap`);
      await ann.getByRole("button", { name: "Join #trap" }).waitFor();
      await untilRooms(ann, ["#lobby", "*#evil"]);
    });
  });
});

Deno.test("a browser guest whose URL names a new room past --room-creations is shown the refusal, in the room it is put in", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using _server = await startServer(
      dir,
      webPort,
      "--room-creations",
      "0",
    );
    await withBrowser(async (browser) => {
      const ann = await openPage(browser, webPort, undefined, "light", "#New");
      await join(ann, "ann");
      await ann.locator("#messages > li.error-line", {
        hasText: "rooms this hour, the most allowed",
      }).waitFor();
      const refusal = await ann.locator("#messages > li.error-line").last()
        .innerText();
      assert.match(refusal, /#new/, "labelled with the room asked for");
      await untilRooms(ann, ["*#lobby"]);
    });
  });
});

Deno.test("a browser guest in many rooms joins them again, one with its key, after a server restart and after a reload past the grace (the room's conversation shown again), paced under tight flood limits, and is asked for the key when it changed", async () => {
  await withTempDir(async (dir) => {
    const added = await runCommand(
      "deno",
      denoRun(
        "users.ts",
        [`--allow-read=${dir}`, `--allow-write=${dir}/data`],
        ["add", "opal", "--data-dir", `${dir}/data`],
      ),
      "opal's password\n",
    );
    assert.equal(added.code, 0);
    const webPort = freePort();
    // No grace: a reload finds its member gone, as past the grace. No
    // flood control while the page joins its rooms; after the restart,
    // limits that rejoining eight rooms at once (a /join and a /who each)
    // would exceed: the page paces itself to them and is never held back.
    const noGrace = ["--resume-grace", "0", "--room-create", "any"];
    const tight = ["--flood-rate", "20", "--flood-burst", "5"];
    let server = await startServer(
      dir,
      webPort,
      ...noGrace,
      "--flood-rate",
      "0",
    );
    const others = ["#r1", "#r2", "#r3", "#r4", "#r5", "#r6"];
    /** opal, logged in with rooms: in #ops (its account's) once it exists. */
    const opal = async () => {
      const client = await TestClient.connect(
        server.port,
        undefined,
        await Deno.readTextFile(`${dir}/ca.pem`),
      );
      for (const line of ["/cap rooms", "opal", "/pass opal's password"]) {
        await client.send(line);
      }
      await client.expect(/^CURRENT #lobby$/);
      return client;
    };
    try {
      {
        // A registered room with a key: both outlive the restart.
        using op = await opal();
        for (const line of ["/join #ops", "#ops /register", "#ops /key s3"]) {
          await op.send(line);
        }
        await op.expect(/^#ops MOD key /);
      }
      await withBrowser(async (browser) => {
        const page = await openPage(browser, webPort);
        await join(page, "rosa");
        for (const [i, room] of others.entries()) {
          // A link to the room: offered, joined with a click.
          await page.evaluate(`location.hash = "${room}"`);
          await page.getByRole("button", { name: `Join ${room}` }).click();
          await untilRooms(page, ["#lobby", ...others.slice(0, i), `*${room}`]);
        }
        await page.getByRole("textbox", { name: "Join a room" }).fill("ops");
        await page.getByLabel("Key").fill("s3");
        await page.getByRole("textbox", { name: "Join a room" }).press("Enter");
        const all = ["#lobby", ...others, "*#ops"];
        await untilRooms(page, all);
        server.child.kill("SIGKILL");
        await server.exited();
        await page.getByRole("status").getByText(/Reconnecting/).waitFor();
        const port = String(server.port);
        server = await startServer(
          dir,
          webPort,
          "--port",
          port,
          ...noGrace,
          ...tight,
        );
        using op = await opal();
        await page.getByRole("status").getByText("Connected as rosa").waitFor({
          timeout: 15_000,
        });
        await untilRooms(page, all);
        await say(page, "in #ops again");
        await op.expect(/^#ops MSG rosa in #ops again$/);
        // Its own line shown (its number kept): the history to come.
        await page.locator("li.message", { hasText: "in #ops again" })
          .waitFor();
        await notThrottled(page, server);
        // A reload: the member left with the old page, the key is the tab's.
        await page.reload();
        await op.expect(/^#ops LEAVE rosa /);
        await op.expect(/^#ops JOIN rosa /);
        await untilRooms(page, all);
        await page.locator("li.history", { hasText: "in #ops again" })
          .waitFor();
        await say(page, "back after the reload");
        await op.expect(/^#ops MSG rosa back after the reload$/);
        await page.locator("li.message", { hasText: "back after the reload" })
          .waitFor();
        assert.deepEqual(await messages(page), [
          "in #ops again",
          "back after the reload",
        ]);
        assert.equal(
          await page.locator("li.error-line", { hasText: "key" }).count(),
          0,
        );
        // The key changed: the next reload's room form asks for it.
        await op.send("#ops /key n3w");
        await op.expect(/^#ops MOD key /);
        await page.reload();
        await page.locator("#room-key:focus").waitFor();
        await untilRooms(page, ["#lobby", ...others.slice(0, -1), "*#r6"]);
        assert.equal(
          await page.getByRole("textbox", { name: "Join a room" }).inputValue(),
          "#ops",
        );
        await page.keyboard.type("n3w");
        await page.keyboard.press("Enter");
        await untilRooms(page, all);
        await say(page, "with the new key");
        await op.expect(/^#ops MSG rosa with the new key$/);
        await notThrottled(page, server);
      });
    } finally {
      await server[Symbol.asyncDispose]();
    }
  });
});

Deno.test("two browser members in different rooms do not see each other's lines", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using _server = await startServer(dir, webPort);
    await withBrowser((browser) => roomsApart(browser, webPort, webPort));
  });
});

Deno.test("a cluster: two browser members on two servers, in different rooms, do not see each other's lines", async () => {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const cluster = (name: string, webPort: number) =>
      startServer(
        dir,
        webPort,
        "--data-dir",
        `${dir}/${name}`,
        "--redis",
        redis.url(),
      );
    const [annPort, bobPort] = [freePort(), freePort()];
    await using _s0 = await cluster("s0", annPort);
    await using _s1 = await cluster("s1", bobPort);
    await withBrowser((browser) => roomsApart(browser, annPort, bobPort));
  });
});

Deno.test("a browser member in a room whose join the shared log refused (Redis away) keeps a line typed there in the box, not sent, until it is in", async () => {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const webPort = freePort();
    await using server = await startServer(
      dir,
      webPort,
      "--redis",
      redis.url(),
      "--redis-timeout",
      "0.3",
      "--heartbeat",
      "0.2",
      "--log-level",
      "debug",
    );
    await withBrowser(async (browser) => {
      const page = await openPage(browser, webPort);
      await join(page, "ann");
      await untilRooms(page, ["*#lobby"]);
      await redis.stop();
      await server.output.waitFor(/DEBUG redis-heartbeat-failed /);
      await page.getByRole("textbox", { name: "Join a room" }).fill("den");
      await page.getByRole("textbox", { name: "Join a room" }).press("Enter");
      await untilRooms(page, ["*#lobby", "#den, not joined"]);
      await roomNav(page).getByRole("button", { name: "#den, not joined" })
        .click();
      await untilRooms(page, ["#lobby", "*#den, not joined"]);
      assert.equal(
        await messageBox(page).getAttribute("placeholder"),
        "Not in #den: Send joins it again",
      );
      // Before, the line went out as if joined (ERR not-in-room), the box
      // emptied.
      await say(page, "hello den");
      await page.locator("li.error-line", {
        hasText: "Not sent: you are not in #den",
      }).waitFor();
      assert.equal(await messageBox(page).inputValue(), "hello den");
      assert.equal(
        await page.locator("li.error-line", { hasText: "not-in-room" })
          .count(),
        0,
      );
      await redis.start();
      await server.output.waitFor(/INFO redis-reconnected/, {
        timeoutMs: 10_000,
      });
      // Send again: the room is joined first, then the line goes.
      await messageBox(page).press("Enter");
      await untilRooms(page, ["#lobby", "*#den"]);
      await messageBox(page).press("Enter");
      await page.locator("li.message", { hasText: "hello den" }).waitFor();
      assert.equal(await messageBox(page).inputValue(), "");
    });
  });
});

/**
 * Ann (on the web door at `annPort`) in #ops and Bob (at `bobPort`) in
 * #dev see only their own room's lines, and both see the default room's.
 */
async function roomsApart(browser: Browser, annPort: number, bobPort: number) {
  const ann = await openPage(browser, annPort, undefined, "light", "#ops");
  await join(ann, "ann");
  const bob = await openPage(browser, bobPort, undefined, "light", "#dev");
  await join(bob, "bob");
  await untilRooms(ann, ["#lobby", "*#ops"]);
  await untilRooms(bob, ["#lobby", "*#dev"]);
  await say(ann, "ops secret");
  await say(bob, "dev secret");
  await ann.locator("li.message", { hasText: "ops secret" }).waitFor();
  await bob.locator("li.message", { hasText: "dev secret" }).waitFor();
  // Then a line in the room both are in: once it has come, anything
  // said before it would have too (a line of a room the page is not
  // in would show in the room shown, labelled).
  await roomNav(ann).getByRole("button", { name: "#lobby", exact: true })
    .click();
  await say(ann, "/me is in the lobby too");
  await untilRooms(bob, ["#lobby, 1 unread", "*#dev"]);
  await roomNav(bob).getByRole("button", { name: /^#lobby/ }).click();
  await say(bob, "/me as well");
  await ann.locator("li.action", { hasText: "as well" }).waitFor();
  await bob.locator("li.action", { hasText: "in the lobby too" }).waitFor();
  for (const [page, other] of [[ann, "dev"], [bob, "ops"]] as const) {
    assert.doesNotMatch(
      await page.locator("#messages").innerText(),
      /secret/,
    );
    const own = other === "dev" ? "#ops" : "#dev";
    await roomNav(page).getByRole("button", { name: own, exact: true })
      .click();
    await untilRooms(page, ["#lobby", `*${own}`]);
    assert.deepEqual(await messages(page), [`${own.slice(1)} secret`]);
    assert.doesNotMatch(
      await page.locator("#messages").innerText(),
      new RegExp(`${other} secret`),
    );
  }
}

/** Logs into account `alias` with the keyboard only. */
async function logIn(page: Page, alias: string, password: string) {
  await page.locator("#alias:focus").waitFor();
  await page.keyboard.type(alias);
  await page.keyboard.press("Enter");
  await page.locator("#password:focus").waitFor();
  await page.keyboard.type(password);
  await page.keyboard.press("Enter");
  await messageBox(page).waitFor();
}

/**
 * The entries of the page's log, as `class: text`, the text without its
 * time and, in a message, its alias (a notice's parts all kept).
 */
function entries(page: Page): Promise<string[]> {
  return page.locator("#messages > li").evaluateAll((items) =>
    items.map((item) => {
      const said = [...item.children]
        .filter((part) =>
          part.localName !== "time" && part.className !== "label"
        )
        .filter((part) => !part.classList.contains("alias"))
        .map((part) => part.textContent).join("").trim();
      return `${item.className}: ${said}`;
    })
  );
}

Deno.test("a fresh page logged into an account shows what was said since its read markers, once, after a divider, unread in the room not shown", async () => {
  await withTempDir(async (dir) => {
    const added = await runCommand(
      "deno",
      denoRun(
        "users.ts",
        [`--allow-read=${dir}`, `--allow-write=${dir}/data`],
        ["add", "ann", "--data-dir", `${dir}/data`],
      ),
      "ann's password\n",
    );
    assert.equal(added.code, 0);
    const webPort = freePort();
    // No grace: the page's member leaves when it closes.
    await using server = await startServer(dir, webPort, "--resume-grace", "0");
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    await withBrowser(async (browser) => {
      // Another device of the account (renamed, so that the page logs in as
      // ann), told each marker that grows; it makes #ops.
      using watch = await TestClient.connect(server.port, undefined, ca);
      for (const line of ["/cap rooms seq", "ann", "/pass ann's password"]) {
        await watch.send(line);
      }
      await watch.expect(/^CURRENT #lobby$/);
      await watch.send("/nick ann_watch");
      await watch.send("/join #ops");
      await watch.expect(/^CURRENT #ops$/);
      const first = await openPage(
        browser,
        webPort,
        undefined,
        "light",
        "#ops",
      );
      await logIn(first, "ann", "ann's password");
      await untilRooms(first, ["#lobby", "*#ops"]);
      using bob = await TestClient.connect(server.port, undefined, ca);
      for (const line of ["/cap rooms", "bob", "/join #ops"]) {
        await bob.send(line);
      }
      await bob.expect(/^CURRENT #ops$/);
      await bob.send("#ops ops read");
      await bob.send("#lobby lobby read");
      const lobbyRead = /seq=(\d+);\S+ #lobby MSG bob lobby read/;
      const readUpTo = Number(
        lobbyRead.exec(await watch.expect(lobbyRead))![1],
      );
      // Read in both rooms (the one shown, then the other shown).
      await first.locator("li.message", { hasText: "ops read" }).waitFor();
      await roomNav(first).getByRole("button", { name: /^#lobby/ }).click();
      await first.locator("li.message", { hasText: "lobby read" }).waitFor();
      await watch.expect(new RegExp(`^#lobby READ ${readUpTo}$`));
      await first.context().close();
      await bob.expect(/^#lobby LEAVE ann /);
      for (const i of [1, 2]) {
        await bob.send(`#lobby lobby missed ${i}`);
        await bob.send(`#ops ops missed ${i}`);
      }
      await bob.expect(/ops missed 2$/);
      // A fresh page (nothing kept of the first): each room from its marker.
      const page = await openPage(browser, webPort);
      await logIn(page, "ann", "ann's password");
      await untilRooms(page, ["*#lobby", "#ops, 2 unread"]);
      await page.locator("li.message", { hasText: "lobby missed 2" }).waitFor();
      const lobby = await entries(page);
      assert.deepEqual(await messages(page), [
        "lobby missed 1",
        "lobby missed 2",
      ]);
      assert.deepEqual(
        lobby.slice(lobby.findIndex((e) => e.startsWith("divider"))),
        [
          "divider: 2 new messages",
          "notice: ann disconnected",
          "message: lobby missed 1",
          "message: lobby missed 2",
          "notice: ann joined",
        ],
        lobby.join("\n"),
      );
      await roomNav(page).getByRole("button", { name: /^#ops/ }).click();
      await untilRooms(page, ["#lobby", "*#ops"]);
      assert.deepEqual(await messages(page), ["ops missed 1", "ops missed 2"]);
      assert.equal(
        await page.locator("li.divider").innerText(),
        "2 new messages",
      );
      // Shown, so read: the other device is told.
      const opsMissed = /seq=(\d+);\S+ #ops MSG bob ops missed 2/;
      const opsTop = Number(opsMissed.exec(await watch.expect(opsMissed))![1]);
      let opsRead = 0;
      while (opsRead < opsTop) {
        const read = await watch.expect(/^#ops READ \d+$/);
        opsRead = Number(read.split(" ")[2]);
      }
    });
  });
});

Deno.test("a guest page whose connection drops comes back once within the grace (its token) and after it (its own leaving in the catch-up), its room kept", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    // A grace that its reconnection (its wait skipped, below) takes well within.
    await using server = await startServer(dir, webPort, "--resume-grace", "3");
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    using bob = await TestClient.join(server.port, "bob", { ca });
    await withBrowser(async (browser) => {
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      page.on("pageerror", (error) => {
        throw new Error(`script error in the page: ${error.message}`);
      });
      // The page's clock is Playwright's: it reconnects when resumed. Its
      // sockets are kept, to drop one as a network would (no /quit).
      await page.clock.install();
      await page.addInitScript(() => {
        const sockets: WebSocket[] = [];
        Object.assign(globalThis, { sockets });
        globalThis.WebSocket = class extends WebSocket {
          constructor(url: string | URL) {
            super(url); // the page opens its socket with a URL only
            sockets.push(this);
          }
        };
      });
      await page.goto(`https://127.0.0.1:${webPort}/`);
      await join(page, "gus");
      await bob.send("before");
      await page.locator("li.message", { hasText: "before" }).waitFor();
      const drop = async (away: () => Promise<void>, texts: string[]) => {
        // A minute on, on the page's clock (ahead of ours: waits skipped).
        await page.clock.pauseAt(
          await page.evaluate(() => Date.now()) + 60_000,
        );
        await page.evaluate(() =>
          (globalThis as unknown as { sockets: WebSocket[] }).sockets.at(-1)!
            .close()
        );
        await page.getByRole("status").getByText(/Reconnecting/).waitFor();
        await away();
        for (const text of texts) {
          await bob.send(text);
          await bob.expect(new RegExp(`MSG bob ${text}$`));
        }
        // Its first wait to reconnect (at most 1.25 s) over at once: the
        // grace has to cover the reconnection only, however slow the host.
        await page.clock.fastForward(1_250);
        await page.clock.resume();
        await page.locator("li.message", { hasText: texts.at(-1) }).waitFor({
          timeout: 15_000,
        });
      };
      // Within the grace: the token takes the member over, nobody saw it go.
      await drop(async () => {}, ["while held 1", "while held 2"]);
      // After it: gone (bob sees it leave), then its alias joins anew.
      await drop(
        () => bob.expect(/^LEAVE gus \d+ disconnect$/, 10_000).then(() => {}),
        ["while gone 1", "while gone 2"],
      );
      await untilRooms(page, ["*#lobby"]);
      assert.equal(await page.title(), "#lobby");
      assert.deepEqual(await messages(page), [
        "before",
        "while held 1",
        "while held 2",
        "while gone 1",
        "while gone 2",
      ]);
      const shown = await entries(page);
      const second = shown.lastIndexOf("divider: 2 new messages");
      assert.deepEqual(
        shown.slice(second),
        [
          "divider: 2 new messages",
          "notice: gus disconnected",
          "message: while gone 1",
          "message: while gone 2",
          "notice: gus joined",
        ],
        shown.join("\n"),
      );
      assert.equal(
        bob.received.filter((line) => /^(JOIN|LEAVE) gus /.test(line)).length,
        2,
        "one leaving, one joining: the first drop was unseen",
      );
    });
  });
});

Deno.test("a reloaded guest page comes back as the same member within the grace, the lines said meanwhile shown once, nobody seeing it leave or join; a duplicated tab does not take it", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using server = await startServer(dir, webPort); // grace: 30 s
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    using bob = await TestClient.join(server.port, "bob", { ca });
    await withBrowser(async (browser) => {
      const page = await openPage(browser, webPort);
      await join(page, "gus");
      await bob.expect(/^JOIN gus /);
      await bob.send("before");
      await page.locator("li.message", { hasText: "before" }).waitFor();
      // The reloaded page's script is held until bob has spoken: its lines
      // are said while no page of gus is open (the old one has gone once
      // the new one asks for its script).
      const asked = Promise.withResolvers<void>();
      const spoken = Promise.withResolvers<void>();
      await page.route("**/app.js", async (route) => {
        asked.resolve();
        await spoken.promise;
        await route.continue();
      });
      const reloaded = page.reload();
      await asked.promise;
      for (const text of ["during 1", "during 2"]) {
        await bob.send(text);
        await bob.expect(new RegExp(`^MSG bob ${text}$`));
      }
      spoken.resolve();
      await reloaded;
      await page.getByRole("status").getByText("Connected as gus").waitFor();
      await page.locator("li.message", { hasText: "during 2" }).waitFor();
      await untilRooms(page, ["*#lobby"]);
      // The conversation before the reload comes back as history, above
      // the lines said meanwhile, each once.
      await page.locator("li.history", { hasText: "before" }).waitFor();
      assert.deepEqual(await messages(page), [
        "before",
        "during 1",
        "during 2",
      ]);
      const shown = await entries(page);
      const divider = shown.indexOf("divider: 2 new messages");
      assert.ok(divider > 0, shown.join("\n"));
      assert.deepEqual(
        shown.filter((entry) => / (before|during \d)$/.test(entry)),
        [
          "history message: before",
          "message: during 1",
          "message: during 2",
        ],
        shown.join("\n"),
      );
      assert.ok(
        shown.indexOf("history message: before") < divider,
        shown.join("\n"),
      );
      // The same member: what it says now comes from gus, and bob saw
      // only its first joining (a LEAVE or JOIN would have come first).
      await say(page, "after the reload");
      await bob.expect(/^MSG gus after the reload$/);
      const seen = () =>
        bob.received.filter((line) => /^(JOIN|LEAVE) gus /.test(line));
      assert.deepEqual(seen().length, 1, seen().join("\n"));
      // A duplicated tab (a copy of this tab's storage) starts anew: the
      // join form, and the first page keeps its member.
      const copied = await page.evaluate(() =>
        JSON.stringify(Object.entries(sessionStorage))
      );
      const twin = await page.context().newPage();
      await twin.addInitScript((items: string) => {
        for (const [key, value] of JSON.parse(items)) {
          sessionStorage.setItem(key, value);
        }
      }, copied);
      await twin.goto(`https://127.0.0.1:${webPort}/`);
      await twin.locator("#alias:focus").waitFor();
      await say(page, "still here");
      await bob.expect(/^MSG gus still here$/);
      await page.locator("li.message", { hasText: "still here" }).waitFor();
      assert.equal(seen().length, 1, seen().join("\n"));
      assert.equal(
        await page.getByRole("status").textContent(),
        "Connected as gus",
      );
    });
  });
});

Deno.test("a page reloaded right after a burst of lines resumes from the last line it saw, none shown again as new; the burst is not written to the tab's storage line by line", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using server = await startServer(dir, webPort, "--flood-rate", "0");
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    using bob = await TestClient.join(server.port, "bob", { ca });
    await withBrowser(async (browser) => {
      const page = await openPage(browser, webPort);
      await join(page, "gus");
      await bob.expect(/^JOIN gus /);
      // Counts the page's writes of its session from now on.
      await page.evaluate(`(() => {
        const setItem = Storage.prototype.setItem;
        globalThis.sessionWrites = 0;
        Storage.prototype.setItem = function (key, value) {
          if (key === "tlschat.session") globalThis.sessionWrites++;
          return setItem.call(this, key, value);
        };
      })()`);
      const started = Date.now();
      const burst = Array.from({ length: 100 }, (_, i) => `burst ${i}`);
      for (const text of burst) await bob.send(text);
      await page.locator("li.message", { hasText: "burst 99" }).waitFor();
      // At most one write a second while only the numbers change.
      const seconds = Math.ceil((Date.now() - started) / 1000);
      const writes = await page.evaluate(`globalThis.sessionWrites`);
      assert.ok(
        Number(writes) <= seconds + 1,
        `${writes} writes of the session in ${seconds} s for 100 lines`,
      );
      await page.reload();
      await page.getByRole("status").getByText("Connected as gus").waitFor();
      await bob.send("after");
      await page.locator("li.message", { hasText: "after" }).waitFor();
      // Resumed after "burst 99": no line of the burst comes again as new
      // (a number kept from before its end would bring them after it)...
      const shown = await entries(page);
      assert.deepEqual(
        shown.filter((entry) => /^(?!history )[a-z ]*message: /.test(entry)),
        ["message: after"],
        shown.join("\n"),
      );
      // ...they are in the history asked for, above.
      await page.locator("li.history", { hasText: "burst 99" }).waitFor();
    });
  });
});

/**
 * Sends `count` lines through the form at once (`prefix 0`, `prefix 1`,
 * ...), as a user pressing Enter faster than the pace; with `cut`, the
 * page's socket is closed right after, as a network drops it: the first
 * lines on their way, their echoes lost, the others waiting in the pacer.
 */
function sendAll(page: Page, prefix: string, count: number, cut: boolean) {
  return page.evaluate(`(() => {
    const box = document.getElementById("message");
    for (let i = 0; i < ${count}; i++) {
      box.value = "${prefix} " + i;
      box.form.requestSubmit();
    }
    if (${cut}) globalThis.sockets.at(-1).close();
  })()`);
}

Deno.test("the page's lines survive a dropped connection and a server killed mid-sending: each once for the others and on the page, in order, none left waiting", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    // Tight limits: most lines wait in the page's pacer when the socket goes.
    const tight = ["--flood-rate", "20", "--flood-burst", "5"];
    let server = await startServer(dir, webPort, ...tight);
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    try {
      using bob = await TestClient.join(server.port, "bob", { ca });
      await withBrowser(async (browser) => {
        const context = await browser.newContext({ ignoreHTTPSErrors: true });
        const page = await context.newPage();
        page.on("pageerror", (error) => {
          throw new Error(`script error in the page: ${error.message}`);
        });
        // The page's sockets are kept, to drop one as a network would.
        await page.addInitScript(() => {
          const sockets: WebSocket[] = [];
          Object.assign(globalThis, { sockets });
          globalThis.WebSocket = class extends WebSocket {
            constructor(url: string | URL) {
              super(url); // the page opens its socket with a URL only
              sockets.push(this);
            }
          };
        });
        await page.goto(`https://127.0.0.1:${webPort}/`);
        await join(page, "ann");
        await bob.expect(/^JOIN ann /);
        const ten = (prefix: string) =>
          Array.from({ length: 10 }, (_, i) => `${prefix} ${i}`);
        const onPage = async (prefix: string) =>
          (await messages(page)).filter((t) => t.startsWith(`${prefix} `));
        const settled = async (prefix: string) => {
          await until(
            async () =>
              (await onPage(prefix)).length >= 10 &&
              await page.locator("li.pending").count() === 0,
            `every ${prefix} line echoed`,
          );
          assert.deepEqual(await onPage(prefix), ten(prefix));
          assert.equal(await page.locator("li.unsent").count(), 0);
        };
        // The socket cut while the lines go: the page resumes within the
        // grace and sends again what was not answered, under its ids.
        await sendAll(page, "cut", 10, true);
        await bob.expect(/^MSG ann cut 9$/, 15_000);
        assert.deepEqual(
          bob.received.filter((l) => /^MSG ann cut /.test(l)),
          ten("cut").map((t) => `MSG ann ${t}`),
          "bob got each line once, in order",
        );
        await settled("cut");
        // The server killed while the lines go, started again on its data:
        // its log keeps the ids of the lines it stored.
        await sendAll(page, "kill", 10, false);
        server.child.kill("SIGKILL");
        await server.exited();
        await page.getByRole("status").getByText(/Reconnecting/).waitFor();
        server = await startServer(
          dir,
          webPort,
          ...tight,
          "--port",
          String(server.port),
        );
        await page.getByRole("status").getByText("Connected as ann").waitFor({
          timeout: 20_000,
        });
        await settled("kill");
        // A member joining now gets the room's history: each line once.
        using cat = await TestClient.join(server.port, "cat", { ca });
        await cat.expect(/^HISTEND /);
        assert.deepEqual(
          cat.received.filter((l) => / MSG ann (cut|kill) /.test(l))
            .map((l) => l.replace(/^.* MSG ann /, "")),
          [...ten("cut"), ...ten("kill")],
          cat.received.join("\n"),
        );
      });
    } finally {
      await server[Symbol.asyncDispose]();
    }
  });
});

Deno.test("a message typed while the page reconnects waits greyed, leaves the box, and is sent once the page is back in its room; a command typed then stays in the box", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    let server = await startServer(dir, webPort);
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    try {
      await withBrowser(async (browser) => {
        const page = await openPage(browser, webPort);
        await join(page, "ann");
        await say(page, "before");
        await until(
          async () => (await messages(page)).includes("before"),
          "before echoed",
        );
        server.child.kill("SIGKILL");
        await server.exited();
        await page.getByRole("status").getByText(/Reconnecting/).waitFor();
        await say(page, "while away");
        assert.equal(
          await messageBox(page).inputValue(),
          "",
          "taken from the box",
        );
        await page.locator("li.pending", { hasText: "while away" }).waitFor();
        await say(page, "/topic later");
        assert.equal(await messageBox(page).inputValue(), "/topic later");
        server = await startServer(
          dir,
          webPort,
          "--port",
          String(server.port),
        );
        await page.getByRole("status").getByText("Connected as ann").waitFor({
          timeout: 20_000,
        });
        await until(
          async () =>
            (await messages(page)).includes("while away") &&
            await page.locator("li.pending").count() === 0,
          "the line typed while away echoed",
        );
        using cat = await TestClient.join(server.port, "cat", { ca });
        await cat.expect(/^HISTEND /);
        assert.deepEqual(
          cat.received.filter((l) => / MSG ann /.test(l))
            .map((l) => l.replace(/^.* MSG ann /, "")),
          ["before", "while away"],
          cat.received.join("\n"),
        );
      });
    } finally {
      await server[Symbol.asyncDispose]();
    }
  });
});

Deno.test("whispers waiting in the page's pacer when its socket drops are each told as not sent, with their text; none vanishes", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    // Tight limits: most whispers wait in the page's pacer when it drops.
    const tight = ["--flood-rate", "20", "--flood-burst", "5"];
    await using server = await startServer(dir, webPort, ...tight);
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    using bob = await TestClient.join(server.port, "bob", { ca });
    await withBrowser(async (browser) => {
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      page.on("pageerror", (error) => {
        throw new Error(`script error in the page: ${error.message}`);
      });
      await page.addInitScript(() => {
        const sockets: WebSocket[] = [];
        Object.assign(globalThis, { sockets });
        globalThis.WebSocket = class extends WebSocket {
          constructor(url: string | URL) {
            super(url);
            sockets.push(this);
          }
        };
      });
      await page.goto(`https://127.0.0.1:${webPort}/`);
      await join(page, "ann");
      await bob.expect(/^JOIN ann /);
      await sendAll(page, "/msg bob w", 10, true);
      await page.getByRole("status").getByText(/Reconnecting/).waitFor();
      await page.getByRole("status").getByText("Connected as ann").waitFor({
        timeout: 20_000,
      });
      // The old connection's lines were read before it ended.
      await say(page, "/msg bob after");
      await bob.expect(/^PRIV ann after$/);
      const told = await page.locator("li.unsent").allInnerTexts();
      const got = bob.received.filter((l) => /^PRIV ann w /.test(l))
        .map((l) => l.replace(/^PRIV ann /, ""));
      const sure = told.filter((t) => /! Not sent: \/msg bob w /.test(t))
        .map((t) => /w \d+/.exec(t)![0]);
      const perhaps = told.filter((t) =>
        /Perhaps not sent: \/msg bob w /.test(t)
      )
        .map((t) => /w \d+/.exec(t)![0]);
      assert.ok(
        sure.length > 0,
        `some waited in the pacer: ${told.join("\n")}`,
      );
      for (let i = 0; i < 10; i++) {
        const w = `w ${i}`;
        assert.ok(
          got.includes(w) || sure.includes(w) || perhaps.includes(w),
          `${w} vanished: bob got ${got}; the page told ${told.join("\n")}`,
        );
        assert.ok(
          !(got.includes(w) && sure.includes(w)),
          `${w} told not sent, but bob got it`,
        );
      }
    });
  });
});

/**
 * A page whose sockets can be held back, as a network would: with
 * `holdOut` set, what the page sends never leaves; with `dropEchoes`, the
 * server's answers about its lines (`@id=...`) never arrive; with
 * `noConnect`, a new socket goes nowhere (it closes at once). A reload
 * starts with none of them set.
 */
async function heldPage(browser: Browser, webPort: number): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.on("pageerror", (error) => {
    throw new Error(`script error in the page: ${error.message}`);
  });
  // Plain script: a subclass overriding addEventListener is no type here.
  await page.addInitScript({
    content: `(() => {
      const sockets = [];
      globalThis.sockets = sockets;
      globalThis.WebSocket = class extends WebSocket {
        constructor(url) {
          super(globalThis.noConnect ? "wss://127.0.0.1:1/ws" : url);
          sockets.push(this);
        }
        send(data) {
          if (!globalThis.holdOut) super.send(data);
        }
        addEventListener(type, listener) {
          super.addEventListener(type, (event) => {
            const echo = typeof event.data === "string" &&
              event.data.startsWith("@id=");
            if (type !== "message" || !(globalThis.dropEchoes && echo)) {
              listener(event);
            }
          });
        }
      };
    })()`,
  });
  await page.goto(`https://127.0.0.1:${webPort}/`);
  return page;
}

/** Sets one of {@linkcode heldPage}'s switches. */
function hold(page: Page, what: string, on: boolean): Promise<void> {
  return page.evaluate(
    ([key, value]) => {
      Object.assign(globalThis, { [key as string]: value });
    },
    [what, on] as const,
  );
}

Deno.test("a page reloaded with lines the server had not echoed sends them again under their ids: each appears once for everyone, after the reload, never twice", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using server = await startServer(dir, webPort);
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    using bob = await TestClient.join(server.port, "bob", { ca });
    await withBrowser(async (browser) => {
      const page = await heldPage(browser, webPort);
      await join(page, "gus");
      await bob.expect(/^JOIN gus /);
      // Stored, its echo lost: bob has it, the page shows it greyed.
      await hold(page, "dropEchoes", true);
      await say(page, "stored before the reload");
      await bob.expect(/^MSG gus stored before the reload$/);
      // Never left the page.
      await hold(page, "holdOut", true);
      await say(page, "typed before the reload");
      await page.locator("li.pending", { hasText: "typed before" }).waitFor();
      assert.equal(await page.locator("li.pending").count(), 2);
      await page.reload();
      await page.getByRole("status").getByText("Connected as gus").waitFor();
      await bob.expect(/^MSG gus typed before the reload$/);
      await until(
        async () =>
          (await messages(page)).includes("typed before the reload") &&
          await page.locator("li.pending").count() === 0,
        "both lines shown, none greyed",
      );
      await say(page, "after the reload");
      await bob.expect(/^MSG gus after the reload$/);
      await page.locator("li.message", { hasText: "after the reload" })
        .waitFor();
      const said = bob.received.filter((l) => /^MSG gus /.test(l));
      assert.deepEqual(said, [
        "MSG gus stored before the reload",
        "MSG gus typed before the reload",
        "MSG gus after the reload",
      ]);
      const shown = (await messages(page)).filter((t) =>
        / the reload$/.test(t)
      );
      assert.deepEqual(shown, [
        "stored before the reload",
        "typed before the reload",
        "after the reload",
      ]);
      assert.equal(await page.locator("li.unsent").count(), 0);
      // A member joining now gets each line once in the room's history.
      using cat = await TestClient.join(server.port, "cat", { ca });
      await cat.expect(/^HISTEND /);
      assert.deepEqual(
        cat.received.filter((l) => / MSG gus /.test(l))
          .map((l) => l.replace(/^.* MSG gus /, "")),
        [
          "stored before the reload",
          "typed before the reload",
          "after the reload",
        ],
      );
    });
  });
});

Deno.test("a whisper typed while the page reconnects waits greyed and is sent once when it is back; another command stays in the box, told", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using server = await startServer(dir, webPort);
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    using bob = await TestClient.join(server.port, "bob", { ca });
    await withBrowser(async (browser) => {
      const page = await heldPage(browser, webPort);
      await join(page, "ann");
      await bob.expect(/^JOIN ann /);
      await hold(page, "noConnect", true);
      await page.evaluate(`globalThis.sockets.at(-1).close()`);
      await page.getByRole("status").getByText(/Reconnecting/).waitFor();
      await say(page, "/msg bob psst");
      assert.equal(await messageBox(page).inputValue(), "", "it waits");
      await page.locator("li.pending", { hasText: "/msg bob psst" }).waitFor();
      await say(page, "/topic later");
      assert.equal(await messageBox(page).inputValue(), "/topic later");
      await page.locator("li.error-line", { hasText: "not connected" })
        .waitFor();
      await hold(page, "noConnect", false);
      await page.getByRole("status").getByText("Connected as ann").waitFor({
        timeout: 40_000,
      });
      await bob.expect(/^PRIV ann psst$/);
      await page.locator("li.private", { hasText: "psst" }).waitFor();
      await say(page, "/msg bob after");
      await bob.expect(/^PRIV ann after$/);
      assert.deepEqual(
        bob.received.filter((l) => /^PRIV ann /.test(l)),
        ["PRIV ann psst", "PRIV ann after"],
      );
      assert.equal(await page.locator("li.pending").count(), 0);
      assert.equal(await page.locator("li.unsent").count(), 0);
    });
  });
});

Deno.test("/quit typed while the page reconnects ends it: the line waiting told not sent, nothing kept for a reload", async () => {
  await withTempDir(async (dir) => {
    const webPort = freePort();
    await using server = await startServer(dir, webPort);
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    using bob = await TestClient.join(server.port, "bob", { ca });
    await withBrowser(async (browser) => {
      const page = await heldPage(browser, webPort);
      await join(page, "ann");
      await bob.expect(/^JOIN ann /);
      await hold(page, "noConnect", true);
      await page.evaluate(`globalThis.sockets.at(-1).close()`);
      await page.getByRole("status").getByText(/Reconnecting/).waitFor();
      await say(page, "typed away");
      await page.locator("li.pending", { hasText: "typed away" }).waitFor();
      await say(page, "/quit");
      await page.getByRole("status").getByText("Disconnected").waitFor();
      await page.locator("li.unsent", {
        hasText: "Not sent: typed away (disconnected)",
      }).waitFor();
      assert.equal(await messageBox(page).inputValue(), "");
      assert.equal(
        await page.evaluate(`sessionStorage.getItem("tlschat.session")`),
        null,
      );
      // Reloaded (its sockets no longer held back): the join form, anew.
      await page.reload();
      await page.locator("#alias:focus").waitFor();
      assert.equal(await page.locator("li.pending").count(), 0);
      assert.ok(!bob.received.some((l) => l.includes("typed away")));
    });
  });
});
