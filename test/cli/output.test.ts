/** `--json` with a long list is written as it is serialised: the same bytes as JSON.stringify, to a pipe. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../helpers/paths.js';

test('outJsonWithList writes what JSON.stringify would, from the text of each item, in pieces, for thousands of items', () => {
  const output = join(projectRoot, 'dist', 'cli', 'output.js');
  // Items past the 1 MB write size, members JSON.stringify leaves out (undefined), null for an
  // undefined item, text outside Latin-1 and outside the BMP, one item larger than a write, and
  // the list in the middle of the object.
  const script = `
    const { outJsonWithList } = await import(${JSON.stringify(output)});
    const items = Array.from({ length: 20000 }, (_, i) => (i === 7 ? undefined : i === 9 ? { big: 'é😀'.repeat(200000) } : { id: 'run/' + i, note: i % 2 ? 'ünïcode → ok' : null, params: { lr: i / 3, tags: ['a', 'b'] } }));
    const value = { file: 'x.yaml', skipped: undefined, runs: [], after: { n: 1 } };
    if (process.argv.includes('--whole')) process.stdout.write(JSON.stringify({ ...value, runs: items }) + '\\n');
    else outJsonWithList(value, 'runs', items.map((item) => JSON.stringify(item) ?? 'null'));
  `;
  const run = (...args: string[]) => spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const streamed = run();
  const whole = run('--whole');
  assert.equal(streamed.status, 0, streamed.stderr);
  assert.ok(streamed.stdout.length > 1 << 20, 'more than one write');
  assert.equal(streamed.stdout, whole.stdout);
});
