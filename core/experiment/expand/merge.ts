/** An ensemble's merge: the members' adapters combined into one, itself a result of the experiment. */
import { compact } from '../../json.js';
import type { ExpandContext, Final } from './context.js';

export function expandMerge(ctx: ExpandContext, members: string[]): Final | undefined {
  if ((ctx.doc.protocol?.type ?? 'standard') !== 'ensemble' || members.length === 0) return undefined;
  const { config } = ctx;
  const merge = ctx.doc.protocol?.merge ?? {};
  const needs: Record<string, string> = {};
  members.forEach((member, index) => (needs[`member${index + 1}`] = member));
  const id = 'merge/ensemble';
  const resolved = ctx.add({
    id,
    step: 'merge',
    rule: 'adapter-merge',
    params: compact({ method: merge.method ?? 'linear', weights: merge.weights, density: merge.density, base_model: config.base_model, members: members.length }),
    inputs: {},
    needs,
    origins: { self: ['protocol', 'merge'], id: ['protocol', 'members'] },
    labels: { ensemble: members.length },
    resources: ctx.resourcesFor('merge'),
  }, ctx.siteOf(config.base_model));
  return { id, trial: { trialId: 0, label: 'ensemble', overrides: {}, origins: {}, labels: {} }, kind: 'merge', config, resolved };
}
