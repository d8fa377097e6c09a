/** The end of a job's log, for a failed run's summary (build output, `status`). */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The last `lines` non-empty lines of `log` (reading at most its last 16 KiB); [] when unreadable. */
export function logTail(log: string, lines = 8): string[] {
  let text: string;
  try {
    const fd = openSync(log, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, 16_384);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      text = buffer.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
  return text
    .replace(/\r/g, '\n')
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '')
    .slice(-lines)
    .map((line) => (line.length > 200 ? `${line.slice(0, 199)}…` : line));
}
