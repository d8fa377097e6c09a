/** The end of a job's log, for a failed run's summary (build output, `status`). */
import { readTail } from '../core/fileTail.js';

/** The last `lines` non-empty lines of `log` (from its last 16 KiB), each cut at 200 characters; [] when unreadable. */
export function logTail(log: string, lines = 8): string[] {
  return (readTail(log, 16_384) ?? '')
    .replace(/\r/g, '\n')
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '')
    .slice(-lines)
    .map((line) => (line.length > 200 ? `${line.slice(0, 199)}…` : line));
}
