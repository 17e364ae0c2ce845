// Drives the chat page that `qiusuo serve` serves at "/" in headless Chromium (playwright-core with
// Debian's chromium): the page loads with no console errors and no request leaving the server's
// origin (no CDN), a message streams an answer into the conversation, the request carries the
// settings (temperature, max tokens), Stop ends a long generation (the UI goes idle and the server
// frees the slot), and reasoning_content shows in a collapsible thinking section.
//
// Usage: node tests/web_ui/page_test.mjs URL [REASONING_URL]
//   URL            a server whose chat template answers in content (the synthetic model's own)
//   REASONING_URL  a server whose template opens <think> (--chat-template-file deepseek-r1.jinja),
//                  so every answer streams as reasoning_content; without it that part is skipped
// Starts no server itself. Exit 0 when every check passes; 1 with "FAIL: ..." otherwise (and a
// screenshot in the temp directory). CHROMIUM_PATH overrides /usr/bin/chromium.
import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [url, reasoningUrl] = process.argv.slice(2);
if (!url) {
  console.error("usage: node tests/web_ui/page_test.mjs URL [REASONING_URL]");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
if (!fs.existsSync(executablePath)) {
  console.error(`FAIL: no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`);
  process.exit(1);
}

const okShot = path.join(os.tmpdir(), "qiusuo-web-ui.png");
const failShot = path.join(os.tmpdir(), `qiusuo-web-ui-failure-${process.pid}.png`);
let browser = null;
let page = null;  // the page a failure screenshot is taken of

class CheckFailed extends Error {}
function check(cond, what) {
  if (!cond) throw new CheckFailed(what);
  console.log("pass: " + what);
}

async function fail(msg) {
  console.error("FAIL: " + msg);
  if (page) {
    try {
      await page.screenshot({ path: failShot, fullPage: true, timeout: 5000 });
      console.error("screenshot: " + failShot);
    } catch (e) {}
  }
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}

// The whole run is bounded (the GoogleTest wrapper also runs it under `timeout`).
const watchdog = setTimeout(() => fail("timed out after 50 s"), 50000);

// A page on `base` that records console errors, page errors, requests outside the server's origin
// and the chat request bodies.
async function openPage(base) {
  const origin = new URL(base).origin;
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const rec = { errors: [], foreign: [], chats: [] };
  // Every request must go to the server: anything else is recorded and refused (so a CDN link
  // fails the test even if the machine has no network).
  await context.route("**/*", (route) => {
    const u = route.request().url();
    if (new URL(u).origin !== origin) {
      rec.foreign.push(u);
      return route.abort();
    }
    return route.continue();
  });
  const p = await context.newPage();
  p.on("console", (m) => {
    if (m.type() === "error") rec.errors.push(m.text());
  });
  p.on("pageerror", (e) => rec.errors.push("uncaught: " + e.message));
  p.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname === "/v1/chat/completions") rec.chats.push(JSON.parse(r.postData()));
  });
  page = p;
  const res = await p.goto(base, { waitUntil: "load" });
  check(res && res.status() === 200, `GET / answers 200 (${base})`);
  check((res.headers()["content-type"] || "").startsWith("text/html"), "the page is served as text/html");
  // The server's CSP blocks other origins too (such a load shows up as a console error).
  check((res.headers()["content-security-policy"] || "").includes("default-src 'self'"), "the page's CSP confines it to its origin");
  await p.waitForFunction(() => document.getElementById("model").textContent.startsWith("model: "), null, { timeout: 10000 });
  check(true, "the page shows the served model (GET /v1/models from the page)");
  return { p, rec };
}

// Fills a settings input (so the page reads the new value when it sends).
async function setField(p, id, value) {
  await p.fill("#" + id, String(value));
}

const idle = (p) => p.waitForFunction(() => !document.getElementById("send").disabled && document.getElementById("stop").disabled, null, { timeout: 30000 });

// Sends `text` with Enter and returns the new assistant bubble's handle; records how the bubble's
// text grows (to tell a streamed answer from one that appears at once).
async function sendMessage(p, text) {
  const before = await p.locator(".msg.assistant").count();
  await p.evaluate(() => {
    window.__lengths = [];
    const log = document.getElementById("log");
    new MutationObserver(() => {
      const all = log.querySelectorAll(".msg.assistant");
      const last = all[all.length - 1];
      if (last) window.__lengths.push(last.textContent.length);
    }).observe(log, { childList: true, subtree: true, characterData: true });
  });
  await p.fill("#input", text);
  await p.press("#input", "Enter");
  await p.waitForFunction((n) => document.querySelectorAll(".msg.assistant").length === n + 1, before, { timeout: 5000 });
  return p.locator(".msg.assistant").nth(before);
}

// An assistant bubble's answer text: its one child div without a class (role, stats and err have one).
const bodyOf = (bubble) => bubble.locator(":scope > div:not([class])");

async function metricsOf(base) {
  const r = await fetch(new URL("/metrics", base));
  return await r.text();
}
function metric(text, name) {
  for (const line of text.split("\n")) if (line.startsWith(name + " ") || line.startsWith(name + "{")) return Number(line.split(" ").pop());
  return NaN;
}
async function waitFor(cond, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return await cond();
}

async function contentPart(base) {
  const { p, rec } = await openPage(base);
  check(rec.foreign.length === 0, "no request leaves the server's origin after load");

  // A message with chosen settings streams an answer into the conversation.
  await setField(p, "temperature", 0);
  await setField(p, "max_tokens", 24);
  const a = await sendMessage(p, "Hello from the browser test");
  check((await p.locator(".msg.user").last().textContent()).includes("Hello from the browser test"), "the user message is in the conversation");
  await idle(p);
  const body = bodyOf(a);
  const answer = await body.textContent();
  check(answer.length > 0, `a streamed answer appears (${JSON.stringify(answer.slice(0, 40))}...)`);
  const lengths = await p.evaluate(() => window.__lengths);
  check(new Set(lengths).size >= 3, `the answer grew as it streamed (${new Set(lengths).size} distinct lengths)`);
  check(!(await a.locator("details.think").isVisible()), "no thinking section without reasoning_content");
  const stats = await a.locator(".stats").textContent();
  const gen = /(\d+) generated/.exec(stats);
  check(gen && Number(gen[1]) >= 1 && Number(gen[1]) <= 24, `usage is shown and respects max tokens (${stats})`);
  check(rec.chats.length === 1, "one chat request");
  const req = rec.chats[0];
  check(req.stream === true && req.temperature === 0 && req.max_tokens === 24, "the request streams and carries temperature 0 and max_tokens 24");
  check(req.messages.length === 1 && req.messages[0].role === "user", "the first request carries the user message");

  // Changed settings are used by the next request (which also carries the conversation so far).
  await setField(p, "temperature", 1.3);
  await setField(p, "max_tokens", 7);
  await setField(p, "system", "You are a test.");
  const b = await sendMessage(p, "Second message");
  await idle(p);
  const req2 = rec.chats[1];
  check(req2 && req2.temperature === 1.3 && req2.max_tokens === 7, "changed temperature and max tokens are sent");
  check(req2.messages.length === 4 && req2.messages[0].role === "system" && req2.messages[2].role === "assistant" && req2.messages[2].content === answer,
        "the system prompt and the history are sent");
  const gen2 = /(\d+) generated/.exec(await b.locator(".stats").textContent());
  check(gen2 && Number(gen2[1]) <= 7, "the server honoured the new max tokens");

  // Stop during a long generation: the stream ends, the UI goes idle, the server frees the slot.
  const m0 = await metricsOf(base);
  await setField(p, "max_tokens", 900);
  const c = await sendMessage(p, "Tell me a very long story");
  await p.waitForFunction(() => !document.getElementById("stop").disabled, null, { timeout: 5000 });
  const cbody = bodyOf(c);
  await p.waitForFunction((el) => el.textContent.length > 10, await cbody.elementHandle(), { timeout: 20000 });
  check(await p.isDisabled("#send"), "Send is disabled while generating");
  await p.click("#stop");
  await p.waitForFunction(() => !document.getElementById("send").disabled && document.getElementById("stop").disabled, null, { timeout: 5000 });
  check(true, "Stop makes the UI idle again");
  check((await c.locator(".stats").textContent()).includes("(stopped)"), "the answer is marked as stopped");
  const len = (await cbody.textContent()).length;
  await p.waitForTimeout(500);
  check((await cbody.textContent()).length === len, "no more text arrives after Stop");
  check(await waitFor(async () => metric(await metricsOf(base), "qiusuo_requests_running") === 0, 5000), "the server ends the request (no request running)");
  const m1 = await metricsOf(base);
  check(metric(m1, "qiusuo_generation_tokens_total") - metric(m0, "qiusuo_generation_tokens_total") < 900, "the generation stopped well before max tokens");
  // And the page still works afterwards.
  await setField(p, "max_tokens", 5);
  const d = await sendMessage(p, "After stop");
  await idle(p);
  check((await bodyOf(d).textContent()).length > 0, "a message after Stop is answered");
  await p.screenshot({ path: okShot, fullPage: true });
  console.log("screenshot: " + okShot);

  check(rec.foreign.length === 0, "no request left the server's origin: " + rec.foreign.join(", "));
  check(rec.errors.length === 0, "no console errors: " + rec.errors.join(" | "));
}

async function reasoningPart(base) {
  const { p, rec } = await openPage(base);
  await setField(p, "temperature", 0);
  await setField(p, "max_tokens", 40);
  const a = await sendMessage(p, "Think about this");
  const think = a.locator("details.think");
  // While it streams, the thinking section is shown and open.
  await p.waitForFunction((el) => el.textContent.length > 10, await think.elementHandle(), { timeout: 20000 });
  check(await think.isVisible(), "reasoning_content shows in a thinking section");
  await idle(p);
  const thinkText = think.locator(":scope > div");
  check((await thinkText.textContent()).length > 0 && (await think.evaluate((el) => el.open)), "the thinking section holds the reasoning and is open");
  check(/thought for [\d.]+ s/.test(await think.locator("summary").textContent()), "the summary says how long it thought");
  await think.locator("summary").click();
  check(!(await think.evaluate((el) => el.open)) && !(await thinkText.isVisible()), "clicking the summary collapses the thinking");
  await think.locator("summary").click();
  check((await think.evaluate((el) => el.open)) && (await thinkText.isVisible()), "clicking it again expands it");
  const req = rec.chats[0];
  check(req && req.max_tokens === 40 && req.temperature === 0, "the reasoning request carries the settings");

  // Stop while it thinks: the UI goes idle and the summary no longer says "thinking…".
  await setField(p, "max_tokens", 900);
  const b = await sendMessage(p, "Think for a long time");
  const bthink = b.locator("details.think");
  await p.waitForFunction((el) => el.textContent.length > 10, await bthink.elementHandle(), { timeout: 20000 });
  check((await bthink.locator("summary").textContent()) === "thinking…" && (await bthink.evaluate((el) => el.open)),
        "while it streams the thinking section is open and says thinking…");
  await p.click("#stop");
  await p.waitForFunction(() => !document.getElementById("send").disabled && document.getElementById("stop").disabled, null, { timeout: 5000 });
  check(/thought for [\d.]+ s/.test(await bthink.locator("summary").textContent()), "Stop while thinking ends the thinking summary");
  check((await b.locator(".stats").textContent()).includes("(stopped)"), "the stopped answer is marked as stopped");
  check(await waitFor(async () => metric(await metricsOf(base), "qiusuo_requests_running") === 0, 5000), "the server ends the stopped request");
  await p.screenshot({ path: path.join(os.tmpdir(), "qiusuo-web-ui-reasoning.png"), fullPage: true });
  check(rec.foreign.length === 0, "no request left the server's origin: " + rec.foreign.join(", "));
  check(rec.errors.length === 0, "no console errors: " + rec.errors.join(" | "));
}

try {
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--headless=new", "--disable-dev-shm-usage"], timeout: 30000 });
  await contentPart(url);
  if (reasoningUrl) await reasoningPart(reasoningUrl);
  else console.log("skip: no REASONING_URL, the thinking section is not checked");
  await browser.close();
  clearTimeout(watchdog);
  console.log("ok: all checks passed");
  process.exit(0);
} catch (e) {
  await fail(e instanceof CheckFailed ? e.message : e.stack || String(e));
}
