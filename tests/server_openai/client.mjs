// Drives a running `qiusuo serve` with the official `openai` npm client (what real applications
// use): non-streaming and streaming chat, usage (with DeepSeek's cache fields), stop strings,
// reasoning_content, the models list and error mapping.
// Usage: node tests/server_openai/client.mjs BASE_URL API_KEY   (e.g. http://127.0.0.1:8080/v1 sk-x)
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
if (!baseURL) {
  console.error("usage: node client.mjs BASE_URL [API_KEY]");
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey: apiKey || "none", maxRetries: 0, timeout: 30000 });

function check(cond, what) {
  if (!cond) {
    console.error("FAIL: " + what);
    process.exit(1);
  }
  console.log("pass: " + what);
}

const messages = [{ role: "user", content: "Hello! Please introduce yourself." }];
const base = { model: "tiny", messages, max_tokens: 12, temperature: 0, ignore_eos: true };

// Models.
const models = await client.models.list();
check(models.data.length === 1 && typeof models.data[0].id === "string", "models.list returns the served model");

// Non-streaming.
const r = await client.chat.completions.create(base);
check(r.object === "chat.completion", "chat.completion object");
check(typeof r.choices[0].message.content === "string", "message.content is a string");
check(r.choices[0].finish_reason === "length", "finish_reason length at max_tokens");
const u = r.usage;
check(u.completion_tokens === 12 && u.total_tokens === u.prompt_tokens + u.completion_tokens, "usage totals");
check(u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens === u.prompt_tokens, "DeepSeek cache hit/miss fields");
check(u.prompt_tokens_details.cached_tokens === u.prompt_cache_hit_tokens, "prompt_tokens_details.cached_tokens");

// Streaming with usage.
const stream = await client.chat.completions.create({ ...base, stream: true, stream_options: { include_usage: true } });
let text = "", finish = null, usage = null, chunks = 0;
for await (const chunk of stream) {
  chunks++;
  if (chunk.usage) usage = chunk.usage;
  const c = chunk.choices[0];
  if (!c) continue;
  if (c.delta && c.delta.content) text += c.delta.content;
  if (c.finish_reason) finish = c.finish_reason;
}
check(chunks > 3, "stream delivered chunks");
check(text === r.choices[0].message.content, "streamed text equals the non-streamed text (greedy)");
check(finish === "length", "stream finish_reason");
check(usage && usage.completion_tokens === 12, "stream_options.include_usage gives a usage chunk");

// Stop strings.
const full = r.choices[0].message.content;
const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 3);
if (stop.length === 3) {
  const s = await client.chat.completions.create({ ...base, stop: [stop] });
  check(s.choices[0].message.content === full.slice(0, full.indexOf(stop)), "stop string cuts the answer");
  check(s.choices[0].finish_reason === "stop", "finish_reason stop on a stop string");
}

// Reasoning: an assistant prefix that opens <think> (DeepSeek chat-prefix completion) puts the
// continuation into reasoning_content (random weights never close the block).
const think = await client.chat.completions.create({
  ...base,
  messages: [...messages, { role: "assistant", content: "<think>\n", prefix: true }],
});
const m = think.choices[0].message;
check(typeof m.reasoning_content === "string" && m.reasoning_content.length > 0, "reasoning_content is filled");
check(m.content === "", "content stays empty while reasoning");
const tstream = await client.chat.completions.create({
  ...base,
  stream: true,
  messages: [...messages, { role: "assistant", content: "<think>\n", prefix: true }],
});
let reasoning = "";
for await (const chunk of tstream) {
  const c = chunk.choices[0];
  if (c && c.delta && c.delta.reasoning_content) reasoning += c.delta.reasoning_content;
}
check(reasoning === m.reasoning_content, "streamed reasoning_content deltas");

// Errors map to the client's exception classes.
try {
  await client.chat.completions.create({ ...base, logprobs: true, top_logprobs: 50 });
  check(false, "top_logprobs 50 must fail");
} catch (e) {
  check(e instanceof OpenAI.BadRequestError && e.status === 400, "400 -> BadRequestError");
}
try {
  await client.chat.completions.create({ ...base, stream: true, n: 2 });
  check(false, "n = 2 must fail");
} catch (e) {
  check(e.status === 400, "400 for n = 2 on a stream request");
}
const wrong = new OpenAI({ baseURL, apiKey: "definitely-wrong", maxRetries: 0 });
try {
  await wrong.chat.completions.create(base);
  if (apiKey) check(false, "a wrong key must fail");
} catch (e) {
  check(e instanceof OpenAI.AuthenticationError && e.status === 401, "401 -> AuthenticationError");
}

console.log("ok: all checks passed");
