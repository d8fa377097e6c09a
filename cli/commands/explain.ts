/** `ckbuild explain <experiment> <run>`: why one run is (or is not) stale, ingredient by ingredient. */
import { type ParsedArgs, flag, UsageError } from '../args.js';
import { planFile } from '../load.js';
import { bold, dim, out, renderDiagnostics } from '../output.js';
import { describeChange, describeState } from '../reasons.js';
import { matches } from '../select.js';

export async function explainCommand(args: ParsedArgs): Promise<number> {
  const [file, pattern] = args.positionals;
  if (!file || !pattern) throw new UsageError('usage: ckbuild explain <experiment.yaml> <run id | name | key prefix>');
  const result = await planFile(file);
  if (!result.plan) {
    renderDiagnostics(result.diagnostics);
    return 2;
  }
  const runs = result.plan.runs.filter((run) => matches(run, pattern));
  if (runs.length === 0) throw new UsageError(`no run matches ${pattern}`);
  if (flag(args, '--json')) {
    out(JSON.stringify(runs.map((run) => ({ id: run.id, key: run.key, name: run.name, state: run.state, reasons: run.reasons })), null, 2));
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
