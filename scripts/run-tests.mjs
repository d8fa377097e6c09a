#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner.
// Node 20's `--test` takes explicit files; this finds them so `npm test` needs no glob support.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  const files = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files.push(...find(path));
    else if (entry.endsWith('.test.js')) files.push(path);
  }
  return files;
}

const filter = process.argv[2];
const files = find('dist/test').filter((file) => !filter || file.includes(filter)).sort();
if (files.length === 0) {
  console.error('no test files found under dist/test (did tsc run?)');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
