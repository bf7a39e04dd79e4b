// Writes the golden token-count fixtures: a varied set of chat examples and, for each, the token counts that the
// official tiktoken gives under the OpenAI Cookbook's convention (3 per message, every string value, 1 per name,
// 3 for the reply), for o200k_base and cl100k_base. Run once; the output is committed:
//   node golden-examples.mjs ../../tests/StrawberryPhi.Core.Tests/Fixtures
import { get_encoding } from "tiktoken";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const outDir = process.argv[2] ?? ".";
let seed = 20261123;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = (xs) => xs[Math.floor(random() * xs.length)];

const pieces = [
  "Hello, world!", "What's 17 × 23?", "don't", "I'LL", "they've", "It's", "naïve café", "Straße", "東京は日本の首都です。",
  "Привет, как дела?", "مرحبا بالعالم", "😀🍓🎉", "👩‍💻", "e\u0301", "  leading spaces", "trailing spaces   ",
  "tabs\tand\ttabs", "line\nbreak", "crlf\r\nline", "\n\n\n", "12345678901234567890", "3.14159", "-42", "1,000,000",
  "https://example.com/a?b=c&d=e", "user@example.com", "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; i++) { sum += i; }",
  "{\"key\": [1, 2, 3]}", "<thinking>", "</thinking>", "<reflection>", "</reflection>", "<output>", "</output>",
  "<|endoftext|>", "ＡＢＣ", "ﬁ", "x²+y²=z²", "αβγδε", "—", "…", "«quoted»", "C:\\path\\to\\file", "    ", "a", "",
  "\u{20000}abc", "abc\u{1D400}\u{1D401}c", "it'\u017F ok", "IT'S", "abc \n ", "x\n  ", "\n \n", "a\r\n\r\n  b", "ǅungla ʰx", "x/\n/y",
  "12345 ½Ⅻ", "a\u0301\u0301b", " \u0301x", "\u3000\u3000x", "tab\t\n", "\u00A0\u00A0x", "l'été", "DON'T", "you'RE",
  "antidisestablishmentarianism", "Supercalifragilisticexpialidocious", "ALLCAPSWORDS", "camelCaseWords", "snake_case_words",
];

const text = (n) => Array.from({ length: n }, () => pick(pieces)).join(pick([" ", "", "\n", ". ", ", "]));
const examples = [];
// Hand-picked shapes first: every key the convention touches.
examples.push({ messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello!" }] });
examples.push({ messages: [{ role: "system", content: "You are terse." }, { role: "user", content: "2+2?", name: "alice" }, { role: "assistant", content: "4" }] });
examples.push({ messages: [{ role: "system", content: "" }, { role: "user", content: " " }, { role: "assistant", content: "\n" }] });
examples.push({ messages: [{ role: "user", content: "<|endoftext|> is a special token written as text" }, { role: "assistant", content: "<thinking>It is text.</thinking><output>Yes.</output>" }] });
examples.push({ messages: [{ role: "user", content: "Weigh this", name: "bob_2" }, { role: "assistant", content: "Ignored", weight: 0 }, { role: "user", content: "Again" }, { role: "assistant", content: "Trained", weight: 1 }] });
for (let i = 0; i < 300; i++) {
  const messages = [];
  if (random() < 0.6) messages.push({ role: "system", content: text(1 + Math.floor(random() * 4)) });
  const turns = 1 + Math.floor(random() * 3);
  for (let t = 0; t < turns; t++) {
    const user = { role: "user", content: text(1 + Math.floor(random() * 12)) };
    if (random() < 0.1) user.name = pick(["alice", "bob", "carol_3", "d-e"]);
    messages.push(user);
    messages.push({ role: "assistant", content: text(1 + Math.floor(random() * 20)) });
  }
  examples.push({ messages });
}

const encodings = ["o200k_base", "cl100k_base"].map((name) => [name, get_encoding(name)]);
const golden = examples.map((example) => {
  const counts = {};
  for (const [name, enc] of encodings) {
    let total = 0, assistant = 0;
    for (const message of example.messages) {
      total += 3;
      for (const [key, value] of Object.entries(message)) {
        if (typeof value !== "string") continue;
        total += enc.encode_ordinary(value).length;
        if (key === "name") total += 1;
      }
      if (message.role === "assistant") assistant += enc.encode_ordinary(message.content).length;
    }
    total += 3;
    counts[name] = { total, assistant };
  }
  return counts;
});
const strings = [...new Set(pieces.concat(examples.flatMap((e) => e.messages.map((m) => m.content))))].slice(0, 400);
const stringCounts = strings.map((s) => ({ text: s, o200k_base: encodings[0][1].encode_ordinary(s).length, cl100k_base: encodings[1][1].encode_ordinary(s).length }));
for (const [, enc] of encodings) enc.free();

writeFileSync(join(outDir, "golden-examples.jsonl"), examples.map((e) => JSON.stringify(e)).join("\n") + "\n");
writeFileSync(join(outDir, "golden-tokens.json"), JSON.stringify({ generator: "bench/cookbook-node/golden-examples.mjs", tiktoken: "1.0.22", examples: golden, strings: stringCounts }, null, 1) + "\n");
console.log(`wrote ${examples.length} examples and ${stringCounts.length} strings`);
