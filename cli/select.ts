/** Choosing runs on the command line: by id glob, step, readable name or key prefix. */
import type { StepKind } from '../core/rule.js';
import type { PlannedRun } from '../core/plan.js';
import { UsageError } from './args.js';

const STEP_ORDER: StepKind[] = ['prepare', 'finetune', 'merge', 'optimize', 'evaluate', 'export'];

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

/** True when a pattern names this run: `finetune`, `finetune/lora_rank=8*`, `brave-otter`, `3f9a1c`. */
export function matches(run: PlannedRun, pattern: string): boolean {
  if (pattern === run.step || pattern === run.id || pattern === run.name) return true;
  if (/^[0-9a-f]{4,64}$/.test(pattern) && run.key.startsWith(pattern)) return true;
  if (pattern.includes('*') || pattern.includes('?')) return globToRegExp(pattern).test(run.id);
  return run.id.startsWith(pattern.endsWith('/') ? pattern : `${pattern}/`);
}

export function selector(runs: readonly PlannedRun[], only: string[], until: string | undefined): ((run: PlannedRun) => boolean) | undefined {
  for (const pattern of only) {
    if (!runs.some((run) => matches(run, pattern))) throw new UsageError(`--only ${pattern} matches no run (see \`ckbuild plan\` for the ids)`);
  }
  let maxStep = Infinity;
  if (until !== undefined) {
    const index = STEP_ORDER.indexOf(until as StepKind);
    if (index < 0) throw new UsageError(`--until takes a step: ${STEP_ORDER.join(', ')}`);
    maxStep = index;
  }
  if (only.length === 0 && until === undefined) return undefined;
  return (run) => (only.length === 0 || only.some((p) => matches(run, p))) && STEP_ORDER.indexOf(run.step) <= maxStep;
}
