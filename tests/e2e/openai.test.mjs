// The official openai npm client against a running ternserve (started by run.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const base = process.env.TERNSERVE_URL ?? 'http://127.0.0.1:8080';
const apiKey = process.env.TERNSERVE_API_KEY ?? 'e2e-key';
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0 });
const model = 'tiny-gpt2-tq2_0';

async function gauge(name) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

test('models list', async () => {
  const page = await client.models.list();
  assert.ok(page.data.some((m) => m.id === model && m.object === 'model'));
  const one = await client.models.retrieve(model);
  assert.equal(one.id, model);
});

test('chat completion (non-streaming)', async () => {
  const r = await client.chat.completions.create({
    model,
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }],
    max_tokens: 8,
    temperature: 0,
  });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.completion_tokens <= 8);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('chat completion (streaming) equals the non-streaming text', async () => {
  const params = {
    model,
    messages: [{ role: 'user', content: 'Tell me a story' }],
    max_tokens: 12,
    temperature: 0,
    ignore_eos: true,
  };
  const stream = await client.chat.completions.create({
    ...params,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.delta?.content ?? '';
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.ok(chunks >= 3);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 12);
  const once = await client.chat.completions.create(params);
  assert.equal(once.choices[0].message.content, text);
});

test('legacy completions, several prompts, n and seeds', async () => {
  const r = await client.completions.create({
    model,
    prompt: ['In the beginning', 'And God said'],
    max_tokens: 6,
    n: 2,
    seed: 7,
    temperature: 0.8,
  });
  assert.equal(r.object, 'text_completion');
  assert.deepEqual(r.choices.map((c) => c.index).sort(), [0, 1, 2, 3]);
  const again = await client.completions.create({
    model,
    prompt: ['In the beginning', 'And God said'],
    max_tokens: 6,
    n: 2,
    seed: 7,
    temperature: 0.8,
  });
  const byIndex = (x) => Object.fromEntries(x.choices.map((c) => [c.index, c.text]));
  assert.deepEqual(byIndex(again), byIndex(r));
});

test('JSON mode returns an object JSON.parse reads', async () => {
  const r = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Describe a cat in JSON' }],
    max_tokens: 40,
    temperature: 0.8,
    seed: 5,
    response_format: { type: 'json_object' },
    logit_bias: { 92: 30 }, // "}": the random fixture model closes the object within the limit
  });
  assert.equal(r.choices[0].finish_reason, 'stop');
  const value = JSON.parse(r.choices[0].message.content);
  assert.equal(typeof value, 'object');
  assert.ok(value !== null && !Array.isArray(value));
});

test('Structured Outputs: the reply fits the json_schema', async () => {
  const schema = {
    type: 'object',
    properties: {
      name: { type: 'string' },
      mood: { enum: ['happy', 'sad'] },
      legs: { type: 'integer' },
      indoor: { type: 'boolean' },
    },
    required: ['name', 'mood', 'legs', 'indoor'],
    additionalProperties: false,
  };
  const r = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Describe a cat' }],
    max_tokens: 200,
    temperature: 0,
    response_format: { type: 'json_schema', json_schema: { name: 'cat', strict: true, schema } },
    // The fixture model is random: '"' ends the name string soon, and without "\n" whitespace
    // is at most one space between tokens, so the reply ends well within max_tokens on any ISA.
    logit_bias: { 1: 20, 198: -100 },
  });
  assert.equal(r.choices[0].finish_reason, 'stop', r.choices[0].message.content);
  const cat = JSON.parse(r.choices[0].message.content);
  assert.deepEqual(Object.keys(cat), ['name', 'mood', 'legs', 'indoor']);
  assert.equal(typeof cat.name, 'string');
  assert.ok(['happy', 'sad'].includes(cat.mood));
  assert.ok(Number.isInteger(cat.legs));
  assert.equal(typeof cat.indoor, 'boolean');

  await assert.rejects(
    client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'x' }],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 's', schema: { type: 'object', properties: { a: { type: 'string', pattern: '^a' } } } },
      },
    }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'response_format.json_schema.schema',
  );
});

test('function calling: a forced call reaches the SDK as tool_calls, streamed or not', async () => {
  const weather = {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: {
      type: 'object',
      properties: { unit: { enum: ['celsius', 'fahrenheit'] }, alerts: { type: 'boolean' } },
      required: ['unit', 'alerts'],
      additionalProperties: false,
    },
  };
  const request = {
    model,
    messages: [{ role: 'user', content: 'Weather?' }],
    max_tokens: 60,
    temperature: 0,
    tools: [{ type: 'function', function: weather }],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    logit_bias: { 198: -100 }, // no "\n": the random model's whitespace stays short
  };
  const r = await client.chat.completions.create(request);
  const choice = r.choices[0];
  assert.equal(choice.finish_reason, 'stop'); // what OpenAI answers to a named call
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.tool_calls.length, 1);
  const [call] = choice.message.tool_calls;
  assert.equal(call.type, 'function');
  assert.match(call.id, /^call_/);
  assert.equal(call.function.name, 'get_weather');
  const args = JSON.parse(call.function.arguments);
  assert.deepEqual(Object.keys(args), ['unit', 'alerts']);
  assert.ok(['celsius', 'fahrenheit'].includes(args.unit));
  assert.equal(typeof args.alerts, 'boolean');

  // The SDK's stream helper assembles the streamed deltas into the same call.
  const final = await client.chat.completions.stream(request).finalChatCompletion();
  const streamed = final.choices[0].message.tool_calls[0];
  assert.equal(streamed.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(streamed.function.arguments), args);

  // The SDK's tool runner calls our function with the parsed arguments and sends back its result.
  let called;
  const runner = client.chat.completions.runTools({
    ...request,
    tools: [{ type: 'function', function: { ...weather, parse: JSON.parse, function: (a) => { called = a; return '18C'; } } }],
  });
  await runner.done();
  assert.deepEqual(called, args);
  assert.equal(runner.messages.at(-1).role, 'tool');
});

test('an aborted stream frees its sequence', async () => {
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Go on forever' }],
    max_tokens: 400,
    ignore_eos: true,
    stream: true,
  });
  let n = 0;
  for await (const _chunk of stream) {
    if (++n === 3) break; // leaving the loop aborts the HTTP request
  }
  let used;
  let running;
  for (let i = 0; i < 100; i++) {
    used = await gauge('ternserve_kv_blocks_used');
    running = await gauge('ternserve_running_sequences');
    if (used === 0 && running === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(running, 0);
  assert.equal(used, 0);
});

test('invalid requests surface as BadRequestError', async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages: [], max_tokens: 4 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'messages',
  );
  await assert.rejects(
    client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'x' }],
      temperature: 3,
    }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'temperature',
  );
  await assert.rejects(
    client.completions.create({ model, prompt: ' hello'.repeat(600), max_tokens: 4 }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded',
  );
});

test('a wrong API key surfaces as AuthenticationError', async () => {
  const wrong = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(
    wrong.models.list(),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key',
  );
});

test('unknown routes are 404 NotFoundError', async () => {
  await assert.rejects(
    client.get('/nothing-here'),
    (e) => e instanceof OpenAI.NotFoundError,
  );
});
