#!/usr/bin/env node
// Load generator for a running ternserve, after vLLM's serving benchmark: N concurrent
// streaming chat clients (plain fetch + SSE parsing, no dependencies). Bounded by a request
// count and a time limit per level; loopback servers only. Reports per concurrency level:
// requests/s, generated and total (prompt + generated) tokens/s, the speed-up of generated
// tokens/s over the first level, time to first token, time per output token (after the first)
// and inter-token latency, mean / p50 / p99.
//
// By default every request sends the same short prompt (its chat-template head and first
// block come from the prefix cache); --input-words N gives each request its own prompt of N
// random words instead, as vLLM's random dataset does (new ones every run and level, so the
// prefix cache cannot serve them; --input-seed S repeats a run's prompts).
//
//   node scripts/loadgen.mjs --url http://127.0.0.1:8080 --concurrency 1,4,8,16 \
//        --requests 32 --max-tokens 64 [--input-words 200] [--top-p 0.9] [--duration 60] \
//        [--api-key K] [--json] [--help]
import { parseArgs } from 'node:util';

const options = {
  url: { type: 'string', default: 'http://127.0.0.1:8080' },
  concurrency: { type: 'string', default: '1,4,8,16' },
  requests: { type: 'string', default: '32' },      // per level
  duration: { type: 'string', default: '120' },     // seconds, per level
  'max-tokens': { type: 'string', default: '64' },
  'top-p': { type: 'string', default: '' },          // sent only when given
  prompt: { type: 'string', default: 'Write a long story about a lighthouse keeper.' },
  'input-words': { type: 'string', default: '0' },  // > 0: a distinct random prompt per request
  'input-seed': { type: 'string', default: '' },    // the prompts' seed (default: new each run)
  'api-key': { type: 'string', default: process.env.TERNSERVE_API_KEY ?? '' },
  model: { type: 'string', default: '' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};
let args;
try {
  ({ values: args } = parseArgs({ options }));
} catch (e) {
  console.error(`loadgen: ${e.message} (--help lists the options)`);
  process.exit(2);
}
if (args.help) {
  // The usage is the header comment above.
  const { readFileSync } = await import('node:fs');
  const lines = readFileSync(new URL(import.meta.url), 'utf8').split('\n');
  const end = lines.findIndex((l, i) => i > 0 && !l.startsWith('//'));
  const header = lines.slice(1, end);
  console.log(header.map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}

const base = new URL(args.url);
if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(base.hostname)) {
  console.error(`loadgen: refusing non-loopback host ${base.hostname}`);
  process.exit(2);
}
const levels = args.concurrency.split(',').map(Number).filter((n) => n > 0);
const maxRequests = Number(args.requests);
const durationMs = Number(args.duration) * 1000;
const maxTokens = Number(args['max-tokens']);
const inputWords = Number(args['input-words']);
// Prompts differ across levels and runs (unless --input-seed repeats a run), so none is served
// from the prefix cache of an earlier one.
const inputSeed = args['input-seed'] ? Number(args['input-seed']) : Date.now() % 1000000007;
let promptsIssued = 0;
const headers = { 'Content-Type': 'application/json' };
if (args['api-key']) headers.Authorization = `Bearer ${args['api-key']}`;

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const kWords = ('the of and to in is was that for on with as by at from his her they this had not ' +
  'are but were one all which she there been their has when who will more no if out so said what ' +
  'up its about into than them can only other new some could time these two may then do first any ' +
  'my now such like our over man me even most made after also did many before must through back ' +
  'years where much your way well down should because each just those people how too little state ' +
  'good very make world still own see men work long get here between both life being under never ' +
  'day same another know while last might us great old year off come since against go came right ' +
  'used take three lighthouse keeper storm harbor ship sea light night wind stone tower island').split(' ');

// A prompt of inputWords words, different for every call (xorshift from inputSeed).
function randomPrompt() {
  const n = promptsIssued++;
  let x = ((inputSeed + n * 2654435761) >>> 0) || 1;
  const words = [];
  for (let i = 0; i < inputWords; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    words.push(kWords[x % kWords.length]);
  }
  return `${inputSeed}.${n}: ${words.join(' ')}`;
}

// One streaming request; returns {ok, ttftMs, itlMs[], tokens, promptTokens, e2eMs}.
async function oneRequest(seed) {
  const body = {
    model: args.model || undefined,
    messages: [{ role: 'user', content: inputWords > 0 ? randomPrompt() : args.prompt }],
    max_tokens: maxTokens,
    temperature: 0.8,
    top_p: args['top-p'] ? Number(args['top-p']) : undefined,
    seed,
    ignore_eos: true, // fixed-length outputs make runs comparable
    stream: true,
    stream_options: { include_usage: true },
  };
  const start = performance.now();
  const res = await fetch(new URL('/v1/chat/completions', base), {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  if (res.status !== 200) {
    await res.text();
    return { ok: false, status: res.status };
  }
  const decoder = new TextDecoder();
  let buffer = '';
  let ttftMs = null;
  let last = null;
  const itlMs = [];
  let tokens = 0;
  let promptTokens = 0;
  let pieces = 0;
  for await (const bytes of res.body) {
    buffer += decoder.decode(bytes, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith('data: ')) continue;
      const data = event.slice(6);
      if (data === '[DONE]') continue;
      const chunk = JSON.parse(data);
      if (chunk.usage) {
        tokens = chunk.usage.completion_tokens;
        promptTokens = chunk.usage.prompt_tokens;
      }
      const content = chunk.choices?.[0]?.delta?.content;
      if (content) {
        const now = performance.now();
        if (ttftMs === null) ttftMs = now - start;
        else itlMs.push(now - last);
        last = now;
        pieces++;
      }
    }
  }
  return { ok: true, ttftMs, itlMs, tokens: tokens || pieces, promptTokens, e2eMs: performance.now() - start };
}

async function runLevel(concurrency) {
  const deadline = performance.now() + durationMs;
  let issued = 0;
  const results = [];
  const start = performance.now();
  async function worker() {
    while (issued < maxRequests && performance.now() < deadline) {
      const seed = issued++;
      try {
        results.push(await oneRequest(seed));
      } catch (e) {
        results.push({ ok: false, error: String(e) });
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  const ok = results.filter((r) => r.ok);
  const ttft = ok.map((r) => r.ttftMs).filter((x) => x !== null).sort((a, b) => a - b);
  const itl = ok.flatMap((r) => r.itlMs).sort((a, b) => a - b);
  // Time per output token after the first, per request (vLLM's TPOT).
  const tpot = ok.filter((r) => r.ttftMs !== null && r.tokens > 1)
    .map((r) => (r.e2eMs - r.ttftMs) / (r.tokens - 1)).sort((a, b) => a - b);
  const tokens = ok.reduce((s, r) => s + r.tokens, 0);
  const promptTokens = ok.reduce((s, r) => s + r.promptTokens, 0);
  const mean = (xs) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
  return {
    concurrency,
    requests: results.length,
    errors: results.length - ok.length,
    seconds: +seconds.toFixed(2),
    requests_per_s: +(ok.length / seconds).toFixed(3),
    prompt_tokens: promptTokens,
    generated_tokens_per_s: +(tokens / seconds).toFixed(1),
    total_tokens_per_s: +((tokens + promptTokens) / seconds).toFixed(1),
    ttft_ms_mean: +mean(ttft).toFixed(1),
    ttft_ms_p50: +percentile(ttft, 50).toFixed(1),
    ttft_ms_p99: +percentile(ttft, 99).toFixed(1),
    tpot_ms_mean: +mean(tpot).toFixed(2),
    tpot_ms_p50: +percentile(tpot, 50).toFixed(2),
    tpot_ms_p99: +percentile(tpot, 99).toFixed(2),
    itl_ms_mean: +mean(itl).toFixed(2),
    itl_ms_p50: +percentile(itl, 50).toFixed(2),
    itl_ms_p99: +percentile(itl, 99).toFixed(2),
  };
}

const health = await fetch(new URL('/health', base)).catch(() => null);
if (!health || health.status !== 200) {
  console.error(`loadgen: ${base.origin}/health is not 200`);
  process.exit(1);
}
const rows = [];
for (const c of levels) {
  const row = await runLevel(c);
  row.speedup = rows.length ? +(row.generated_tokens_per_s / rows[0].generated_tokens_per_s).toFixed(2) : 1;
  rows.push(row);
  if (!args.json) {
    console.log(
      `c=${String(c).padStart(3)}  req=${row.requests} err=${row.errors}  ${row.requests_per_s} req/s  ` +
        `${row.generated_tokens_per_s} tok/s (x${row.speedup})  total ${row.total_tokens_per_s} tok/s  ` +
        `TTFT mean ${row.ttft_ms_mean} p50 ${row.ttft_ms_p50} p99 ${row.ttft_ms_p99} ms  ` +
        `TPOT mean ${row.tpot_ms_mean} p50 ${row.tpot_ms_p50} p99 ${row.tpot_ms_p99} ms  ` +
        `ITL p50 ${row.itl_ms_p50} p99 ${row.itl_ms_p99} ms`,
    );
  }
}
if (args.json) {
  console.log(JSON.stringify({ max_tokens: maxTokens, input_words: inputWords, levels: rows }, null, 2));
}
