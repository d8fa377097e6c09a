// Renders the letter counts as a small markdown table, most frequent first.
import { readFileSync } from 'node:fs';

const { words, min_count: minCount, first_letters: letters } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const rows = Object.entries(letters).sort(([, a], [, b]) => b - a);
const lines = [`# First letters of ${words} five-letter words`, '', `Letters seen at least ${minCount} times.`, '', '| letter | words |', '|---|---|'];
for (const [letter, count] of rows) lines.push(`| ${letter} | ${count} |`);
process.stdout.write(lines.join('\n') + '\n');
