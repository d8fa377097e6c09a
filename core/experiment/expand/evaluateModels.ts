/** Without a matrix: every task × (the base model, every result × epochs, every checkpoint). */
import type { FieldPath } from '../../diagnostics.js';
import { compact, type Json, type JsonObject, merged } from '../../json.js';
import type { EvaluationTask } from '../model.js';
import { type CellDataset, type EvaluationScope, ownDatasets, runPromptOrigin, sameEvaluation } from './evaluate.js';

/** One task's cells: its position, and what most of its cells share (computed once per task). */
interface TaskCells {
  task: EvaluationTask;
  taskPath: FieldPath;
  origins(runPrompt?: FieldPath): Record<string, FieldPath>;
  shared: { params: JsonObject; dataset: CellDataset; origins: Record<string, FieldPath> };
}

export function expandModels(scope: EvaluationScope): void {
  const ev = scope.evaluation;
  const models = ev.models ?? ['base', 'finetuned'];
  ev.tasks.forEach((task, taskIndex) => {
    const taskPath: FieldPath = ['evaluation', 'tasks', taskIndex];
    const origins = (runPrompt?: FieldPath): Record<string, FieldPath> => ({ self: taskPath, id: taskPath, script: [...taskPath, 'script'], prompt: scope.promptOrigin(task, taskPath, runPrompt), epoch: ['evaluation', 'epochs'] });
    // Most results share the experiment's evaluation settings, dataset and origins.
    const cells: TaskCells = { task, taskPath, origins, shared: { params: scope.params(task, scope.ctx.config), dataset: scope.cellDataset(task, taskPath, []), origins: origins() } };
    if (models.includes('base')) baseCell(scope, cells);
    if (models.includes('finetuned')) finetunedCells(scope, cells);
    checkpointCells(scope, cells);
  });
}

function baseCell(scope: EvaluationScope, { task, taskPath, shared }: TaskCells): void {
  const { ctx } = scope;
  if (ctx.config.base_model === undefined) {
    ctx.diagnostics.push(ctx.diag(['evaluation', 'models'], 'evaluating the base model needs `config.base_model`', { code: 'missing-key' }));
    return;
  }
  const dataset = shared.dataset;
  if (dataset.missing) scope.reportMissingDataset(task, taskPath);
  ctx.add({
    id: `evaluate/${task.name}/base`,
    step: 'evaluate',
    rule: scope.rule,
    params: compact({ ...shared.params, model_kind: 'base', dataset: dataset.binding.params }),
    inputs: { script: task.script, ...dataset.binding.inputs },
    needs: { ...dataset.binding.needs },
    origins: shared.origins,
    labels: { task: task.name, model: 'base' },
    resources: ctx.resourcesFor('evaluate'),
  }, ctx.siteOf(ctx.config.base_model));
}

/** Each result at each requested epoch (a merged ensemble has none: one cell). */
function finetunedCells(scope: EvaluationScope, { task, taskPath, origins, shared }: TaskCells): void {
  const { ctx } = scope;
  const epochs = scope.evaluation.epochs ?? ['last'];
  // The cells of results that share the experiment's evaluation settings and dataset share their
  // parameters and inputs too, by epoch: one object each, which the rule resolves once
  // (RuleDefinition.resolvesBy), instead of 10,000 equal ones for a 10,000-trial sweep.
  const sharedCells = new Map<number | null, { params: JsonObject; inputs: Record<string, string> }>();
  const cellOf = (params: JsonObject, dataset: CellDataset, epoch: number | null) => ({
    params: compact({ ...params, model_kind: 'finetuned', epoch: epoch ?? undefined, dataset: dataset.binding.params }),
    inputs: { script: task.script, ...dataset.binding.inputs },
  });
  for (const result of scope.finals) {
    const upstream = result.resolved?.params;
    if (!upstream) continue;
    const own = ownDatasets(result.trial);
    const dataset = own.length > 0 ? scope.cellDataset(task, taskPath, own) : shared.dataset;
    if (dataset.missing) scope.reportMissingDataset(task, taskPath);
    const sharesSettings = sameEvaluation(result.config, ctx.config);
    const params = sharesSettings ? shared.params : scope.params(task, result.config);
    const runPrompt = runPromptOrigin(result.trial);
    const cellOrigins = runPrompt ? origins(runPrompt) : shared.origins;
    const cellEpochs = result.kind === 'merge' ? [null] : checkpointEpochs(epochs, upstream.epochs);
    for (const epoch of cellEpochs) {
      if (epoch !== null && typeof upstream.epochs === 'number' && epoch >= upstream.epochs) {
        ctx.diagnostics.push(ctx.diag(['evaluation', 'epochs'], `epoch ${epoch} does not exist: \`${result.id}\` trains ${upstream.epochs} epoch(s), numbered from 0`, { code: 'out-of-range' }));
        continue;
      }
      const suffix = epoch === null ? '' : `/epoch${epoch}`;
      const sharable = sharesSettings && dataset === shared.dataset;
      let cell = sharable ? sharedCells.get(epoch) : undefined;
      if (!cell) {
        cell = cellOf(params, dataset, epoch);
        if (sharable) sharedCells.set(epoch, cell);
      }
      ctx.add({
        id: `evaluate/${task.name}/${result.id.slice(result.id.indexOf('/') + 1)}${suffix}`,
        step: 'evaluate',
        rule: scope.rule,
        params: cell.params,
        inputs: cell.inputs,
        needs: { ...dataset.binding.needs, checkpoint: result.id },
        origins: cellOrigins,
        labels: merged({ task: task.name }, result.trial.labels, epoch === null ? undefined : { epoch }),
        resources: ctx.resourcesFor('evaluate'),
      }, ctx.siteOf(result.config.base_model));
    }
  }
}

/** Every model evaluated but not trained here: an existing checkpoint, or a base model as a control. */
function checkpointCells(scope: EvaluationScope, { task, taskPath, origins }: TaskCells): void {
  const { ctx } = scope;
  for (const { checkpoint, index } of scope.checkpointsByName.values()) {
    const path: FieldPath = ['evaluation', 'checkpoints', index];
    const dataset = scope.cellDataset(task, taskPath, [{ ref: checkpoint.eval_dataset, path: [...path, 'eval_dataset'] }]);
    if (dataset.missing) scope.reportMissingDataset(task, taskPath);
    ctx.add({
      id: `evaluate/${task.name}/${checkpoint.name}`,
      step: 'evaluate',
      rule: scope.rule,
      params: compact({ ...scope.params(task, scope.checkpointConfig(checkpoint)), ...scope.checkpointParams(checkpoint), dataset: dataset.binding.params }),
      inputs: { script: task.script, ...dataset.binding.inputs },
      needs: { ...dataset.binding.needs },
      origins: { ...origins(checkpoint.prompt !== undefined ? [...path, 'prompt'] : undefined), self: path, id: [...path, 'name'], checkpoint_path: [...path, 'path'], model_kind: checkpoint.path !== undefined ? [...path, 'path'] : [...path, 'name'] },
      labels: { task: task.name, model: checkpoint.name },
      resources: ctx.resourcesFor('evaluate'),
    }, ctx.siteOf(checkpoint.base_model));
  }
}

/** `last`, `all` and numbers → the 0-indexed epochs, sorted and once each. */
function checkpointEpochs(requested: Array<'last' | 'all' | number>, trained: Json | undefined): Array<number | null> {
  const count = typeof trained === 'number' ? trained : 1;
  const out = new Set<number>();
  for (const entry of requested) {
    if (entry === 'last') out.add(count - 1);
    else if (entry === 'all') for (let e = 0; e < count; e++) out.add(e);
    else out.add(entry);
  }
  return [...out].sort((a, b) => a - b);
}
