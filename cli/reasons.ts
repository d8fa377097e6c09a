/** Staleness reasons, as data from core, worded for people. */
import type { Json } from '../core/json.js';
import type { Change, PlannedRun, StaleReason } from '../core/plan.js';
import { displayPath } from './output.js';

const short = (value: Json | undefined): string => (value === undefined ? '(unset)' : JSON.stringify(value));

export function describeChange(change: Change): string {
  switch (change.ingredient) {
    case 'param':
      return `parameter ${change.name}: ${short(change.from)} → ${short(change.to)}`;
    case 'input':
      return `input ${change.path} changed (${change.from?.slice(0, 8) ?? 'none'} → ${change.to?.slice(0, 8) ?? 'none'})`;
    case 'upstream':
      return `upstream ${change.upstream} changed (${change.from?.slice(0, 8) ?? 'none'} → ${change.to?.slice(0, 8) ?? 'none'})`;
    case 'rule':
      return `rule ${change.from} → ${change.to}`;
    case 'model':
      return `model ${short(change.from)} → ${short(change.to)}`;
    case 'scheme':
      return `hash scheme ${change.from} → ${change.to}`;
  }
}

export function describeReason(reason: StaleReason): string {
  switch (reason.kind) {
    case 'new':
      return 'new';
    case 'forced':
      return 'forced';
    case 'failed':
      return `previously ${reason.status}${reason.detail ? `: ${reason.detail}` : ''}`;
    case 'outputs-missing':
      return `outputs missing: ${reason.paths.map((path) => (reason.runDir ? displayPath(path === '.' ? reason.runDir : `${reason.runDir}/${path}`) : displayPath(path))).join(', ')}`;
    case 'changed':
      return `changed: ${reason.changes.map(describeChange).join('; ') || 'identity changed'}`;
  }
}

export function describeState(run: PlannedRun): string {
  if (run.state === 'up-to-date') return 'up to date';
  if (run.state === 'in-progress') return `${run.record?.status ?? 'running'}${run.record?.job_id ? ` (job ${run.record.job_id})` : ''}`;
  return run.reasons.map(describeReason).join('; ');
}
