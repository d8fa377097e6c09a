#!/usr/bin/env node
// Capitalization dataset generator (dependency-free, Node >= 20, ESM).
//
//   node generate.mjs --word-len L --num-words N --seed S --out FILE
//                     [--train-fraction 0.8] [--words path/to/words.txt]
//
// Picks N distinct words of exactly L letters from the word list (default:
// words.txt next to this script), deterministically from the seed, and writes
//   {"train":[...],"validation":[...],"test":[...]}
// where each record is {"input": "word", "output": "Word"}.
//
// Reproducibility: candidates are de-duplicated and sorted (code-unit order)
// before sampling, and sampling uses a self-contained PRNG (mulberry32) driving
// a partial Fisher-Yates shuffle with unbiased (rejection-sampled) indices.
// Same arguments + same word list => byte-identical output on any machine.
//
// Split by index into the sample (same formula as the earlier Python tool):
//   train      [0, floor(N*f))
//   validation [floor(N*f), floor(N*(f + (1-f)/2)))
//   test       [floor(N*(f + (1-f)/2)), N)
// N=1000, f=0.8 -> 800/100/100.
//
// Exit codes: 0 ok, 2 bad arguments / not enough words, 1 I/O error.

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const USAGE =
  "usage: node generate.mjs --word-len L --num-words N --seed S --out FILE " +
  "[--train-fraction 0.8] [--words path/to/words.txt]";

class UsageError extends Error {} // bad arguments: exit 2, usage shown
class DataError extends Error {} // not enough words / unreadable list: exit 2

function parseArgs(argv) {
  const known = new Set(["word-len", "num-words", "seed", "out", "train-fraction", "words"]);
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h" || arg === "--help") {
      process.stdout.write(USAGE + "\n");
      process.exit(0);
    }
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument: ${arg}`);
    let key = arg.slice(2);
    let value;
    const eq = key.indexOf("=");
    if (eq >= 0) {
      value = key.slice(eq + 1);
      key = key.slice(0, eq);
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`missing value for --${key}`);
      value = argv[++i];
    }
    if (!known.has(key)) throw new UsageError(`unknown option: --${key}`);
    if (key in opts) throw new UsageError(`--${key} given more than once`);
    opts[key] = value;
  }
  for (const req of ["word-len", "num-words", "seed", "out"]) {
    if (!(req in opts)) throw new UsageError(`missing required option --${req}`);
  }

  const intArg = (name, min, max) => {
    const s = opts[name];
    if (!/^\d+$/.test(s)) throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(s)}`);
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got ${s}`);
    }
    return n;
  };

  let f = 0.8;
  if (opts["train-fraction"] !== undefined) {
    const s = opts["train-fraction"];
    f = /^(\d+(\.\d*)?|\.\d+)$/.test(s) ? Number(s) : NaN;
    if (!(f >= 0 && f <= 1)) throw new UsageError(`--train-fraction must be a number in [0, 1], got ${JSON.stringify(s)}`);
  }
  if (opts.out === "") throw new UsageError("--out must not be empty");

  const scriptDir = dirname(fileURLToPath(import.meta.url));
  return {
    wordLen: intArg("word-len", 1, 1000),
    numWords: intArg("num-words", 1, 10_000_000),
    seed: intArg("seed", 0, 0xffffffff),
    trainFraction: f,
    out: resolve(opts.out),
    words: resolve(opts.words ?? join(scriptDir, "words.txt")),
  };
}

// mulberry32: tiny 32-bit PRNG; returns uint32 values. Pure integer
// arithmetic, so identical on every platform.
function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

// Unbiased integer in [0, n) for 1 <= n <= 2^32, by rejection sampling.
function randBelow(next, n) {
  const limit = 0x100000000 - (0x100000000 % n); // largest multiple of n <= 2^32
  let x;
  do x = next(); while (x >= limit);
  return x % n;
}

// First k elements of a seeded Fisher-Yates shuffle of `items` (not mutated).
function sample(items, k, seed) {
  const a = items.slice();
  const next = mulberry32(seed);
  for (let i = 0; i < k; i++) {
    const j = i + randBelow(next, a.length - i);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, k);
}

function loadCandidates(path, wordLen) {
  let text;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new DataError(`cannot read word list ${path}: ${err.message}`);
  }
  const set = new Set();
  for (const line of text.split("\n")) {
    const w = line.trim().toLowerCase();
    if (w.length === wordLen && /^[a-z]+$/.test(w)) set.add(w);
  }
  // Plain code-unit sort: locale-independent.
  return [...set].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

function writeAtomic(path, content) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, content);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const candidates = loadCandidates(args.words, args.wordLen);
  if (candidates.length < args.numWords) {
    throw new DataError(
      `not enough unique ${args.wordLen}-letter words in ${args.words}: ` +
        `need ${args.numWords}, found ${candidates.length}`,
    );
  }

  const picked = sample(candidates, args.numWords, args.seed);
  const records = picked.map((w) => ({ input: w, output: w[0].toUpperCase() + w.slice(1) }));

  const n = args.numWords;
  const f = args.trainFraction;
  const trainEnd = Math.floor(n * f);
  const valEnd = Math.floor(n * (f + (1 - f) / 2));
  const data = {
    train: records.slice(0, trainEnd),
    validation: records.slice(trainEnd, valEnd),
    test: records.slice(valEnd),
  };

  const content = JSON.stringify(data, null, 2) + "\n";
  writeAtomic(args.out, content);
  const sha = createHash("sha256").update(content).digest("hex");
  process.stdout.write(
    `wrote ${args.out}: train=${data.train.length} validation=${data.validation.length} ` +
      `test=${data.test.length} (word_len=${args.wordLen} seed=${args.seed} ` +
      `candidates=${candidates.length}) sha256=${sha}\n`,
  );
}

try {
  main();
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`generate.mjs: error: ${err.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (err instanceof DataError) {
    process.stderr.write(`generate.mjs: error: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`generate.mjs: error: ${err.message}\n`);
  process.exit(1);
}
