/**
 * The status file a job script writes into its run's metadata/ (templates/job.sh.hbs): one JSON
 * object per line, "running" at the start and the verdict appended at the end. The last line that
 * is a whole, well-typed object is the job's state; a line cut short by a crash or a read
 * mid-write is skipped, so it reads as the line before it. A file that is one JSON document
 * (what jobs of earlier versions wrote, even spread over lines) reads as that document.
 */
import { readFileSync } from 'node:fs';
import { statusFilePath } from '../runDir.js';
import type { RunStatus } from '../manifest.js';

export interface JobStatusFile {
  status: RunStatus;
  exit_code: number;
  started_at: string;
  finished_at: string;
  host: string;
  pid: number;
  job_id: string;
  detail: string;
}

export function readStatusFile(runDir: string): JobStatusFile | undefined {
  let text: string;
  try {
    text = readFileSync(statusFilePath(runDir), 'utf8');
  } catch {
    return undefined;
  }
  return parseStatusText(text);
}

export function parseStatusText(text: string): JobStatusFile | undefined {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const state = validStatusFile(parsed(line));
    if (state) return state;
  }
  return validStatusFile(parsed(text));
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function elapsedSeconds(startedAt?: string, finishedAt?: string): number | undefined {
  if (!startedAt || !finishedAt) return undefined;
  const seconds = (Date.parse(finishedAt) - Date.parse(startedAt)) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

/**
 * The job writes this file, but anything may have damaged it: only a file whose fields have their
 * types is believed (a malformed one is "no verdict"), so a stray `"job_id": {}` cannot crash a plan.
 */
function validStatusFile(value: unknown): JobStatusFile | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const file = value as Record<string, unknown>;
  const strings = ['status', 'started_at', 'finished_at', 'host', 'job_id', 'detail'];
  for (const field of strings) if (file[field] !== undefined && typeof file[field] !== 'string') return undefined;
  for (const field of ['exit_code', 'pid']) if (file[field] !== undefined && typeof file[field] !== 'number') return undefined;
  if (typeof file.status !== 'string') return undefined;
  return { status: file.status as JobStatusFile['status'], exit_code: (file.exit_code as number) ?? 0, started_at: (file.started_at as string) ?? '', finished_at: (file.finished_at as string) ?? '', host: (file.host as string) ?? '', pid: (file.pid as number) ?? 0, job_id: (file.job_id as string) ?? '', detail: (file.detail as string) ?? '' };
}
