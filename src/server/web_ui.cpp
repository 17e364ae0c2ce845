#include "server/web_ui.h"

namespace qs::server {

namespace {

const char* const kPage = R"QSHTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qiusuo chat</title>
<style>
  :root { --bg:#f7f7f8; --fg:#1d1d1f; --muted:#6b7280; --acc:#2563eb; --card:#fff; --bd:#e5e7eb; }
  @media (prefers-color-scheme: dark) { :root { --bg:#111318; --fg:#e5e7eb; --muted:#9ca3af; --acc:#60a5fa; --card:#1b1e25; --bd:#2d323c; } }
  * { box-sizing: border-box; }
  body { margin:0; font:15px/1.5 system-ui, sans-serif; background:var(--bg); color:var(--fg); display:flex; height:100vh; }
  aside { width:270px; padding:14px; border-right:1px solid var(--bd); overflow:auto; }
  aside h1 { font-size:18px; margin:0 0 10px; }
  aside label { display:block; font-size:12px; color:var(--muted); margin-top:10px; }
  aside input, aside textarea { width:100%; padding:6px; border:1px solid var(--bd); border-radius:6px; background:var(--card); color:var(--fg); font:inherit; }
  main { flex:1; display:flex; flex-direction:column; min-width:0; }
  #log { flex:1; overflow:auto; padding:18px; }
  .msg { max-width:820px; margin:0 auto 14px; padding:10px 14px; border-radius:10px; background:var(--card); border:1px solid var(--bd); white-space:pre-wrap; word-wrap:break-word; }
  .user { border-left:3px solid var(--acc); }
  .role { font-size:12px; color:var(--muted); margin-bottom:4px; }
  details.think { color:var(--muted); margin-bottom:6px; }
  details.think summary { cursor:pointer; font-size:13px; }
  .err { color:#dc2626; }
  .stats { font-size:12px; color:var(--muted); margin-top:6px; }
  form { display:flex; gap:8px; padding:12px 18px; border-top:1px solid var(--bd); max-width:860px; width:100%; margin:0 auto; }
  form textarea { flex:1; resize:vertical; min-height:44px; padding:8px; border-radius:8px; border:1px solid var(--bd); background:var(--card); color:var(--fg); font:inherit; }
  button { padding:8px 14px; border-radius:8px; border:0; background:var(--acc); color:#fff; font:inherit; cursor:pointer; }
  button.secondary { background:var(--muted); }
  button:disabled { opacity:.5; cursor:default; }
</style>
</head>
<body>
<aside>
  <h1>qiusuo</h1>
  <div id="model" class="stats">connecting…</div>
  <label>System prompt<textarea id="system" rows="4"></textarea></label>
  <label>Temperature <input id="temperature" type="number" min="0" max="2" step="0.1" value="0.6"></label>
  <label>Top-p <input id="top_p" type="number" min="0" max="1" step="0.05" value="0.95"></label>
  <label>Max tokens <input id="max_tokens" type="number" min="1" step="1" value="1024"></label>
  <label>API key (if the server needs one) <input id="key" type="password" autocomplete="off"></label>
  <p><button class="secondary" id="clear" type="button">New chat</button></p>
</aside>
<main>
  <div id="log"></div>
  <form id="form">
    <textarea id="input" placeholder="Message (Enter to send, Shift+Enter for a new line)"></textarea>
    <button id="send" type="submit">Send</button>
    <button id="stop" type="button" class="secondary" disabled>Stop</button>
  </form>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const log = $("log");
let history = [];
let controller = null;

function headers() {
  const h = { "Content-Type": "application/json" };
  const k = $("key").value.trim();
  if (k) h["Authorization"] = "Bearer " + k;
  return h;
}

function bubble(role) {
  const d = document.createElement("div");
  d.className = "msg " + role;
  const r = document.createElement("div");
  r.className = "role";
  r.textContent = role;
  d.appendChild(r);
  log.appendChild(d);
  return d;
}

function addUser(text) {
  const d = bubble("user");
  d.appendChild(document.createTextNode(text));
}

async function loadModel() {
  try {
    const r = await fetch("/v1/models", { headers: headers() });
    const j = await r.json();
    $("model").textContent = j.data && j.data.length ? "model: " + j.data[0].id : (j.error ? j.error.message : "no model");
  } catch (e) { $("model").textContent = "server unreachable"; }
}

async function send(text) {
  addUser(text);
  history.push({ role: "user", content: text });
  const d = bubble("assistant");
  const think = document.createElement("details");
  think.className = "think";
  think.innerHTML = "<summary>thinking…</summary>";
  const thinkText = document.createElement("div");
  think.appendChild(thinkText);
  const body = document.createElement("div");
  const stats = document.createElement("div");
  stats.className = "stats";
  d.appendChild(think); d.appendChild(body); d.appendChild(stats);
  think.style.display = "none";

  const msgs = [];
  const sys = $("system").value.trim();
  if (sys) msgs.push({ role: "system", content: sys });
  msgs.push(...history);
  const req = {
    messages: msgs, stream: true, stream_options: { include_usage: true },
    temperature: Number($("temperature").value), top_p: Number($("top_p").value),
    max_tokens: Number($("max_tokens").value),
  };
  controller = new AbortController();
  $("send").disabled = true; $("stop").disabled = false;
  let content = "", reasoning = "", t0 = performance.now(), tFirst = 0, tAnswer = 0, n = 0;
  try {
    const r = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(req), signal: controller.signal });
    if (!r.ok) {
      let msg = r.status + " " + r.statusText;
      try { const j = await r.json(); if (j.error) msg = j.error.message; } catch (e) {}
      throw new Error(msg);
    }
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const ev = buf.slice(0, i); buf = buf.slice(i + 2);
        for (const line of ev.split("\n")) {
          if (!line.startsWith("data:")) continue;  // comments (": ping") and other fields
          const data = line.slice(5).trim();
          if (data === "[DONE]") continue;
          const j = JSON.parse(data);
          if (j.error) throw new Error(j.error.message);
          if (j.usage) stats.textContent = j.usage.prompt_tokens + " prompt tokens (" + j.usage.prompt_cache_hit_tokens +
              " cached), " + j.usage.completion_tokens + " generated";
          const c = j.choices && j.choices[0];
          if (!c || !c.delta) continue;
          if (!tFirst && (c.delta.content || c.delta.reasoning_content)) tFirst = performance.now();
          if (c.delta.reasoning_content) {
            reasoning += c.delta.reasoning_content; thinkText.textContent = reasoning;
            think.style.display = ""; if (!content) think.open = true; n++;
          }
          if (c.delta.content) {
            if (!tAnswer) tAnswer = performance.now();
            content += c.delta.content; body.textContent = content; think.open = false; n++;
          }
          if (c.delta.tool_calls) body.textContent += "\n[tool calls] " + JSON.stringify(c.delta.tool_calls);
          log.scrollTop = log.scrollHeight;
        }
      }
    }
  } catch (e) {
    if (e.name === "AbortError") { stats.textContent += " (stopped)"; }
    else { const x = document.createElement("div"); x.className = "err"; x.textContent = "error: " + e.message; d.appendChild(x); }
  } finally {
    // Also when stopped or failed mid-thought (the summary must not keep saying "thinking…").
    if (reasoning) think.querySelector("summary").textContent = "thought for " + (((tAnswer || performance.now()) - tFirst) / 1000).toFixed(1) + " s";
    const secs = (performance.now() - t0) / 1000;
    if (n) stats.textContent += (stats.textContent ? " · " : "") + secs.toFixed(1) + " s";
    history.push({ role: "assistant", content: content });
    controller = null;
    $("send").disabled = false; $("stop").disabled = true;
  }
}

$("form").addEventListener("submit", (e) => {
  e.preventDefault();
  const t = $("input").value.trim();
  if (!t || controller) return;
  $("input").value = "";
  send(t);
});
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("form").requestSubmit(); }
});
$("stop").addEventListener("click", () => { if (controller) controller.abort(); });
$("clear").addEventListener("click", () => { if (controller) controller.abort(); history = []; log.innerHTML = ""; });
loadModel();
</script>
</body>
</html>
)QSHTML";

}  // namespace

const std::string& web_ui_html() {
  static const std::string page(kPage);
  return page;
}

}  // namespace qs::server
