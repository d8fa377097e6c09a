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

test('the stat cache keeps the entries it loaded beside the ones hashed since, and ignores a cache it cannot read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-hash-'));
  const past = new Date(Date.now() - 60_000);
  const files = ['a', 'b', 'c'].map((name) => {
    const file = join(dir, `${name}.txt`);
    writeFileSync(file, `content of ${name}`);
    utimesSync(file, past, past);
    return file;
  });
  const cacheFile = join(dir, 'cache.json');
  const first = new InputHasher(cacheFile);
  for (const file of files.slice(0, 2)) await first.digest(file);
  first.save();

  writeFileSync(files[1]!, 'b changed');
  utimesSync(files[1]!, past, new Date(Date.now() - 30_000));
  const second = new InputHasher(cacheFile);
  for (const file of files) await second.digest(file);
  assert.equal(second.filesRead, 2, 'b changed and c is new; a comes from the cache');
  second.save();

  const third = new InputHasher(cacheFile);
  const digests = await Promise.all(files.map((file) => third.digest(file)));
  assert.equal(third.filesRead, 0, 'the saved cache holds a, the new b and c');
  assert.deepEqual(digests.map((digest) => digest?.hash), ['content of a', 'b changed', 'content of c'].map(sha256));

  for (const damaged of ['{"version":2,"paths":["x"],"stats":[1],"hashes":""}', '{"version":1,"entries":{}}', 'not json']) {
    writeFileSync(cacheFile, damaged);
    const fresh = new InputHasher(cacheFile);
    assert.equal((await fresh.digest(files[0]!))?.hash, sha256('content of a'));
    assert.equal(fresh.filesRead, 1, `${damaged}: read again, not trusted`);
  }
});

test('digestAll answers from the cache in any order, reads only what it must, and leaves out what is missing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ck-hash-'));
  const past = new Date(Date.now() - 60_000);
  const files = Array.from({ length: 6 }, (_, i) => {
    const file = join(dir, `f${i}.txt`);
    writeFileSync(file, `content ${i}`);
    utimesSync(file, past, past);
    return file;
  });
  const cacheFile = join(dir, 'cache.json');
  const first = new InputHasher(cacheFile);
  await first.digestAll(files.slice(0, 4));
  first.save();

  // Saved order is f0..f3; ask out of turn, with a duplicate, a new file and a missing one.
  const missing = join(dir, 'absent.txt');
  const asked = [files[2]!, files[0]!, files[5]!, files[1]!, files[0]!, missing, files[3]!];
  const second = new InputHasher(cacheFile);
  const digests = await second.digestAll(asked);
  assert.equal(second.filesRead, 1, 'only f5, which the cache has never seen, is read');
  assert.deepEqual([...digests.keys()], [files[2], files[0], files[5], files[1], missing, files[3]], 'each path once, in the order asked');
  for (const i of [0, 1, 2, 3, 5]) assert.equal(digests.get(files[i]!)?.hash, sha256(`content ${i}`), `f${i}`);
  assert.equal(digests.get(missing), undefined);
  assert.equal(second.digests().get(files[5]!), sha256('content 5'), 'what the stamp keeps includes the file just read');
  second.save();

  const third = new InputHasher(cacheFile);
  await third.digestAll([...files].reverse());
  assert.equal(third.filesRead, 1, 'the saved cache holds f0..f3 and f5; f4 is new');
});
