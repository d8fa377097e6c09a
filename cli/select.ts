/** Choosing runs on the command line: by id glob, step, readable name or key prefix. */
import type { StepKind } from '../core/rule.js';
import type { PlannedRun } from '../core/plan.js';
import { UsageError } from './args.js';
import { nearest } from '../core/diagnostics.js';

const STEP_ORDER: StepKind[] = ['prepare', 'finetune', 'merge', 'optimize', 'evaluate', 'export'];

/**
 * `*` matches any run of characters, `?` one. Linear in the pattern times the text (the greedy
 * two-pointer match with one backtrack point), never exponential as a regular expression of
 * `.*` groups is: `--only '*a*b*c*d*e*f*'` on thousands of runs returns at once.
 */
export function globMatch(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (g < glob.length && (glob[g] === '?' || glob[g] === text[t])) {
      g++;
      t++;
    } else if (g < glob.length && glob[g] === '*') {
      star = g++;
      resume = t;
    } else if (star >= 0) {
      g = star + 1;
      t = ++resume;
    } else return false;
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}

/** True when a pattern names this run: `finetune`, `finetune/lora_rank=8*`, `brave-otter`, `3f9a1c`. */
export function matches(run: PlannedRun, pattern: string): boolean {
  if (pattern === run.step || pattern === run.id || pattern === run.name) return true;
  if (/^[0-9a-f]{4,64}$/.test(pattern) && run.key.startsWith(pattern)) return true;
  if (pattern.includes('*') || pattern.includes('?')) return globMatch(pattern, run.id);
  return run.id.startsWith(pattern.endsWith('/') ? pattern : `${pattern}/`);
}

/** `; did you mean prepare/report?` for a pattern that is a typo of a run's id, its last part, or its name. */
export function suggestRun(runs: readonly PlannedRun[], pattern: string): string {
  const byCandidate = new Map<string, string>();
  for (const run of runs) {
    byCandidate.set(run.id, run.id);
    byCandidate.set(run.name, run.name);
    byCandidate.set(run.id.split('/').pop()!, run.id);
  }
  const exact = byCandidate.get(pattern);
  if (exact && exact !== pattern) return `; did you mean \`${exact}\`?`;
  const close = nearest(pattern, byCandidate.keys());
  return close === undefined ? '' : `; did you mean \`${byCandidate.get(close)}\`?`;
}

export function selector(runs: readonly PlannedRun[], only: string[], until: string | undefined): ((run: PlannedRun) => boolean) | undefined {
  for (const pattern of only) {
    if (!runs.some((run) => matches(run, pattern))) throw new UsageError(`--only ${pattern} matches no run${suggestRun(runs, pattern)} (see \`ckbuild plan\` for the ids)`);
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
