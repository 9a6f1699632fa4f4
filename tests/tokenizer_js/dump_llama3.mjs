// Dumps Llama 3's vocabulary, merges and reference encodings from the npm package
// llama3-tokenizer-js (installed in tests/e2e by `npm ci`) to one JSON file, for
// tests/unit/tokenizer/llama3_test.cpp, which builds a vocab-only GGUF from it.
//
//   node dump_llama3.mjs OUT.json [EXTRA_CASES.inp ...]
//
// EXTRA_CASES files use llama.cpp's test format (cases separated by the line
// "__ggml_vocab_test__"); their cases are encoded too.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const e2eDir = join(here, '..', 'e2e');
let tokenizer;
try {
  const require = createRequire(join(e2eDir, 'package.json'));
  const entry = require.resolve('llama3-tokenizer-js');
  tokenizer = (await import(pathToFileURL(entry).href)).default;
} catch (err) {
  console.error(`cannot load llama3-tokenizer-js from ${e2eDir} (run npm ci there): ${err.message}`);
  process.exit(2);
}

const [outPath, ...inpPaths] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: node dump_llama3.mjs OUT.json [CASES.inp ...]');
  process.exit(2);
}

// llama.cpp's split: text between separators, the newline before each separator dropped.
function readCases(path) {
  const raw = readFileSync(path, 'utf8');
  const sep = '\n__ggml_vocab_test__\n';
  const cases = [];
  let pos = 0;
  while (pos < raw.length) {
    const next = raw.indexOf(sep, pos);
    if (next < 0) {
      cases.push(raw.slice(pos));
      break;
    }
    cases.push(raw.slice(pos, next));
    pos = next + sep.length;
  }
  return cases;
}

// --- varied strings ------------------------------------------------------------------------
const handWritten = [
  '', ' ', 'a', 'Hello world', ' Hello world', 'Hello World!', 'hello\nworld', 'hello\r\nworld',
  // contractions in every case, with and without spaces around
  ...["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].flatMap((c) => [
    `it${c}`, `IT${c.toUpperCase()}`, `It${c[0]}${c.slice(1, 2).toUpperCase()}${c.slice(2)}`,
    ` ${c}`, `${c} end`, `x ${c.toUpperCase()}x`, `don${c}${c}`,
  ]),
  "I'M here", "we'Re", "They'LL go", "you'VE", "she'D", "it'S", "can'T", "O'Neil's", "rock 'n' roll",
  "''''", "' s", "'S'T'RE", "l'amour", "’s curly apostrophe", 'quote "inside" text',
  // digits
  '1', '12', '123', '1234', '12345', '123456', '1234567', '12345678901234567890',
  '1,234,567.89', '3.14159265358979', 'v1.2.3-rc4', '0x1F2E3D', '2024-06-01T12:34:56Z',
  'a1b22c333d4444', '  42  ', '-17', '+1e-10', '１２３４５', '٣٤٥٦', '१२३', 'Ⅻ and ½ and ²³',
  // whitespace
  '\t', '\t\t', ' \t ', '\n', '\n\n', '\n\n\n', '\r\n\r\n', ' \n', '\n ', '  \n  ', 'a  b', 'a   b',
  'a\t\tb', 'a \t\n b', 'trailing   ', '   leading', 'x\u00a0y', 'x\u3000y', 'x\u2003\u2003y',
  'line1\n\n\tindented\n    spaces\n', 'a\n\n\n\nb', ' \r\n \r\n',
  // scripts
  'Привет, мир! Как дела?', 'Γειά σου Κόσμε', 'مرحبا بالعالم', 'שלום עולם', 'नमस्ते दुनिया',
  'こんにちは世界', '你好，世界！', '안녕하세요 세계', 'สวัสดีชาวโลก', 'გამარჯობა', 'Բարեւ աշխարհ',
  'வணக்கம் உலகம்', 'ሰላም ልዑል', 'Xin chào thế giới', 'Zażółć gęślą jaźń', 'Ærøskøbing', 'straße',
  'ﬁnancial ligature', 'e\u0301 combining', 'Ǆemal', 'ℌ𝔢𝔩𝔩𝔬 math letters', '𝟙𝟚𝟛 math digits',
  // emoji
  '🙂', '🙂🙂🙂', '👍🏽', '👨‍👩‍👧‍👦 family', '🏳️‍🌈', '🇫🇷🇩🇪', '✅ done', '❤️', 'I ♥ NY',
  '🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅', '☃︎ vs ☃️',
  // code
  'int main(int argc, char** argv) {\n  return 0;\n}\n',
  'def f(x):\n    if x > 0:\n        return x ** 2\n    return -x\n',
  'const re = /^[a-z]+$/gi; // regex\n',
  '{"key": [1, 2.5, null, true], "s": "x\\ny"}', '<div class="a">&nbsp;</div>',
  'for (auto& [k, v] : map) std::cout << k << "=" << v << \'\\n\';',
  'SELECT * FROM t WHERE a >= 10 AND b <> \'x\';', '$ ls -la | grep "^d" && echo $?',
  '#include <vector>\n#define MAX(a,b) ((a)>(b)?(a):(b))', '    \tmixed\t    indent',
  'x+=1;y-=2;z*=3;w/=4;', '!!!!!!', '...', '???!!!', '----====____', '#### Heading', '`code`',
  'https://example.com/path?q=1&r=2#frag', 'user@example.com', '@mention #hashtag',
  // special-looking text (encoded as ordinary text here)
  '<|eot_id|>', 'a<|begin_of_text|>b', '<|start_header_id|>user<|end_header_id|>',
  '<|reserved_special_token_5|>', '<s></s>', '<|endoftext|>',
];

// Deterministic pseudo-random mixtures of fragments.
function mulberry32(seed) {
  return function () {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const fragments = [
  ' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', ' \n', 'the', 'The', 'THE', ' quick', 'brown', 'fox',
  "'s", "'LL", "'re", "'T", "'d", "'", '"', '0', '7', '42', '1234', '99999', '3.5', ',', '.', '!', '?',
  '...', '()', '[]', '{}', '<', '>', '=>', '->', '::', '//', '/*', '*/', '#', '$', '%', '^', '&', '*',
  '_', '-', '+', '=', '|', '\\', '~', '`', '@', 'é', 'ñ', 'ü', 'ß', 'ø', 'Привет', 'мир', 'Ωmega',
  'λ', '日本語', '中文', '한국어', 'عربى', 'עברית', 'हिन्दी', 'ไทย', '🙂', '👍🏽', '🇯🇵', '✅', '♥',
  '\u00a0', '\u3000', '½', '²', '٣', 'a', 'b', 'x', 'Z', 'foo_bar', 'camelCase', 'snake_case',
  'http', '://', 'www', '.com', 'int', 'return', 'def', 'null', 'true', 'false',
];
const random = mulberry32(20240601);
const generated = [];
for (let i = 0; i < 300; i++) {
  const n = 1 + Math.floor(random() * 12);
  let s = '';
  for (let k = 0; k < n; k++) s += fragments[Math.floor(random() * fragments.length)];
  generated.push(s);
}
// A longer passage mixing everything.
generated.push(Array.from({ length: 200 }, (_, i) => fragments[(i * 37) % fragments.length]).join(''));

const texts = [...handWritten, ...generated];
const extraCases = inpPaths.map((p) => ({ path: p, texts: readCases(p) }));

// Ordinary text: special-token text is not recognised (a regex that never matches).
const encode = (text) =>
  tokenizer.encode(text, { bos: false, eos: false, specialTokenRegex: /(?!)/g });
// Template text: the package's own special-token regex. Only tokens whose ids are the
// same in Llama 3 and 3.1 (the package uses 3.1's names for 128002-128255).
const encodeSpecial = (text) => tokenizer.encode(text, { bos: false, eos: false });
const specialTexts = [
  '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.' +
    '<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|>' +
    '<|start_header_id|>assistant<|end_header_id|>\n\n',
  'Hello<|end_of_text|>',
  'a<|eot_id|>b <|eot_id|> c',
  '<|eot_id|><|eot_id|>',
  '<|reserved_special_token_0|>x',
  '<|eot_id',
  '<|start_header_id|> spaced <|end_header_id|>',
];
const vocab = tokenizer.vocabById.slice(0, 128000);
const merges = [...tokenizer.merges.entries()].sort((a, b) => a[1] - b[1]).map(([k]) => k);

const out = {
  source: 'llama3-tokenizer-js',
  n_base_tokens: vocab.length,
  vocab,
  merges,
  cases: texts.map((text) => ({ text, ids: encode(text) })),
  special_cases: specialTexts.map((text) => ({ text, ids: encodeSpecial(text) })),
  files: extraCases.map(({ path, texts: t }) => ({
    path,
    cases: t.map((text) => ({ text, ids: encode(text) })),
  })),
};
writeFileSync(outPath, JSON.stringify(out));
console.log(`wrote ${outPath}: ${vocab.length} tokens, ${merges.length} merges, ` +
  `${out.cases.length} cases, ${extraCases.length} case files`);
