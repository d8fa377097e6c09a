/** The end of a file (a job's log), read without loading the whole file. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The last `maxBytes` bytes of `file` as text; undefined when it cannot be read. */
export function readTail(file: string, maxBytes: number): string | undefined {
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, maxBytes);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      return buffer.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}
