/**
 * `npm run fuzz`: the long fuzz run of every file ckbuild reads (see fuzzing.ts).
 * FUZZ_RUNS cases per kind of file (default 2000), FUZZ_SEED to replay a run.
 */
import { fuzz } from './fuzzing.js';

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const runs = Number(process.env.FUZZ_RUNS ?? 2000);
console.log(`fuzz seed ${seed}, ${runs} cases per kind of file (replay: FUZZ_SEED=${seed} FUZZ_RUNS=${runs} npm run fuzz)`);
try {
  const counts = await fuzz(runs, seed, (line) => console.log(line));
  console.log(`fuzz cases: ${Object.values(counts).reduce((a, b) => a + b, 0)} ${JSON.stringify(counts)}: no crash`);
} catch (error) {
  console.error(String((error as Error).message ?? error));
  process.exit(1);
}
