/**
 * Content hashes of input files, with a stat cache so an unchanged multi-gigabyte dataset is
 * read once: (path, size, mtime, inode) → sha256. A file modified within a second of being
 * hashed is not trusted from the cache (its mtime may not have ticked yet), as git does.
 */
import { writeFileAtomic } from './atomicFile.js';
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensureIgnoredDir } from './ignoredDir.js';

interface CacheEntry {
  size: number;
  mtimeMs: number;
  ino: number;
  hash: string;
  hashedAt: number;
}

export interface FileDigest {
  hash: string;
  size: number;
}

const CACHE_VERSION = 1;
/** A file modified within this long of being read may still change without its mtime moving. */
export const RACY_WINDOW_MS = 1000;
const SMALL_FILE = 1 << 20;

export class InputHasher {
  private entries = new Map<string, CacheEntry>();
  private dirty = false;
  /** The stat of every file digested, taken before reading it: what the up-to-date stamp vouches for. */
  readonly seen = new Map<string, { size: number; mtimeMs: number; ino: number }>();
  /** How many files were actually read (for tests and the benchmark). */
  bytesRead = 0;
  filesRead = 0;

  constructor(private readonly cacheFile?: string) {
    if (!cacheFile) return;
    try {
      const parsed = JSON.parse(readFileSync(cacheFile, 'utf8')) as { version?: number; entries?: Record<string, CacheEntry> };
      if (parsed.version === CACHE_VERSION && parsed.entries) this.entries = new Map(Object.entries(parsed.entries));
    } catch {
      // No cache yet, or a damaged one: start empty; it is only an accelerator.
    }
  }

  /** Hash of a file's content; undefined when it does not exist or is not a file. */
  async digest(path: string): Promise<FileDigest | undefined> {
    let stat;
    try {
      stat = statSync(path);
    } catch {
      return undefined;
    }
    if (!stat.isFile()) return undefined;
    this.seen.set(path, { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino });
    const cached = this.entries.get(path);
    if (cached && cached.size === stat.size && cached.mtimeMs === stat.mtimeMs && cached.ino === stat.ino && cached.hashedAt - stat.mtimeMs > RACY_WINDOW_MS) {
      return { hash: cached.hash, size: cached.size };
    }
    const hash = stat.size <= SMALL_FILE ? sha256(readFileSync(path)) : await hashStream(path);
    this.bytesRead += stat.size;
    this.filesRead += 1;
    this.entries.set(path, { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, hash, hashedAt: Date.now() });
    this.dirty = true;
    return { hash, size: stat.size };
  }

  /** The content hash of every file this hasher digested (what the up-to-date stamp keeps). */
  digests(): Map<string, string> {
    const known = new Map<string, string>();
    for (const path of this.seen.keys()) {
      const entry = this.entries.get(path);
      if (entry) known.set(path, entry.hash);
    }
    return known;
  }

  /**
   * Saves the cache if it can: it is only an accelerator, so a read-only checkout or a full disk
   * just means the next run hashes again. Returns whether it was written.
   */
  saveIfPossible(): boolean {
    try {
      this.save();
      return true;
    } catch {
      return false;
    }
  }

  /** Writes the cache atomically; a crash mid-write leaves the previous cache. */
  save(): void {
    if (!this.cacheFile || !this.dirty) return;
    ensureIgnoredDir(dirname(this.cacheFile), dirname(dirname(this.cacheFile)));
    writeFileAtomic(this.cacheFile, JSON.stringify({ version: CACHE_VERSION, entries: Object.fromEntries(this.entries) }));
    this.dirty = false;
  }
}

/** Node's one-shot digest (20.12+; engines allow 20.5): ~40% faster than a Hash object for a run key's few KB. */
const oneShot: typeof crypto.hash | undefined = typeof crypto.hash === 'function' ? crypto.hash : undefined;

export function sha256(data: string | Buffer): string {
  return oneShot ? oneShot('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
}

async function hashStream(path: string): Promise<string> {
  const hash = createHash('sha256');
  // 1 MiB chunks: measured ~1.1 GB/s on this machine against ~0.8 GB/s with the 64 KiB default.
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
