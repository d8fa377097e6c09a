/** The status file a job script writes into its run's metadata/ (templates/job.sh.hbs). */
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
  try {
    const parsed = JSON.parse(readFileSync(statusFilePath(runDir), 'utf8')) as JobStatusFile;
    return typeof parsed.status === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function elapsedSeconds(startedAt?: string, finishedAt?: string): number | undefined {
  if (!startedAt || !finishedAt) return undefined;
  const seconds = (Date.parse(finishedAt) - Date.parse(startedAt)) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}
