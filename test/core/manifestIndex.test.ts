/**
 * A manifest read through its index (core/manifestIndex.ts) must say exactly what parsing it says,
 * and an index must never be taken for a manifest other than the bytes it was made from: one
 * replaced by another of the same size and mtime, one rewritten in place within the racy window,
 * one reformatted by hand, a damaged index. Each case checks what the read returns, so an index
 * that is never used, or always used, fails.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { emptyManifest, type IndexPlace, keepManifestIndex, type Manifest, readManifest, type RunRecord, writeManifest } from '../../core/manifest.js';
import { manifestIndexPath } from '../../core/manifestIndex.js';
import { type Json, stableStringify } from '../../core/json.js';

function record(i: number, extra: Partial<RunRecord> = {}): RunRecord {
  const key = i.toString(16).padStart(64, '0');
  return {
    key,
    id: `prepare/p${i % 7}`,
    name: 'calm-otter',
    step: 'prepare',
    rule: 'command',
    rule_version: 1,
    scheme: 1,
    params: { note: `run ${i}`, nested: { list: [i, `${i}`] } },
    inputs: {},
    upstream: {},
    labels: { i },
    status: i % 3 === 0 ? 'succeeded' : i % 3 === 1 ? 'failed' : 'planned',
    recorded_at: `2026-12-02T00:00:${String(i % 60).padStart(2, '0')}.000Z`,
    run_dir: `runs/${key}`,
    ...(i % 3 === 0 ? { outputs: [{ path: 'outputs/a', size: i }] } : { detail: 'exit 1' }),
    ...extra,
  };
}

function project(records: RunRecord[]): { dir: string; path: string; place: IndexPlace } {
  const dir = mkdtempSync(join(tmpdir(), 'ck-index-'));
  mkdirSync(join(dir, 'experiments'));
  const path = join(dir, 'experiments', 'e.manifest.json');
  const manifest = emptyManifest('e', 'e.yaml');
  for (const r of records) manifest.set(r.key, r);
  const place = { path: manifestIndexPath(dir, path), projectDir: dir };
  assert.equal(writeManifest(path, manifest, place), true);
  return { dir, path, place };
}

const read = (path: string, place?: IndexPlace): Manifest => {
  const result = readManifest(path, 'e', 'e.yaml', place);
  assert.deepEqual(result.diagnostics, []);
  return result.manifest;
};

/** Whether the read went through the index: an indexed manifest's summaries are not its records. */
const indexed = (manifest: Manifest, key: string): boolean => manifest.summaries.get(key) !== manifest.recordAsRead(key);

const MANY = Array.from({ length: 200 }, (_, i) => record(i, i === 5 ? { params: { note: 'café — naïve 日本語 😀 "quoted"\n' } } : {}));

test('read through its index, a manifest gives what parsing it gives: summaries, each record read alone, and all of them', () => {
  const { path, place } = project(MANY);
  assert.ok(existsSync(place.path), 'writing the manifest wrote its index');
  const parsed = read(path);
  // A few records read one by one, then past the limit the whole file: both must match the parse.
  for (const keys of [MANY.slice(0, 3), MANY]) {
    const viaIndex = read(path, place);
    assert.ok(indexed(viaIndex, MANY[0]!.key), 'the index was used');
    for (const [key, summary] of parsed.summaries) {
      const got = viaIndex.summaries.get(key)!;
      assert.deepEqual({ key: got.key, id: got.id, status: got.status, recorded_at: got.recorded_at, detail: got.detail, outputs: got.outputs }, { key: summary.key, id: summary.id, status: summary.status, recorded_at: summary.recorded_at, detail: summary.detail, outputs: summary.outputs?.map((o) => ({ path: o.path })) });
    }
    for (const r of keys) assert.deepEqual(viaIndex.recordAsRead(r.key), r, `record ${r.key} read alone`);
    assert.deepEqual([...viaIndex.records()], [...parsed.records()]);
  }
  // The recorder's updates go over the records read; what was read stays as read.
  const viaIndex = read(path, place);
  viaIndex.set(MANY[1]!.key, { ...MANY[1]!, status: 'succeeded' });
  assert.equal(viaIndex.recordAsRead(MANY[1]!.key)!.status, 'failed');
  assert.equal(viaIndex.has('nope'), false);
});

test('an index vouches only for the bytes it was made from', () => {
  const { path, place } = project(MANY);
  const before = statSync(path);
  const flipped = readFileSync(path, 'utf8').replace('"status": "planned"', '"status": "running"'); // same length
  assert.equal(flipped.length, readFileSync(path, 'utf8').length);
  const firstPlanned = (JSON.parse(flipped) as { runs: RunRecord[] }).runs.find((r) => r.status === 'running')!.key;

  // Rewritten in place with the same size and mtime, within the racy window of indexing: the hash decides.
  writeFileSync(path, flipped);
  utimesSync(path, before.atime, before.mtime);
  assert.equal(read(path, place).summaries.get(firstPlanned)!.status, 'running');

  // Replaced (a rename, as git checkout and ckbuild write) by other bytes of the same size and mtime, long after indexing: the inode decides.
  const { path: path2, place: place2 } = project(MANY);
  const old = new Date(Date.now() - 60_000);
  utimesSync(path2, old, old);
  const reread = read(path2, place2);
  assert.ok(keepManifestIndex(reread), 'a full read re-indexes a manifest whose index no longer matches');
  assert.ok(indexed(read(path2, place2), firstPlanned), 'now trusted by its stats');
  writeFileSync(`${path2}.new`, flipped);
  utimesSync(`${path2}.new`, old, old);
  renameSync(`${path2}.new`, path2);
  assert.equal(read(path2, place2).summaries.get(firstPlanned)!.status, 'running');
});

test('a manifest laid out by hand is parsed, not indexed; a damaged index is never used', () => {
  const { path, place } = project(MANY.slice(0, 20));
  const compact = JSON.stringify(JSON.parse(readFileSync(path, 'utf8')));
  writeFileSync(path, compact);
  rmSync(place.path);
  const manifest = read(path, place);
  assert.equal(keepManifestIndex(manifest), false, 'no index of a layout ckbuild did not write');
  assert.equal(manifest.summaries.size, 20);

  const fresh = project(MANY.slice(0, 20));
  const text = readFileSync(fresh.place.path, 'utf8');
  const [header, body] = text.split('\n') as [string, string];
  for (const damaged of [body.replace('"succeeded"', '"cancelled"'), body.replace(/"spans":\[(\d+),(\d+)/, '"spans":[$2,$1'), body.slice(0, 100), '[]']) {
    writeFileSync(fresh.place.path, `${header}\n${damaged}`);
    const got = read(fresh.path, fresh.place);
    assert.equal(indexed(got, MANY[0]!.key), false, 'a damaged index is not used');
    assert.deepEqual(got.recordAsRead(MANY[0]!.key), MANY[0]);
  }
  writeFileSync(fresh.place.path, 'not json');
  assert.deepEqual(new Map(read(fresh.path, fresh.place).records().map((r) => [r.key, r])), new Map(MANY.slice(0, 20).map((r) => [r.key, r])));
});

/** The manifest's bytes as stableStringify lays out its records, in the file's order: what every write must produce. */
function laidOut(records: Iterable<RunRecord>): string {
  const runs = [...records].sort((a, b) => a.id.localeCompare(b.id) || a.recorded_at.localeCompare(b.recorded_at) || a.key.localeCompare(b.key));
  return stableStringify({ version: 1, experiment: 'e', experiment_file: 'e.yaml', runs: runs as unknown as Json[] });
}

test('a write after a few records changed copies the others’ bytes as read, and writes exactly what serialising them all would', () => {
  const { path, place } = project(MANY);
  const manifest = read(path, place);
  // The records as read stand for their bytes: changing one in place is refused, not lost.
  assert.ok(Object.isFrozen(manifest.get(MANY[7]!.key)), 'read from an index of bytes ckbuild wrote');
  assert.throws(() => {
    (manifest.get(MANY[7]!.key) as { status: string }).status = 'failed';
  }, TypeError);
  manifest.set(MANY[3]!.key, { ...manifest.get(MANY[3]!.key)!, status: 'failed', detail: 'changed — ünïcode' });
  manifest.set(MANY[150]!.key, { ...manifest.get(MANY[150]!.key)!, recorded_at: '2026-12-03T00:00:00.000Z' }); // moves in the order
  const added = record(1000, { id: 'prepare/p0' });
  manifest.set(added.key, added);
  assert.equal(writeManifest(path, manifest, place), true);
  assert.equal(readFileSync(path, 'utf8'), laidOut(manifest.records()), 'the bytes a full serialisation gives');
  // Its index is of those bytes: the next read through it gives every record, and the next write copies again.
  const again = read(path, place);
  assert.ok(indexed(again, added.key));
  assert.deepEqual(again.recordAsRead(MANY[3]!.key), manifest.get(MANY[3]!.key));
  again.delete(MANY[10]!.key);
  assert.equal(writeManifest(path, again, place), true);
  assert.equal(readFileSync(path, 'utf8'), laidOut(again.records()));
});

test('a manifest ckbuild did not write itself (reformatted by hand) is serialised in full, never copied', () => {
  const { path, place } = project(MANY.slice(0, 20));
  // Same data, other layout: keys unsorted inside a record, as a hand edit or a merge tool leaves them.
  const text = readFileSync(path, 'utf8').replace(/"labels": \{\n\s+"i": (\d+)\n\s+\},/g, '"labels": {"i": $1},');
  writeFileSync(path, text);
  const first = readManifest(path, 'e', 'e.yaml', place);
  assert.ok(keepManifestIndex(first.manifest), 'a full read makes an index');
  const manifest = read(path, place);
  assert.ok(indexed(manifest, MANY[0]!.key), 'read through the index the read made');
  assert.ok(!Object.isFrozen(manifest.get(MANY[0]!.key)), 'not bytes ckbuild laid out: nothing is copied');
  manifest.set(MANY[1]!.key, { ...manifest.get(MANY[1]!.key)!, status: 'failed' });
  assert.equal(writeManifest(path, manifest, place), true);
  assert.equal(readFileSync(path, 'utf8'), laidOut(manifest.records()), 'laid out afresh');
});
