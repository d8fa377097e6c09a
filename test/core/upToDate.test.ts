/** The no-op fast path may only say "nothing to do" when nothing it depends on moved. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkUpToDateStamp, writeUpToDateStamp } from '../../core/upToDate.js';

function project(): { dir: string; experiment: string; input: string; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ck-stamp-'));
  mkdirSync(join(dir, '.git'));
  mkdirSync(join(dir, 'experiments'));
  const experiment = join(dir, 'experiments', 'e.yaml');
  const input = join(dir, 'data.json');
  const output = join(dir, 'runs', 'k-name', 'outputs', 'model.bin');
  writeFileSync(experiment, 'version: "1.0"\n');
  writeFileSync(input, '{"a":1}');
  mkdirSync(join(dir, 'runs', 'k-name', 'outputs'), { recursive: true });
  writeFileSync(output, 'weights');
  const past = new Date(Date.now() - 60_000);
  for (const file of [experiment, input]) utimesSync(file, past, past);
  return { dir, experiment, input, output };
}

test('a stamp holds while nothing moves, and falls for an edit, a deleted output or a new local config', () => {
  const p = project();
  writeUpToDateStamp(p.experiment, [p.experiment, p.input, join(p.dir, 'ckbuild.local.yaml')], [p.output], 7);
  assert.equal(checkUpToDateStamp(p.experiment), 7);

  writeFileSync(p.input, '{"a":2}');
  assert.equal(checkUpToDateStamp(p.experiment), undefined, 'an input changed');

  writeUpToDateStamp(p.experiment, [p.experiment, p.input, join(p.dir, 'ckbuild.local.yaml')], [p.output], 7);
  rmSync(p.output);
  assert.equal(checkUpToDateStamp(p.experiment), undefined, 'an output is gone');

  writeFileSync(p.output, 'weights');
  writeUpToDateStamp(p.experiment, [p.experiment, p.input, join(p.dir, 'ckbuild.local.yaml')], [p.output], 7);
  writeFileSync(join(p.dir, 'ckbuild.local.yaml'), 'runs_root: elsewhere\n');
  assert.equal(checkUpToDateStamp(p.experiment), undefined, 'a local config appeared');
});

test('a racy file (modified just before the stamp) is vouched for by its content, not its mtime', () => {
  const p = project();
  // An mtime of whole seconds, within the racy second of the stamp, that can be put back exactly.
  const now = Math.ceil(Date.now() / 1000);
  utimesSync(p.input, now, now);
  writeUpToDateStamp(p.experiment, [p.experiment, p.input], [p.output], 1);
  assert.equal(checkUpToDateStamp(p.experiment), 1, 'unchanged content: still up to date');
  writeFileSync(p.input, '{"a":9}'); // same size, and the mtime put back: only the content tells
  utimesSync(p.input, now, now);
  assert.equal(statSync(p.input).mtimeMs, now * 1000);
  assert.equal(checkUpToDateStamp(p.experiment), undefined);
});
