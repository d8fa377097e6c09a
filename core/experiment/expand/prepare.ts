/** Prepare steps: commands with declared inputs and outputs (the `command` rule). */
import type { FieldPath } from '../../diagnostics.js';
import { compact } from '../../json.js';
import type { ExpandContext } from './context.js';

export function expandPrepare(ctx: ExpandContext): void {
  for (const [name, step] of Object.entries(ctx.doc.prepare ?? {})) {
    const origins: Record<string, FieldPath> = { self: ['prepare', name], id: ['prepare', name], command: ['prepare', name, 'command'], outputs: ['prepare', name, 'outputs'] };
    const inputs: Record<string, string> = {};
    (step.inputs ?? []).forEach((path, index) => {
      inputs[path] = path;
      origins[`input:${path}`] = ['prepare', name, 'inputs', index];
    });
    const needs: Record<string, string> = {};
    for (const need of step.needs ?? []) needs[need] = `prepare/${need}`;
    ctx.add({
      id: `prepare/${name}`,
      step: 'prepare',
      rule: 'command',
      params: compact({ command: step.command, outputs: step.outputs, requires: step.requires, params: step.params }),
      inputs,
      needs,
      origins,
      labels: { step: name },
      resources: ctx.resourcesFor('prepare'),
    });
  }
}
