/** `ckbuild diff <runA> <runB>`: the parameters, inputs, upstream runs and metrics that differ. */
import type { Json } from '../../core/json.js';
import type { RunRecord } from '../../core/manifest.js';
import { type Change, diffIdentity } from '../../core/plan.js';
import { type ParsedArgs, flag, UsageError } from '../args.js';
import { currentProject, findRun } from '../findRun.js';
import { bold, dim, out, outJson } from '../output.js';
import { describeChange } from '../reasons.js';

export interface MetricChange {
  name: string;
  a: Json | null;
  b: Json | null;
  difference: number | null;
}

export function diffRecords(a: RunRecord, b: RunRecord): { changes: Change[]; metrics: MetricChange[] } {
  const changes = diffIdentity(a, { id: b.id, key: b.key, name: b.name, step: b.step, rule: b.rule, ruleVersion: b.rule_version, params: b.params, model: b.model, inputs: b.inputs, upstream: b.upstream }).filter((change) => change.ingredient !== 'scheme' || a.scheme !== b.scheme);
  if (a.scheme !== b.scheme && !changes.some((c) => c.ingredient === 'scheme')) changes.unshift({ ingredient: 'scheme', from: a.scheme, to: b.scheme });
  const metrics: MetricChange[] = [];
  for (const name of [...new Set([...Object.keys(a.metrics ?? {}), ...Object.keys(b.metrics ?? {})])].sort()) {
    const x = a.metrics?.[name] ?? null;
    const y = b.metrics?.[name] ?? null;
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    metrics.push({ name, a: x, b: y, difference: typeof x === 'number' && typeof y === 'number' ? Number((y - x).toPrecision(12)) : null });
  }
  return { changes, metrics };
}

export async function diffCommand(args: ParsedArgs): Promise<number> {
  const [first, second, ...rest] = args.positionals;
  if (!first || !second || rest.length > 0) throw new UsageError('usage: ckbuild diff <runA> <runB> [--json]   (run ids, readable names or key prefixes)');
  const project = currentProject();
  const a = findRun(project, first);
  const b = findRun(project, second);
  const { changes, metrics } = diffRecords(a.record, b.record);
  if (flag(args, '--json')) {
    const side = (found: typeof a) => ({ id: found.record.id, key: found.record.key, name: found.record.name, experiment: found.experiment, status: found.record.status });
    outJson({ ok: true, a: side(a), b: side(b), same: changes.length === 0 && metrics.length === 0, changes, metrics });
    return 0;
  }
  out(`${bold('a')} ${a.record.id} ${a.record.name} ${dim(`${a.record.key.slice(0, 12)} ${a.experiment} ${a.record.status}`)}`);
  out(`${bold('b')} ${b.record.id} ${b.record.name} ${dim(`${b.record.key.slice(0, 12)} ${b.experiment} ${b.record.status}`)}`);
  if (a.record.key === b.record.key) out('  the same run (same key): identical parameters, inputs and upstream runs');
  else if (changes.length === 0) out('  no parameter, input or upstream run differs');
  for (const change of changes) out(`  ${describeChange(change)}`);
  for (const metric of metrics) out(`  metric ${metric.name}: ${JSON.stringify(metric.a)} → ${JSON.stringify(metric.b)}${metric.difference !== null ? ` (${metric.difference >= 0 ? '+' : ''}${metric.difference})` : ''}`);
  if (metrics.length === 0) out(dim('  metrics: no difference'));
  return 0;
}
