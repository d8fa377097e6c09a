/** The manifest reads back exactly what was written, whatever its characters (ASCII is decoded the fast way). */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { emptyManifest, readManifest, type RunRecord, writeManifest } from '../../core/manifest.js';

function record(key: string, label: string): RunRecord {
  return { key, id: `prepare/${label}`, name: 'calm-otter', step: 'prepare', rule: 'command', rule_version: 1, scheme: 1, params: { note: label }, inputs: {}, upstream: {}, labels: { label }, status: 'succeeded', recorded_at: '2026-12-02T00:00:00.000Z', run_dir: `runs/${key}` };
}

test('a manifest reads back as written, ASCII or not, and an unchanged one is not rewritten', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-manifest-'));
  for (const label of ['plain', 'café — naïve 日本語 😀']) {
    const path = join(dir, `${label.length}.manifest.json`);
    const manifest = emptyManifest('e', 'e.yaml');
    manifest.set('k1', record('k1', label));
    assert.equal(writeManifest(path, manifest), true);
    const read = readManifest(path, 'e', 'e.yaml');
    assert.deepEqual(read.diagnostics, []);
    assert.deepEqual(read.manifest.get('k1'), record('k1', label));
    assert.equal(writeManifest(path, read.manifest), false, 'same bytes: not rewritten');
    assert.ok(readFileSync(path, 'utf8').includes(label));
  }
  // A hand edit that breaks the JSON is still reported, not misread.
  const broken = join(dir, 'broken.manifest.json');
  writeFileSync(broken, '{"version": 1, "runs": [');
  assert.match(readManifest(broken, 'e', 'e.yaml').diagnostics[0]!.message, /not valid JSON/);
});
