/** `ckbuild explain <experiment> <run>`: why one run is (or is not) stale, ingredient by ingredient. */
import { type ParsedArgs, flag, UsageError } from '../args.js';
import { planFile } from '../load.js';
import { bold, dim, out, outJson, renderDiagnostics } from '../output.js';
import { describeChange, describeState } from '../reasons.js';
import { matches } from '../select.js';
import { diffIdentity, type Plan } from '../../core/plan.js';
import { currentProject, findRun } from '../findRun.js';

export async function explainCommand(args: ParsedArgs): Promise<number> {
  const [file, pattern] = args.positionals;
  if (!file || !pattern) throw new UsageError('usage: ckbuild explain <experiment.yaml> <run id | name | key prefix>');
  const result = await planFile(file);
  if (!result.plan) {
    renderDiagnostics(result.diagnostics);
    return 2;
  }
  const runs = result.plan.runs.filter((run) => matches(run, pattern));
  if (runs.length === 0) return explainEarlier(result.plan, pattern, flag(args, '--json'));
  if (flag(args, '--json')) {
    outJson(runs.map((run) => ({ id: run.id, key: run.key, name: run.name, state: run.state, reasons: run.reasons })));
    return 0;
  }
  for (const run of runs) {
    out(`${bold(run.id)} ${run.name} ${dim(run.key)}`);
    out(`  state: ${run.state === 'stale' ? 'stale' : describeState(run)}`);
    for (const reason of run.reasons) {
      if (reason.kind === 'changed') {
        out(`  changed since ${reason.previousKey.slice(0, 12)}:`);
        for (const change of reason.changes) out(`    - ${describeChange(change)}`);
      } else if (reason.kind === 'new') {
        out('  new: no run with this key or id has been recorded');
      } else if (reason.kind === 'failed') {
        out(`  the last attempt ${reason.status}${reason.detail ? `: ${reason.detail}` : ''}`);
      } else if (reason.kind === 'outputs-missing') {
        out(`  recorded as succeeded, but these outputs are gone: ${reason.paths.join(', ')}`);
      }
    }
    out(`  params: ${JSON.stringify(run.params)}`);
    for (const [role, input] of Object.entries(run.inputs)) out(`  input ${role}: ${input.path} ${dim(input.sha256.slice(0, 12))}`);
    for (const [role, up] of Object.entries(run.upstream)) out(`  upstream ${role}: ${up.id} ${dim(up.key.slice(0, 12))}`);
  }
  return 0;
}

/**
 * A name or key from an earlier version of the experiment (found in the manifests or in git
 * history): what changed between that run and the run of the same id today.
 */
function explainEarlier(plan: Plan, pattern: string, json: boolean): number {
  const found = findRun(currentProject(), pattern);
  const old = found.record;
  const now = plan.byId.get(old.id);
  const changes = now ? diffIdentity(old, now) : [];
  if (json) {
    outJson([{ id: old.id, key: old.key, name: old.name, recorded: true, current: now ? { key: now.key, name: now.name, state: now.state } : null, changes }]);
    return 0;
  }
  const where = found.source.kind === 'history' ? `commit ${found.source.commit.slice(0, 8)}` : found.manifest;
  out(`${bold(old.id)} ${old.name} ${dim(old.key)}`);
  out(`  recorded ${old.status} on ${old.recorded_at} (${where}); not a run of the experiment as it is now`);
  if (!now) {
    out('  the experiment no longer has a run with this id');
    return 0;
  }
  out(`  today ${old.id} is ${now.name} ${dim(now.key.slice(0, 12))} (${now.state === 'stale' ? 'stale' : describeState(now)}), because:`);
  for (const change of changes) out(`    - ${describeChange(change)}`);
  return 0;
}
