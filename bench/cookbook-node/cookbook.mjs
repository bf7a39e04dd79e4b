// The OpenAI Cookbook's "Data preparation and analysis for chat model fine-tuning" notebook, ported line for line
// to Node with the official tiktoken binding: the baseline of docs/benchmarks.md. Like the notebook it loads the
// whole file, runs the format checks, counts tokens per example (3 per message, every value, 1 per name, 3 for
// the reply) plus assistant tokens, prints distributions, and estimates epochs and billed tokens.
//   node cookbook.mjs FILE [encoding]   (the notebook uses cl100k_base; gpt-4o-era models use o200k_base)
import { readFileSync } from "node:fs";
import { get_encoding } from "tiktoken";

const [file, encodingName = "o200k_base"] = process.argv.slice(2);
const started = performance.now();
const dataset = readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
console.log("Num examples:", dataset.length);

const formatErrors = {};
const bump = (k) => (formatErrors[k] = (formatErrors[k] ?? 0) + 1);
for (const ex of dataset) {
  if (typeof ex !== "object" || ex === null || Array.isArray(ex)) { bump("data_type"); continue; }
  const messages = ex.messages;
  if (!messages) { bump("missing_messages_list"); continue; }
  for (const message of messages) {
    if (!("role" in message) || !("content" in message)) bump("message_missing_key");
    if (Object.keys(message).some((k) => !["role", "content", "name", "function_call", "weight"].includes(k))) bump("message_unrecognized_key");
    if (!["system", "user", "assistant", "function"].includes(message.role)) bump("unrecognized_role");
    const content = message.content, functionCall = message.function_call;
    if ((!content && !functionCall) || typeof content !== "string") bump("missing_content");
  }
  if (!messages.some((m) => m.role === "assistant")) bump("example_missing_assistant_message");
}
console.log(Object.keys(formatErrors).length ? ["Found errors:", formatErrors] : "No errors found");

const encoding = get_encoding(encodingName);
const numTokensFromMessages = (messages, tokensPerMessage = 3, tokensPerName = 1) => {
  let n = 0;
  for (const message of messages) {
    n += tokensPerMessage;
    for (const [key, value] of Object.entries(message)) {
      n += encoding.encode(value).length;
      if (key === "name") n += tokensPerName;
    }
  }
  return n + 3;
};
const numAssistantTokensFromMessages = (messages) =>
  messages.filter((m) => m.role === "assistant").reduce((n, m) => n + encoding.encode(m.content).length, 0);

const quantile = (sorted, q) => {
  const h = (sorted.length - 1) * q, lo = Math.floor(h), hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
};
const printDistribution = (values, name) => {
  const s = [...values].sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  console.log(`\n#### Distribution of ${name}:`);
  console.log(`min / max: ${s[0]}, ${s[s.length - 1]}`);
  console.log(`mean / median: ${mean}, ${quantile(s, 0.5)}`);
  console.log(`p5 / p95: ${quantile(s, 0.1)}, ${quantile(s, 0.9)}`);
};

let nMissingSystem = 0, nMissingUser = 0;
const nMessages = [], convoLens = [], assistantMessageLens = [];
for (const ex of dataset) {
  const messages = ex.messages;
  if (!messages.some((m) => m.role === "system")) nMissingSystem++;
  if (!messages.some((m) => m.role === "user")) nMissingUser++;
  nMessages.push(messages.length);
  convoLens.push(numTokensFromMessages(messages));
  assistantMessageLens.push(numAssistantTokensFromMessages(messages));
}
console.log("Num examples missing system message:", nMissingSystem);
console.log("Num examples missing user message:", nMissingUser);
printDistribution(nMessages, "num_messages_per_example");
printDistribution(convoLens, "num_total_tokens_per_example");
printDistribution(assistantMessageLens, "num_assistant_tokens_per_example");
const MAX_TOKENS_PER_EXAMPLE = 65536;
const nTooLong = convoLens.filter((l) => l > MAX_TOKENS_PER_EXAMPLE).length;
console.log(`\n${nTooLong} examples may be over the ${MAX_TOKENS_PER_EXAMPLE} token limit, they will be truncated during fine-tuning`);

const TARGET_EPOCHS = 3, MIN_TARGET_EXAMPLES = 100, MAX_TARGET_EXAMPLES = 25000, MIN_DEFAULT_EPOCHS = 1, MAX_DEFAULT_EPOCHS = 25;
let nEpochs = TARGET_EPOCHS;
const nTrain = dataset.length;
if (nTrain * TARGET_EPOCHS < MIN_TARGET_EXAMPLES) nEpochs = Math.min(MAX_DEFAULT_EPOCHS, Math.floor(MIN_TARGET_EXAMPLES / nTrain));
else if (nTrain * TARGET_EPOCHS > MAX_TARGET_EXAMPLES) nEpochs = Math.max(MIN_DEFAULT_EPOCHS, Math.floor(MAX_TARGET_EXAMPLES / nTrain));
const nBillingTokens = convoLens.reduce((n, l) => n + Math.min(MAX_TOKENS_PER_EXAMPLE, l), 0);
console.log(`Dataset has ~${nBillingTokens} tokens that will be charged for during training`);
console.log(`By default, you'll train for ${nEpochs} epochs on this dataset`);
console.log(`By default, you'll be charged for ~${nEpochs * nBillingTokens} tokens`);
console.log(`elapsed_ms: ${Math.round(performance.now() - started)}`);
encoding.free();
