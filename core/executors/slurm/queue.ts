/**
 * Reading the queue (squeue) and accounting (sacct, or the job-completion log `sacct -c`
 * without slurmdbd) into rows, with the job's name and comment so that every row can be
 * checked against the run it is supposed to belong to.
 */
import { slurmCommand } from './commands.js';
import { parseExitCode, type SlurmRow } from './states.js';

/** `squeue -o` fields, '|'-separated; the comment (%k) goes last because it is free text. */
const SQUEUE_FORMAT = '%i|%T|%r|%N|%S|%e|%V|%j|%E|%k';

export type QueueAnswer = { ok: true; rows: SlurmRow[] } | { ok: false; message: string };

function validTime(text: string | undefined): string | undefined {
  if (!text || text === 'N/A' || text === 'Unknown' || text === 'None') return undefined;
  return text;
}

function nullable(text: string | undefined): string | undefined {
  return !text || text === '(null)' ? undefined : text;
}

export function parseSqueue(stdout: string): SlurmRow[] {
  return stdout
    .split('\n')
    .filter((line) => line.includes('|'))
    .map((line) => {
      const [jobId = '', state = '', reason = '', node = '', start, end, submit, name, dependency, ...comment] = line.split('|');
      return { jobId: jobId.trim(), state: state.split(' ')[0]!, reason, node, start: validTime(start), end: validTime(end), submit: validTime(submit), name: nullable(name), dependency: nullable(dependency), comment: nullable(comment.join('|')) };
    });
}

/**
 * The queue's rows for these ids (array tasks as `J_i`). squeue silently leaves out ids it no
 * longer knows when asked for several, and fails when asked for one unknown id; both come
 * back as "answered, no row". `ok: false` only when the controller did not answer.
 */
export async function squeueJobs(ids: readonly string[]): Promise<QueueAnswer> {
  if (ids.length === 0) return { ok: true, rows: [] };
  const rows: SlurmRow[] = [];
  // Long id lists in chunks: the command line stays short and one bad id cannot hide the rest.
  for (let start = 0; start < ids.length; start += 500) {
    const chunk = ids.slice(start, start + 500);
    const result = await slurmCommand('squeue', ['-h', '-r', '-t', 'all', '-j', chunk.join(','), '-o', SQUEUE_FORMAT]);
    if (!result.ok) {
      if (/invalid job id/i.test(result.stderr)) {
        if (chunk.length === 1) continue;
        // Some squeue versions reject the whole list for one unknown id: ask one by one.
        for (const id of chunk) {
          const one = await squeueJobs([id]);
          if (!one.ok) return one;
          rows.push(...one.rows);
        }
        continue;
      }
      return { ok: false, message: result.timedOut ? 'squeue did not answer' : result.stderr.trim() || 'squeue failed' };
    }
    rows.push(...parseSqueue(result.stdout));
  }
  return { ok: true, rows };
}

/** The active jobs of a user (all users when none is given), for adoption. */
export async function squeueActive(user: string | undefined): Promise<QueueAnswer> {
  const result = await slurmCommand('squeue', ['-h', '-r', ...(user ? ['-u', user] : []), '-o', SQUEUE_FORMAT]);
  if (!result.ok) return { ok: false, message: result.stderr.trim() || 'squeue failed' };
  return { ok: true, rows: parseSqueue(result.stdout) };
}

/** Jobs with this name (active or finished), for "did a timed-out sbatch land after all?". */
export async function squeueByName(name: string): Promise<QueueAnswer> {
  const result = await slurmCommand('squeue', ['-h', '-r', '-t', 'all', '-n', name, '-o', SQUEUE_FORMAT]);
  if (!result.ok) return { ok: false, message: result.stderr.trim() || 'squeue failed' };
  return { ok: true, rows: parseSqueue(result.stdout) };
}

export function parseElapsed(text: string): number | undefined {
  const match = /^(?:(\d+)-)?(\d+):(\d+):(\d+)$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1] ?? 0) * 86400 + Number(match[2]) * 3600 + Number(match[3]) * 60 + Number(match[4]);
}

const SACCT_FIELDS = 'JobID,State,ExitCode,Start,End,Elapsed,NodeList,JobName,Comment';

export function parseSacct(stdout: string): SlurmRow[] {
  return stdout
    .split('\n')
    .filter((line) => line.includes('|'))
    .map((line) => {
      const [jobId = '', state = '', exit = '', start, end, elapsed = '', node = '', name, ...comment] = line.split('|');
      return { jobId, state: state.split(' ')[0]!, reason: state, node, name: nullable(name), comment: nullable(comment.join('|')), ...parseExitCode(exit), start: validTime(start), end: validTime(end), elapsedS: parseElapsed(elapsed) };
    })
    .filter((row) => !row.jobId.includes('.'));
}

/** Accounting, when slurmdbd runs; else the job-completion log (finished jobs only, no comments). */
export class Accounting {
  private enabled: boolean | undefined;

  async rows(ids: readonly string[]): Promise<SlurmRow[]> {
    if (ids.length === 0) return [];
    const format = ['--parsable2', '-n', `--format=${SACCT_FIELDS}`, '-j', ids.join(',')];
    if (this.enabled !== false) {
      const result = await slurmCommand('sacct', ['-X', ...format]);
      if (result.ok) {
        this.enabled = true;
        return parseSacct(result.stdout);
      }
      if (/accounting storage is disabled/i.test(result.stderr)) this.enabled = false;
      else return [];
    }
    const completion = await slurmCommand('sacct', ['-c', ...format]);
    return completion.ok ? parseSacct(completion.stdout) : [];
  }
}
