/**
 * With an `evaluation.matrix`: exactly its rows, run × tasks × 0-indexed epochs. Cells carry the
 * earlier toolkit's cell name (`<task>_epoch<N>` / `<task>`) and the row's `vis_label`.
 */
import type { FieldPath } from '../../diagnostics.js';
import { compact, type Json, type JsonObject } from '../../json.js';
import type { EvaluationCheckpoint, EvaluationTask, MatrixEntry } from '../model.js';
import type { Trial } from '../trials.js';
import type { Final } from './context.js';
import { type CellDataset, type EvaluationScope, ownDatasets, runPromptOrigin } from './evaluate.js';

/** One row being expanded: what it evaluates, on which tasks, and how its cells are labelled. */
interface Row {
  entry: MatrixEntry;
  rowPath: FieldPath;
  tasks: Array<{ task: EvaluationTask; index: number }>;
  visLabel(task: EvaluationTask): string | undefined;
  cellOrigins(task: EvaluationTask, taskIndex: number, runPrompt: FieldPath | undefined): Record<string, FieldPath>;
}

export function expandMatrix(scope: EvaluationScope, trials: Trial[]): void {
  const { ctx } = scope;
  const ev = scope.evaluation;
  if (ev.models !== undefined) ctx.diagnostics.push(ctx.diag(['evaluation', 'models'], '`models` is ignored when `evaluation.matrix` lists the cells', { code: 'ignored-key', severity: 'warning' }));
  const evaluated = new Set<string>();
  (ev.matrix ?? []).forEach((entry, row) => {
    const rowPath: FieldPath = ['evaluation', 'matrix', row];
    const final = scope.finalsByLabel.get(entry.run);
    const named = final ? undefined : scope.checkpointsByName.get(entry.run);
    const isBase = !final && !named && entry.run === 'base';
    if (!final && !named && !isBase) {
      // A fine-tune that failed to expand was already reported; anything else is a dangling name.
      if (trials.some((trial) => trial.label === entry.run)) return;
      const known = [...scope.finalsByLabel.keys(), ...scope.checkpointsByName.keys()];
      ctx.diagnostics.push(ctx.diag([...rowPath, 'run'], `no run named \`${entry.run}\`${known.length ? `; runs: ${known.join(', ')}` : ''}`, { code: 'dangling-reference' }));
      return;
    }
    evaluated.add(entry.run);
    const rowTasks = matrixRow(scope, entry, rowPath);
    if (final && final.kind === 'finetune') finetunedRow(scope, rowTasks, final);
    else untrainedRow(scope, rowTasks, final, named);
  });
  // A result nobody evaluates, or a checkpoint listed for nothing, is probably a mistake.
  for (const final of scope.finals) {
    if (evaluated.has(final.trial.label)) continue;
    ctx.diagnostics.push(ctx.diag(final.trial.path ?? ['protocol'], `\`${final.trial.label}\` is trained but no evaluation.matrix row evaluates it`, { code: 'unused', severity: 'warning' }));
  }
  for (const { checkpoint, index } of scope.checkpointsByName.values()) {
    if (evaluated.has(checkpoint.name)) continue;
    ctx.diagnostics.push(ctx.diag(['evaluation', 'checkpoints', index], `\`${checkpoint.name}\` is in no evaluation.matrix row, so nothing evaluates it`, { code: 'unused', severity: 'warning' }));
  }
}

/** A row's tasks (each name checked), its display label and the origins of its cells. */
function matrixRow(scope: EvaluationScope, entry: MatrixEntry, rowPath: FieldPath): Row {
  const { ctx } = scope;
  const ev = scope.evaluation;
  const tasksByName = new Map(ev.tasks.map((task, index) => [task.name, { task, index }]));
  const taskNames = entry.tasks ?? ev.tasks.map((task) => task.name);
  const tasks: Row['tasks'] = [];
  taskNames.forEach((name, index) => {
    const found = tasksByName.get(name);
    if (found) tasks.push(found);
    else ctx.diagnostics.push(ctx.diag([...rowPath, 'tasks', index], `no task named \`${name}\`; tasks: ${ev.tasks.map((task) => task.name).join(', ')}`, { code: 'dangling-reference' }));
  });
  // A display label (reports, the manifest): "{vis_label} ({task})" when the row lists several tasks.
  const several = taskNames.length > 1;
  return {
    entry,
    rowPath,
    tasks,
    visLabel: (task) => (entry.vis_label === undefined ? undefined : several ? `${entry.vis_label} (${task.name})` : entry.vis_label),
    cellOrigins: (task, taskIndex, runPrompt) => {
      const taskPath: FieldPath = ['evaluation', 'tasks', taskIndex];
      return { self: rowPath, id: [...rowPath, 'run'], script: [...taskPath, 'script'], prompt: scope.promptOrigin(task, taskPath, runPrompt), epoch: [...rowPath, 'epochs'], args: [...taskPath, 'args'] };
    },
  };
}

/** A fine-tune of this experiment: one cell per task and listed epoch. */
function finetunedRow(scope: EvaluationScope, row: Row, final: Final): void {
  const { ctx } = scope;
  const { entry, rowPath } = row;
  if (entry.epochs === null) {
    ctx.diagnostics.push(ctx.diag([...rowPath, 'epochs'], `\`${entry.run}\` is fine-tuned here: list the 0-indexed epochs whose checkpoints to evaluate (null is for controls and eval-only runs)`, { code: 'missing-key' }));
    return;
  }
  const upstream = final.resolved?.params;
  if (!upstream) return;
  const epochsPath: FieldPath = entry.epochs ? [...rowPath, 'epochs'] : ['evaluation', 'epochs'];
  const cellEpochs = rowEpochs(scope, row, typeof upstream.epochs === 'number' ? upstream.epochs : undefined, epochsPath);
  const epochs = [...cellEpochs.keys()].sort((a, b) => a - b);
  for (const { task, index: taskIndex } of row.tasks) {
    const taskPath: FieldPath = ['evaluation', 'tasks', taskIndex];
    const dataset = scope.cellDataset(task, taskPath, ownDatasets(final.trial));
    if (dataset.missing) scope.reportMissingDataset(task, taskPath);
    for (const epoch of epochs) {
      ctx.add({
        id: `evaluate/${task.name}/${final.id.slice(final.id.indexOf('/') + 1)}/epoch${epoch}`,
        step: 'evaluate',
        rule: scope.rule,
        params: compact({ ...scope.params(task, final.config), model_kind: 'finetuned', epoch, dataset: dataset.binding.params }),
        inputs: { script: task.script, ...dataset.binding.inputs },
        needs: { ...dataset.binding.needs, checkpoint: final.id },
        origins: { ...row.cellOrigins(task, taskIndex, runPromptOrigin(final.trial)), epoch: [...epochsPath, cellEpochs.get(epoch)!] },
        labels: compact({ ...final.trial.labels, run: entry.run, task: task.name, cell: `${task.name}_epoch${epoch}`, epoch, vis_label: row.visLabel(task) }),
        resources: ctx.resourcesFor('evaluate'),
      }, ctx.siteOf(final.config.base_model));
    }
  }
}

/** The epochs a row asks for (`last`, `all`, numbers), each checked: epoch → its index in the list, for positions. */
function rowEpochs(scope: EvaluationScope, row: Row, trainedEpochs: number | undefined, epochsPath: FieldPath): Map<number, number> {
  const { ctx } = scope;
  const requested = row.entry.epochs ?? scope.evaluation.epochs ?? ['last'];
  const cellEpochs = new Map<number, number>();
  requested.forEach((value, index) => {
    const expanded = value === 'last' ? [(trainedEpochs ?? 1) - 1] : value === 'all' ? Array.from({ length: trainedEpochs ?? 1 }, (_, e) => e) : [value];
    for (const epoch of expanded) {
      if (trainedEpochs !== undefined && epoch >= trainedEpochs) {
        ctx.diagnostics.push(ctx.diag([...epochsPath, index], `epoch ${epoch} does not exist: \`${row.entry.run}\` trains ${trainedEpochs} epoch(s), numbered from 0`, { code: 'out-of-range' }));
        continue;
      }
      if (!cellEpochs.has(epoch)) cellEpochs.set(epoch, index);
    }
  });
  return cellEpochs;
}

/** What one cell of an untrained row evaluates. */
interface UntrainedCell {
  params: JsonObject;
  dataset: CellDataset;
  needs: Record<string, string>;
  runPrompt: FieldPath | undefined;
  labels: JsonObject;
  baseModel: Json | undefined;
}

/** The base model, a checkpoint or a merged ensemble: one cell per task, no epochs. */
function untrainedRow(scope: EvaluationScope, row: Row, final: Final | undefined, named: { checkpoint: EvaluationCheckpoint; index: number } | undefined): void {
  const { ctx } = scope;
  const { entry, rowPath } = row;
  if (Array.isArray(entry.epochs)) {
    const what = final ? 'the merged ensemble has' : named?.checkpoint.path !== undefined ? 'an eval-only checkpoint has' : 'a control (the base model as-is) has';
    ctx.diagnostics.push(ctx.diag([...rowPath, 'epochs'], `\`${entry.run}\` is not trained here: ${what} no training epochs; use \`epochs: null\``, { code: 'invalid-value' }));
    return;
  }
  for (const { task, index: taskIndex } of row.tasks) {
    const taskPath: FieldPath = ['evaluation', 'tasks', taskIndex];
    const cell = untrainedCell(scope, row, task, taskPath, final, named);
    if (!cell) return;
    if (cell.dataset.missing) scope.reportMissingDataset(task, taskPath);
    const origins = row.cellOrigins(task, taskIndex, cell.runPrompt);
    if (named) {
      origins.checkpoint_path = ['evaluation', 'checkpoints', named.index, 'path'];
      origins.model_kind = named.checkpoint.path !== undefined ? origins.checkpoint_path : ['evaluation', 'checkpoints', named.index, 'name'];
    }
    ctx.add({
      id: `evaluate/${task.name}/${final ? final.id.slice(final.id.indexOf('/') + 1) : entry.run}`,
      step: 'evaluate',
      rule: scope.rule,
      params: compact({ ...cell.params, dataset: cell.dataset.binding.params }),
      inputs: { script: task.script, ...cell.dataset.binding.inputs },
      needs: { ...cell.dataset.binding.needs, ...cell.needs },
      origins,
      labels: compact({ ...cell.labels, vis_label: row.visLabel(task) }),
      resources: ctx.resourcesFor('evaluate'),
    }, ctx.siteOf(cell.baseModel));
  }
}

/** A merged ensemble's, a named checkpoint's or the base model's cell of `task`; undefined (reported) when the base model is unknown. */
function untrainedCell(scope: EvaluationScope, row: Row, task: EvaluationTask, taskPath: FieldPath, final: Final | undefined, named: { checkpoint: EvaluationCheckpoint; index: number } | undefined): UntrainedCell | undefined {
  const { ctx } = scope;
  const run = row.entry.run;
  const cell = task.name;
  if (final) {
    return { dataset: scope.cellDataset(task, taskPath, []), params: { ...scope.params(task, final.config), model_kind: 'finetuned' }, needs: { checkpoint: final.id }, runPrompt: undefined, labels: { ...final.trial.labels, run, task: task.name, cell }, baseModel: final.config.base_model };
  }
  if (named) {
    const path: FieldPath = ['evaluation', 'checkpoints', named.index];
    return {
      dataset: scope.cellDataset(task, taskPath, [{ ref: named.checkpoint.eval_dataset, path: [...path, 'eval_dataset'] }]),
      params: { ...scope.params(task, scope.checkpointConfig(named.checkpoint)), ...scope.checkpointParams(named.checkpoint) },
      needs: {},
      runPrompt: named.checkpoint.prompt !== undefined ? [...path, 'prompt'] : undefined,
      labels: { run, task: task.name, cell, model: named.checkpoint.path === undefined ? 'base' : 'checkpoint' },
      baseModel: named.checkpoint.base_model,
    };
  }
  if (ctx.config.base_model === undefined) {
    ctx.diagnostics.push(ctx.diag([...row.rowPath, 'run'], 'evaluating the base model needs `config.base_model`', { code: 'missing-key' }));
    return undefined;
  }
  return { dataset: scope.cellDataset(task, taskPath, []), params: { ...scope.params(task, ctx.config), model_kind: 'base' }, needs: {}, runPrompt: undefined, labels: { run, task: task.name, cell, model: 'base' }, baseModel: ctx.config.base_model };
}
