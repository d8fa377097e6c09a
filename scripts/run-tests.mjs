#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner.
// Node 20's `--test` takes explicit files; this finds them so `npm test` needs no glob support.
//
// The tests make their projects, repositories and checkpoints with mkdtemp under the system's
// temporary folder; they run here with TMPDIR set to one folder of this run's, removed when every
// test passed and kept (its path printed) when one failed. Before, each run left ~1,500 folders
// and ~600 MB in /tmp.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
const scratch = mkdtempSync(join(tmpdir(), 'ckbuild-tests-'));
const env = { ...process.env, TMPDIR: scratch, TMP: scratch, TEMP: scratch };
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
if (result.status === 0) rmSync(scratch, { recursive: true, force: true });
else console.error(`test files kept in ${scratch}`);
process.exit(result.status ?? 1);
