/** Exports: merge the adapter into the base model and/or convert, per result. */
import type { ExpandContext, Final } from './context.js';

export function expandExports(ctx: ExpandContext, finals: Final[]): void {
  const { config } = ctx;
  const output = ctx.doc.output;
  const exportFormat = output?.export_format ?? 'none';
  if (!output || !(output.merge_after || exportFormat !== 'none')) return;
  for (const result of finals) {
    ctx.add({
      id: `export/${result.id.slice(result.id.indexOf('/') + 1)}`,
      step: 'export',
      rule: 'export',
      params: { format: exportFormat, merge: output.merge_after ?? exportFormat !== 'none', base_model: config.base_model ?? null, source_kind: result.kind },
      inputs: {},
      needs: { checkpoint: result.id },
      origins: { self: ['output'], id: ['output'] },
      labels: { ...result.trial.labels },
      resources: ctx.resourcesFor('export'),
    }, ctx.siteOf(config.base_model));
  }
}
