// Counts the first letters of the training words; keeps letters seen at least MIN_COUNT times.
import { readFileSync } from 'node:fs';

const [file, minCount = '1'] = process.argv.slice(2);
const { train } = JSON.parse(readFileSync(file, 'utf8'));
const counts = {};
for (const { input } of train) counts[input[0]] = (counts[input[0]] ?? 0) + 1;
const kept = Object.fromEntries(Object.entries(counts).filter(([, n]) => n >= Number(minCount)).sort(([a], [b]) => a.localeCompare(b)));
process.stdout.write(JSON.stringify({ words: train.length, min_count: Number(minCount), first_letters: kept }, null, 2) + '\n');
