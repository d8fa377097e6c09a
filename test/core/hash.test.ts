import assert from 'node:assert/strict';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputHasher, sha256 } from '../../core/hash.js';

test('the stat cache answers for an unchanged file without reading it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-hash-'));
  const file = join(dir, 'data.json');
  writeFileSync(file, 'x'.repeat(3 << 20)); // above the small-file threshold: streamed
  const past = new Date(Date.now() - 60_000);
  utimesSync(file, past, past); // outside the racy window
  const cacheFile = join(dir, 'cache.json');
  const first = new InputHasher(cacheFile);
  const digest = await first.digest(file);
  assert.equal(digest?.hash, sha256('x'.repeat(3 << 20)));
  assert.equal(first.filesRead, 1);
  first.save();

  const second = new InputHasher(cacheFile);
  assert.deepEqual(await second.digest(file), digest);
  assert.equal(second.filesRead, 0, 'an unchanged file is not read again');

  writeFileSync(file, 'y'.repeat(3 << 20)); // same size, new mtime
  const third = new InputHasher(cacheFile);
  assert.equal((await third.digest(file))?.hash, sha256('y'.repeat(3 << 20)));
  assert.equal(third.filesRead, 1, 'a changed file is read again');
});

test('a file modified right after it was hashed is not trusted from the cache', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-hash-'));
  const file = join(dir, 'f.txt');
  writeFileSync(file, 'one');
  const cacheFile = join(dir, 'cache.json');
  const hasher = new InputHasher(cacheFile);
  await hasher.digest(file);
  hasher.save();
  const again = new InputHasher(cacheFile);
  await again.digest(file);
  assert.equal(again.filesRead, 1, 'mtime within the racy window: re-read');
});

test('a missing file has no digest', async () => {
  assert.equal(await new InputHasher().digest('/nonexistent/file'), undefined);
});
