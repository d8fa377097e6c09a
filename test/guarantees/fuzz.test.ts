/**
 * A bounded fuzz run of every file ckbuild reads (test/guarantees/fuzzing.ts), in `npm test`.
 * FUZZ_SEED replays a run; the long run is `npm run fuzz`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fuzz } from './fuzzing.js';

test('fuzzed experiment, cruijff, local config, manifest, manifest index, stamp, saved plan, status/run.json/claim documents end in a plan or positioned diagnostics, never a crash', { timeout: 120_000 }, async () => {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
  console.log(`fuzz seed ${seed} (replay: FUZZ_SEED=${seed} node --test dist/test/guarantees/fuzz.test.js)`);
  const counts = await fuzz(Number(process.env.FUZZ_TEST_RUNS ?? 60), seed, (line) => console.log(line));
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(`fuzz cases: ${total} ${JSON.stringify(counts)}`);
  assert.ok(total > 200, `enough cases ran: ${JSON.stringify(counts)}`);
});
