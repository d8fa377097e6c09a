/** The no-op fast path may only say "nothing to do" when nothing it depends on moved. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { checkUpToDateStamp, dataHash, writeUpToDateStamp } from '../../core/upToDate.js';

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

test('a stamp holds while nothing moves, and falls for an edit, a deleted output or a new local config', async () => {
  const p = project();
  writeUpToDateStamp(p.experiment, [p.experiment, p.input, join(p.dir, 'ckbuild.local.yaml')], [p.output], 7);
  assert.equal(await checkUpToDateStamp(p.experiment), 7);

  writeFileSync(p.input, '{"a":2}');
  assert.equal(await checkUpToDateStamp(p.experiment), undefined, 'an input changed');

  writeUpToDateStamp(p.experiment, [p.experiment, p.input, join(p.dir, 'ckbuild.local.yaml')], [p.output], 7);
  rmSync(p.output);
  assert.equal(await checkUpToDateStamp(p.experiment), undefined, 'an output is gone');

  writeFileSync(p.output, 'weights');
  writeUpToDateStamp(p.experiment, [p.experiment, p.input, join(p.dir, 'ckbuild.local.yaml')], [p.output], 7);
  writeFileSync(join(p.dir, 'ckbuild.local.yaml'), 'runs_root: elsewhere\n');
  assert.equal(await checkUpToDateStamp(p.experiment), undefined, 'a local config appeared');
});

test('a stamp written by another install of ckbuild (its own code files listed, not these) does not hold', async () => {
  const p = project();
  writeUpToDateStamp(p.experiment, [p.experiment, p.input], [p.output], 7);
  assert.equal(await checkUpToDateStamp(p.experiment), 7);
  const stamps = join(p.dir, '.ckbuild', 'stamps');
  const file = join(stamps, readdirSync(stamps)[0]!);
  const stamp = JSON.parse(readFileSync(file, 'utf8')) as { files: Array<[string, ...unknown[]]> };
  // The other install's code is elsewhere: none of this one's files is in its list.
  stamp.files = stamp.files.filter(([path]) => path === p.experiment || path === p.input);
  writeFileSync(file, JSON.stringify(stamp));
  assert.equal(await checkUpToDateStamp(p.experiment), undefined);
});

test('a racy file (modified just before the stamp) is vouched for by its content, not its mtime', async () => {
  const p = project();
  // An mtime of whole seconds, within the racy second of the stamp, that can be put back exactly.
  const now = Math.ceil(Date.now() / 1000);
  utimesSync(p.input, now, now);
  writeUpToDateStamp(p.experiment, [p.experiment, p.input], [p.output], 1);
  assert.equal(await checkUpToDateStamp(p.experiment), 1, 'unchanged content: still up to date');
  writeFileSync(p.input, '{"a":9}'); // same size, and the mtime put back: only the content tells
  utimesSync(p.input, now, now);
  assert.equal(statSync(p.input).mtimeMs, now * 1000);
  assert.equal(await checkUpToDateStamp(p.experiment), undefined);
});

test('a file touched but unchanged is compared by content, and an experiment whose comments or layout changed by its data; the stamp is then refreshed', async () => {
  const p = project();
  writeFileSync(p.experiment, 'version: "1.0"\nexperiment_name: e   # the name\n');
  const past = new Date(Date.now() - 60_000);
  utimesSync(p.experiment, past, past);
  const stampFile = join(p.dir, '.ckbuild', 'stamps', 'experiments_e.yaml.json');
  const write = (): void => void writeUpToDateStamp(p.experiment, [p.experiment, p.input], [p.output], 3, new Map(), { experimentData: dataHash(parse(readFileSync(p.experiment, 'utf8'))) });
  write();
  const later = new Date(Date.now() - 30_000);
  utimesSync(p.input, later, later); // touched, same bytes
  assert.equal(await checkUpToDateStamp(p.experiment), 3, 'touched but unchanged: up to date');
  const refreshed = JSON.parse(readFileSync(stampFile, 'utf8')) as { files: Array<[string, number, number]> };
  assert.equal(refreshed.files.find((f) => f[0] === p.input)![2], statSync(p.input).mtimeMs, 'the stamp now holds the new mtime: the next check is stats only');

  writeFileSync(p.experiment, '# a comment\nversion: "1.0"\nexperiment_name:   e\n');
  assert.equal(await checkUpToDateStamp(p.experiment), 3, 'a comment and spacing: the same data, still up to date');
  writeFileSync(p.experiment, 'version: "1.0"\nexperiment_name: f\n');
  assert.equal(await checkUpToDateStamp(p.experiment), undefined, 'the data changed');
  writeFileSync(p.experiment, 'experiment_name: e\nversion: "1.0"\n');
  assert.equal(await checkUpToDateStamp(p.experiment), undefined, 'keys reordered: order can matter (a grid’s run ids follow `vary`)');
  writeFileSync(p.experiment, 'version: "1.0"\nexperiment_name: [unclosed\n');
  assert.equal(await checkUpToDateStamp(p.experiment), undefined, 'a file that no longer parses is never vouched for');

  writeFileSync(p.experiment, 'version: "1.0"\nexperiment_name: e\n');
  write();
  writeFileSync(p.input, '{"a":2}');
  assert.equal(await checkUpToDateStamp(p.experiment), undefined, 'an input whose bytes changed');
});
