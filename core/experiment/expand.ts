/**
 * Experiment → runs. Prepare steps, fine-tunes (one per trial, chained for a curriculum),
 * ensemble merges, evaluation cells and exports. Each run's rule resolves its parameters
 * (defaults applied) as soon as it is created, because later runs read them: an evaluation of
 * the `last` epoch needs its fine-tune's resolved epoch count.
 *
 * Evaluation cells are either task × (base model | each result × epochs | each checkpoint), or,
 * when the experiment has an `evaluation.matrix`, exactly the cells its rows list
 * (run × tasks × 0-indexed epochs). Either way a cell's id is `evaluate/<task>/<run>/epoch<N>`
 * (`evaluate/<task>/<run>` for a model not trained here), and its labels carry the earlier
 * toolkit's cell name (`<task>_epoch<N>` / `<task>`) and, from the matrix, its `vis_label`.
 */
import type { ExpandedRun, ResolvedParams, Resources, RuleRegistry, StepKind } from '../rule.js';
import { type Diagnostic, type FieldPath, formatFieldPath, hasErrors, type DiagnosticCode } from '../diagnostics.js';
import { DEFAULT_SEED } from '../defaults.js';
import { compact, type Json, type JsonObject } from '../json.js';
import { promptProblem } from '../prompt.js';
import { diagnosticAt, type SourceFile } from '../source.js';
import { type DatasetRef, type Evaluation, type EvaluationCheckpoint, type EvaluationTask, type Experiment } from './model.js';
import { expandTrials, type Trial } from './trials.js';
import { validateAgainstSchema } from './validate.js';

export type { RuleRegistry };

export interface Expansion {
  runs: ExpandedRun[];
  resolved: Map<string, ResolvedParams>;
  diagnostics: Diagnostic[];
}

/** A result of the experiment: a fine-tune (or a merge) whose checkpoints are evaluated and exported. */
interface Final {
  id: string;
  trial: Trial;
  kind: 'finetune' | 'merge';
  /** The config it was trained with: the experiment's, with the trial's (and last stage's) overrides. */
  config: JsonObject;
}

type DatasetBinding = { inputs: Record<string, string>; needs: Record<string, string>; params: JsonObject | undefined };

/**
 * A source whose positions follow a converted document's origins, and a fix for the `field` of the
 * diagnostics built against it (so they name the field as the user wrote it).
 */
function translatingSource(source: SourceFile, translate: (path: FieldPath) => FieldPath): { source: SourceFile; fix: (d: Diagnostic) => Diagnostic } {
  const fields = new Map<string, string>();
  const wrapped: SourceFile = {
    ...source,
    locate: (path, which) => {
      const target = translate(path);
      fields.set(formatFieldPath(path), formatFieldPath(target));
      return source.locate(target, which);
    },
  };
  return {
    source: wrapped,
    fix: (d) => {
      const field = fields.get(d.field) ?? d.field;
      // Say which of ckbuild's fields the conversion made of the one the user wrote.
      return field === d.field ? d : { ...d, field, message: `${d.message} (as ckbuild’s \`${d.field}\`)` };
    },
  };
}

export function expandExperiment(experiment: Experiment, rules: RuleRegistry): Expansion {
  const doc = experiment.document;
  const source = experiment.source;
  const translator = experiment.origins;
  const translate = translator ?? ((path: FieldPath) => path);
  const diagnostics: Diagnostic[] = [];
  const diag = (path: FieldPath, message: string, options: { code: DiagnosticCode; severity?: 'error' | 'warning' }): Diagnostic => diagnosticAt(source, translate(path), message, options);
  const runs: ExpandedRun[] = [];
  const byId = new Map<string, ExpandedRun>();
  const resolved = new Map<string, ResolvedParams>();
  const resourcesFor = (step: StepKind): Resources => ({ ...(doc.resources?.[step] ?? {}) });

  // A converted document skipped the loader's schema validation; validate it here, positioned in the original file.
  if (experiment.format !== 'native' && rules.schema) {
    const translating = translatingSource(source, translate);
    const problems = validateAgainstSchema(translating.source, doc as unknown as Json, rules.schema()).map(translating.fix);
    diagnostics.push(...problems);
    if (hasErrors(problems)) return { runs, resolved, diagnostics };
  }

  /** Where a base model lives on this site, when the experiment says: rendered, never hashed. */
  const siteOf = (baseModel: Json | undefined): JsonObject | undefined => {
    const path = typeof baseModel === 'string' ? doc.models?.[baseModel]?.path : undefined;
    return path === undefined ? undefined : { model_path: path };
  };

  const add = (run: ExpandedRun, site?: JsonObject): void => {
    if (translator) run.origins = Object.fromEntries(Object.entries(run.origins).map(([role, path]) => [role, translator(path)]));
    if (site) run.site = site;
    if (byId.has(run.id)) {
      diagnostics.push(diagnosticAt(source, run.origins.id ?? [], `two runs would share the id \`${run.id}\``, { code: 'duplicate-run' }));
      return;
    }
    const rule = rules.get(run.rule);
    if (!rule) {
      diagnostics.push(diagnosticAt(source, run.origins.rule ?? [], `unknown framework \`${run.rule}\`; known: ${rules.names().join(', ')}`, { code: 'unknown-rule' }));
      return;
    }
    runs.push(run);
    byId.set(run.id, run);
    const result = rule.resolve(run, {
      runs: byId,
      diagnostic: (param, message, options) => diagnosticAt(source, run.origins[param] ?? run.origins.self ?? [], message, options),
    });
    resolved.set(run.id, result);
    diagnostics.push(...result.diagnostics);
  };

  /** A dataset is either a file in the repository (hashed) or a file produced by a prepare step. */
  const bindings = new Map<DatasetRef, Map<string, DatasetBinding>>();
  const datasetBinding = (dataset: DatasetRef | undefined, path: FieldPath, defaultSplit: string): DatasetBinding => {
    if (!dataset) return { inputs: {}, needs: {}, params: undefined };
    // The same dataset (one field of the file) bound twice, once per cell, is checked and reported once.
    let bySplit = bindings.get(dataset);
    if (!bySplit) bindings.set(dataset, (bySplit = new Map()));
    const known = bySplit.get(defaultSplit);
    if (known) return known;
    const params = compact({ format: dataset.format ?? 'json', split: dataset.split ?? defaultSplit, file: dataset.from ? dataset.path : undefined });
    let binding: DatasetBinding;
    if (dataset.from) {
      if (!doc.prepare?.[dataset.from]) {
        diagnostics.push(diag([...path, 'from'], `no prepare step named \`${dataset.from}\`${Object.keys(doc.prepare ?? {}).length ? `; prepare steps: ${Object.keys(doc.prepare ?? {}).join(', ')}` : ''}`, { code: 'dangling-reference' }));
      } else if (!doc.prepare[dataset.from]!.outputs.includes(dataset.path)) {
        diagnostics.push(diag([...path, 'path'], `prepare step \`${dataset.from}\` does not declare \`${dataset.path}\` among its outputs (${doc.prepare[dataset.from]!.outputs.join(', ')})`, { code: 'dangling-reference' }));
      }
      binding = { inputs: {}, needs: { dataset: `prepare/${dataset.from}` }, params };
    } else {
      binding = { inputs: { dataset: dataset.path }, needs: {}, params };
    }
    bySplit.set(defaultSplit, binding);
    return binding;
  };

  // Prepare steps: commands with declared inputs and outputs.
  for (const [name, step] of Object.entries(doc.prepare ?? {})) {
    const origins: Record<string, FieldPath> = { self: ['prepare', name], id: ['prepare', name], command: ['prepare', name, 'command'], outputs: ['prepare', name, 'outputs'] };
    const inputs: Record<string, string> = {};
    (step.inputs ?? []).forEach((path, index) => {
      inputs[path] = path;
      origins[`input:${path}`] = ['prepare', name, 'inputs', index];
    });
    const needs: Record<string, string> = {};
    for (const need of step.needs ?? []) needs[need] = `prepare/${need}`;
    add({
      id: `prepare/${name}`,
      step: 'prepare',
      rule: 'command',
      params: compact({ command: step.command, outputs: step.outputs, requires: step.requires, params: step.params }),
      inputs,
      needs,
      origins,
      labels: { step: name },
      resources: resourcesFor('prepare'),
    });
  }

  // Fine-tunes: one per trial, or a chain of stages per trial for a curriculum.
  const finetuneRule = typeof doc.config?.framework === 'string' ? doc.config.framework : rules.defaultFor('finetune');
  const { framework: _framework, ...config } = doc.config ?? {};
  const translating = translatingSource(source, translate);
  const trialDiagnostics: Diagnostic[] = [];
  const trials = doc.config ? expandTrials(doc, translating.source, trialDiagnostics) : [];
  diagnostics.push(...trialDiagnostics.map(translating.fix));
  const configOrigins: Record<string, FieldPath> = { self: ['config'], rule: ['config', 'framework'] };
  for (const key of Object.keys(config)) configOrigins[key] = ['config', key];
  const protocolType = doc.protocol?.type ?? 'standard';
  /** The fine-tunes whose checkpoints are the experiment's results (evaluated, exported). */
  const finals: Final[] = [];
  const members: string[] = [];

  for (const trial of trials) {
    const labels: JsonObject = { ...trial.labels, trial_id: trial.trialId };
    const stages = protocolType === 'curriculum' ? doc.protocol?.stages ?? [] : [undefined];
    if (protocolType === 'curriculum' && stages.length === 0) {
      diagnostics.push(diag(['protocol', 'type'], 'a curriculum needs `protocol.stages`: a list of {name, dataset}', { code: 'missing-key' }));
    }
    let previous: string | undefined;
    let trained: JsonObject = config;
    stages.forEach((stage, stageIndex) => {
      const stageOverrides = stage?.config ?? {};
      const origins: Record<string, FieldPath> = { ...configOrigins, ...trial.origins };
      for (const key of Object.keys(stageOverrides)) origins[key] = ['protocol', 'stages', stageIndex, 'config', key];
      const datasetPath: FieldPath = stage ? ['protocol', 'stages', stageIndex, 'dataset'] : trial.dataset && trial.path ? [...trial.path, 'dataset'] : ['dataset'];
      const dataset = datasetBinding(stage ? stage.dataset : trial.dataset ?? doc.dataset, datasetPath, 'train');
      origins.dataset = datasetPath;
      const id = stage ? `finetune/${trial.label}/${stageIndex + 1}-${stage.name}` : `finetune/${trial.label}`;
      const needs: Record<string, string> = { ...dataset.needs };
      if (previous) needs.init = previous; // start from the previous stage's checkpoint
      // What it trains with; the evaluations of its checkpoints read their prompt and model from it.
      const params = compact({ ...config, ...trial.overrides, ...stageOverrides, dataset: dataset.params });
      trained = params;
      add({
        id,
        step: 'finetune',
        rule: finetuneRule,
        params,
        inputs: dataset.inputs,
        needs,
        origins,
        labels: stage ? { ...labels, stage: stage.name } : labels,
        resources: trial.resources ? { ...resourcesFor('finetune'), ...trial.resources } : resourcesFor('finetune'),
        earlyStopLoss: doc.protocol?.early_stop_loss,
      }, siteOf(trained.base_model));
      previous = id;
    });
    if (previous && byId.has(previous)) {
      if (protocolType === 'ensemble') members.push(previous);
      finals.push({ id: previous, trial, kind: 'finetune', config: trained });
    }
  }

  if (protocolType === 'ensemble' && members.length > 0) {
    const merge = doc.protocol?.merge ?? {};
    const needs: Record<string, string> = {};
    members.forEach((member, index) => (needs[`member${index + 1}`] = member));
    const id = 'merge/ensemble';
    add({
      id,
      step: 'merge',
      rule: 'adapter-merge',
      params: compact({ method: merge.method ?? 'linear', weights: merge.weights, density: merge.density, base_model: config.base_model, members: members.length }),
      inputs: {},
      needs,
      origins: { self: ['protocol', 'merge'], id: ['protocol', 'members'] },
      labels: { ensemble: members.length },
      resources: resourcesFor('merge'),
    }, siteOf(config.base_model));
    finals.push({ id, trial: { trialId: 0, label: 'ensemble', overrides: {}, origins: {}, labels: {} }, kind: 'merge', config });
  }

  // A list run's own prompt is checked like config.prompt (the loader checks that one).
  for (const trial of trials) {
    if (trial.path && typeof trial.overrides.prompt === 'string') checkPlaceholder(trial.overrides.prompt, [...trial.path, 'prompt'], diagnostics, diag);
  }

  // Evaluation cells.
  const evaluation = doc.evaluation;
  if (evaluation) {
    const evalRule = rules.defaultFor('evaluate');
    const checkpoints = evaluation.checkpoints ?? [];
    /** The dataset a cell reads: its task's, else its run's evaluation (or training) dataset, else the experiment's. */
    const cellDataset = (task: EvaluationTask, taskPath: FieldPath, own: Array<{ ref: DatasetRef | undefined; path: FieldPath }>): { binding: DatasetBinding; missing: boolean } => {
      const choices = [{ ref: task.dataset, path: [...taskPath, 'dataset'] as FieldPath }, ...own, { ref: doc.dataset, path: ['dataset'] as FieldPath }];
      const chosen = choices.find((choice) => choice.ref !== undefined);
      return { binding: datasetBinding(chosen?.ref, chosen?.path ?? taskPath, 'test'), missing: chosen === undefined };
    };
    const reportedMissing = new Set<string>();
    const reportMissingDataset = (task: EvaluationTask, taskPath: FieldPath): void => {
      if (reportedMissing.has(task.name)) return;
      reportedMissing.add(task.name);
      diagnostics.push(diag(taskPath, `task \`${task.name}\` has no dataset and the experiment has none either`, { code: 'missing-key' }));
    };
    const promptOrigin = (task: EvaluationTask, taskPath: FieldPath, runPrompt: FieldPath | undefined): FieldPath => (task.prompt !== undefined ? [...taskPath, 'prompt'] : runPrompt ?? ['config', 'prompt']);
    const checkpointConfig = (checkpoint: EvaluationCheckpoint): JsonObject => compact({ ...config, base_model: checkpoint.base_model, prompt: checkpoint.prompt ?? (config.prompt as Json | undefined) });
    const checkpointParams = (checkpoint: EvaluationCheckpoint): JsonObject => (checkpoint.path === undefined ? { model_kind: 'base' } : { model_kind: 'checkpoint', checkpoint_path: checkpoint.path });

    // Checkpoint names share the namespace of the runs the matrix refers to.
    const checkpointsByName = new Map<string, { checkpoint: EvaluationCheckpoint; index: number }>();
    const finalsByLabel = new Map(finals.map((final) => [final.trial.label, final]));
    checkpoints.forEach((checkpoint, index) => {
      const path: FieldPath = ['evaluation', 'checkpoints', index, 'name'];
      if (checkpointsByName.has(checkpoint.name) || finalsByLabel.has(checkpoint.name)) {
        diagnostics.push(diag(path, `\`${checkpoint.name}\` already names ${finalsByLabel.has(checkpoint.name) ? 'a fine-tune of this experiment' : 'another checkpoint'}`, { code: 'duplicate-run' }));
        return;
      }
      checkpointsByName.set(checkpoint.name, { checkpoint, index });
      if (checkpoint.prompt !== undefined) checkPlaceholder(checkpoint.prompt, ['evaluation', 'checkpoints', index, 'prompt'], diagnostics, diag);
    });
    if (evaluation.matrix) {
      expandMatrix();
    } else {
      expandModels();
    }

    /** Without a matrix: every task × (the base model, every result × epochs, every checkpoint). */
    function expandModels(): void {
      const ev = evaluation!;
      const models = ev.models ?? ['base', 'finetuned'];
      const epochs = ev.epochs ?? ['last'];
      ev.tasks.forEach((task, taskIndex) => {
        const taskPath: FieldPath = ['evaluation', 'tasks', taskIndex];
        const origins = (runPrompt?: FieldPath): Record<string, FieldPath> => ({ self: taskPath, id: taskPath, script: [...taskPath, 'script'], prompt: promptOrigin(task, taskPath, runPrompt), epoch: ['evaluation', 'epochs'] });
        // Most results share the experiment's evaluation settings, dataset and origins: computed once per task.
        const shared = { params: evalParams(task, ev, config), dataset: cellDataset(task, taskPath, []), origins: origins() };
        if (models.includes('base') && config.base_model === undefined) {
          diagnostics.push(diag(['evaluation', 'models'], 'evaluating the base model needs `config.base_model`', { code: 'missing-key' }));
        } else if (models.includes('base')) {
          const dataset = shared.dataset;
          if (dataset.missing) reportMissingDataset(task, taskPath);
          add({
            id: `evaluate/${task.name}/base`,
            step: 'evaluate',
            rule: evalRule,
            params: compact({ ...shared.params, model_kind: 'base', dataset: dataset.binding.params }),
            inputs: { script: task.script, ...dataset.binding.inputs },
            needs: { ...dataset.binding.needs },
            origins: shared.origins,
            labels: { task: task.name, model: 'base' },
            resources: resourcesFor('evaluate'),
          }, siteOf(config.base_model));
        }
        if (models.includes('finetuned')) {
          for (const result of finals) {
            const upstream = resolved.get(result.id)?.params;
            if (!upstream) continue;
            const dataset = result.trial.path ? cellDataset(task, taskPath, ownDatasets(result.trial)) : shared.dataset;
            if (dataset.missing) reportMissingDataset(task, taskPath);
            const params = sameEvaluation(result.config, config) ? shared.params : evalParams(task, ev, result.config);
            const cellOrigins = runPromptOrigin(result.trial) ? origins(runPromptOrigin(result.trial)) : shared.origins;
            const cellEpochs = result.kind === 'merge' ? [null] : checkpointEpochs(epochs, upstream.epochs);
            for (const epoch of cellEpochs) {
              if (epoch !== null && typeof upstream.epochs === 'number' && epoch >= upstream.epochs) {
                diagnostics.push(diag(['evaluation', 'epochs'], `epoch ${epoch} does not exist: \`${result.id}\` trains ${upstream.epochs} epoch(s), numbered from 0`, { code: 'out-of-range' }));
                continue;
              }
              const suffix = epoch === null ? '' : `/epoch${epoch}`;
              add({
                id: `evaluate/${task.name}/${result.id.slice(result.id.indexOf('/') + 1)}${suffix}`,
                step: 'evaluate',
                rule: evalRule,
                params: compact({ ...params, model_kind: 'finetuned', epoch: epoch ?? undefined, dataset: dataset.binding.params }),
                inputs: { script: task.script, ...dataset.binding.inputs },
                needs: { ...dataset.binding.needs, checkpoint: result.id },
                origins: cellOrigins,
                labels: { task: task.name, ...result.trial.labels, ...(epoch === null ? {} : { epoch }) },
                resources: resourcesFor('evaluate'),
              }, siteOf(result.config.base_model));
            }
          }
        }
        for (const { checkpoint, index } of checkpointsByName.values()) {
          const path: FieldPath = ['evaluation', 'checkpoints', index];
          const dataset = cellDataset(task, taskPath, [{ ref: checkpoint.eval_dataset, path: [...path, 'eval_dataset'] }]);
          if (dataset.missing) reportMissingDataset(task, taskPath);
          add({
            id: `evaluate/${task.name}/${checkpoint.name}`,
            step: 'evaluate',
            rule: evalRule,
            params: compact({ ...evalParams(task, ev, checkpointConfig(checkpoint)), ...checkpointParams(checkpoint), dataset: dataset.binding.params }),
            inputs: { script: task.script, ...dataset.binding.inputs },
            needs: { ...dataset.binding.needs },
            origins: { ...origins(checkpoint.prompt !== undefined ? [...path, 'prompt'] : undefined), self: path, id: [...path, 'name'], checkpoint_path: [...path, 'path'], model_kind: checkpoint.path !== undefined ? [...path, 'path'] : [...path, 'name'] },
            labels: { task: task.name, model: checkpoint.name },
            resources: resourcesFor('evaluate'),
          }, siteOf(checkpoint.base_model));
        }
      });
    }

    /** With a matrix: exactly its rows, run × tasks × epochs. */
    function expandMatrix(): void {
      const ev = evaluation!;
      if (ev.models !== undefined) diagnostics.push(diag(['evaluation', 'models'], '`models` is ignored when `evaluation.matrix` lists the cells', { code: 'ignored-key', severity: 'warning' }));
      const tasksByName = new Map(ev.tasks.map((task, index) => [task.name, { task, index }]));
      const evaluated = new Set<string>();
      ev.matrix!.forEach((entry, row) => {
        const rowPath: FieldPath = ['evaluation', 'matrix', row];
        const final = finalsByLabel.get(entry.run);
        const named = final ? undefined : checkpointsByName.get(entry.run);
        const isBase = !final && !named && entry.run === 'base';
        if (!final && !named && !isBase) {
          // A fine-tune that failed to expand was already reported; anything else is a dangling name.
          if (trials.some((trial) => trial.label === entry.run)) return;
          const known = [...finalsByLabel.keys(), ...checkpointsByName.keys()];
          diagnostics.push(diag([...rowPath, 'run'], `no run named \`${entry.run}\`${known.length ? `; runs: ${known.join(', ')}` : ''}`, { code: 'dangling-reference' }));
          return;
        }
        evaluated.add(entry.run);
        const taskNames = entry.tasks ?? ev.tasks.map((task) => task.name);
        const rowTasks: Array<{ task: EvaluationTask; index: number }> = [];
        taskNames.forEach((name, index) => {
          const found = tasksByName.get(name);
          if (found) rowTasks.push(found);
          else diagnostics.push(diag([...rowPath, 'tasks', index], `no task named \`${name}\`; tasks: ${ev.tasks.map((task) => task.name).join(', ')}`, { code: 'dangling-reference' }));
        });
        // A display label (reports, the manifest): "{vis_label} ({task})" when the row lists several tasks.
        const several = taskNames.length > 1;
        const visLabel = (task: EvaluationTask): string | undefined => (entry.vis_label === undefined ? undefined : several ? `${entry.vis_label} (${task.name})` : entry.vis_label);
        const cellOrigins = (task: EvaluationTask, taskIndex: number, runPrompt: FieldPath | undefined): Record<string, FieldPath> => {
          const taskPath: FieldPath = ['evaluation', 'tasks', taskIndex];
          return { self: rowPath, id: [...rowPath, 'run'], script: [...taskPath, 'script'], prompt: promptOrigin(task, taskPath, runPrompt), epoch: [...rowPath, 'epochs'], args: [...taskPath, 'args'] };
        };

        if (final && final.kind === 'finetune') {
          if (entry.epochs === null) {
            diagnostics.push(diag([...rowPath, 'epochs'], `\`${entry.run}\` is fine-tuned here: list the 0-indexed epochs whose checkpoints to evaluate (null is for controls and eval-only runs)`, { code: 'missing-key' }));
            return;
          }
          const upstream = resolved.get(final.id)?.params;
          if (!upstream) return;
          const trainedEpochs = typeof upstream.epochs === 'number' ? upstream.epochs : undefined;
          const requested = entry.epochs ?? ev.epochs ?? ['last'];
          const epochsPath: FieldPath = entry.epochs ? [...rowPath, 'epochs'] : ['evaluation', 'epochs'];
          const cellEpochs = new Map<number, number>(); // epoch → index in the list, for positions
          requested.forEach((value, index) => {
            const expanded = value === 'last' ? [(trainedEpochs ?? 1) - 1] : value === 'all' ? Array.from({ length: trainedEpochs ?? 1 }, (_, e) => e) : [value];
            for (const epoch of expanded) {
              if (trainedEpochs !== undefined && epoch >= trainedEpochs) {
                diagnostics.push(diag([...epochsPath, index], `epoch ${epoch} does not exist: \`${entry.run}\` trains ${trainedEpochs} epoch(s), numbered from 0`, { code: 'out-of-range' }));
                continue;
              }
              if (!cellEpochs.has(epoch)) cellEpochs.set(epoch, index);
            }
          });
          const epochs = [...cellEpochs.keys()].sort((a, b) => a - b);
          for (const { task, index: taskIndex } of rowTasks) {
            const taskPath: FieldPath = ['evaluation', 'tasks', taskIndex];
            const dataset = cellDataset(task, taskPath, ownDatasets(final.trial));
            if (dataset.missing) reportMissingDataset(task, taskPath);
            for (const epoch of epochs) {
              const cell = `${task.name}_epoch${epoch}`;
              const label = visLabel(task);
              add({
                id: `evaluate/${task.name}/${final.id.slice(final.id.indexOf('/') + 1)}/epoch${epoch}`,
                step: 'evaluate',
                rule: evalRule,
                params: compact({ ...evalParams(task, ev, final.config), model_kind: 'finetuned', epoch, dataset: dataset.binding.params }),
                inputs: { script: task.script, ...dataset.binding.inputs },
                needs: { ...dataset.binding.needs, checkpoint: final.id },
                origins: { ...cellOrigins(task, taskIndex, runPromptOrigin(final.trial)), epoch: [...epochsPath, cellEpochs.get(epoch)!] },
                labels: compact({ ...final.trial.labels, run: entry.run, task: task.name, cell, epoch, vis_label: label }),
                resources: resourcesFor('evaluate'),
              }, siteOf(final.config.base_model));
            }
          }
          return;
        }

        // The base model, a checkpoint or a merged ensemble: one cell per task, no epochs.
        if (Array.isArray(entry.epochs)) {
          const what = final ? 'the merged ensemble has' : named?.checkpoint.path !== undefined ? 'an eval-only checkpoint has' : 'a control (the base model as-is) has';
          diagnostics.push(diag([...rowPath, 'epochs'], `\`${entry.run}\` is not trained here: ${what} no training epochs; use \`epochs: null\``, { code: 'invalid-value' }));
          return;
        }
        for (const { task, index: taskIndex } of rowTasks) {
          const taskPath: FieldPath = ['evaluation', 'tasks', taskIndex];
          const label = visLabel(task);
          const cell = task.name;
          let params: JsonObject;
          let dataset: ReturnType<typeof cellDataset>;
          let needs: Record<string, string> = {};
          let runPrompt: FieldPath | undefined;
          let labels: JsonObject;
          let baseModel: Json | undefined;
          if (final) {
            dataset = cellDataset(task, taskPath, []);
            params = { ...evalParams(task, ev, final.config), model_kind: 'finetuned' };
            needs = { checkpoint: final.id };
            labels = { ...final.trial.labels, run: entry.run, task: task.name, cell };
            baseModel = final.config.base_model;
          } else if (named) {
            const path: FieldPath = ['evaluation', 'checkpoints', named.index];
            dataset = cellDataset(task, taskPath, [{ ref: named.checkpoint.eval_dataset, path: [...path, 'eval_dataset'] }]);
            params = { ...evalParams(task, ev, checkpointConfig(named.checkpoint)), ...checkpointParams(named.checkpoint) };
            runPrompt = named.checkpoint.prompt !== undefined ? [...path, 'prompt'] : undefined;
            labels = { run: entry.run, task: task.name, cell, model: named.checkpoint.path === undefined ? 'base' : 'checkpoint' };
            baseModel = named.checkpoint.base_model;
          } else {
            if (config.base_model === undefined) {
              diagnostics.push(diag([...rowPath, 'run'], 'evaluating the base model needs `config.base_model`', { code: 'missing-key' }));
              return;
            }
            dataset = cellDataset(task, taskPath, []);
            params = { ...evalParams(task, ev, config), model_kind: 'base' };
            labels = { run: entry.run, task: task.name, cell, model: 'base' };
            baseModel = config.base_model;
          }
          if (dataset.missing) reportMissingDataset(task, taskPath);
          const origins = cellOrigins(task, taskIndex, runPrompt);
          if (named) {
            origins.checkpoint_path = ['evaluation', 'checkpoints', named.index, 'path'];
            origins.model_kind = named.checkpoint.path !== undefined ? origins.checkpoint_path : ['evaluation', 'checkpoints', named.index, 'name'];
          }
          add({
            id: `evaluate/${task.name}/${final ? final.id.slice(final.id.indexOf('/') + 1) : entry.run}`,
            step: 'evaluate',
            rule: evalRule,
            params: compact({ ...params, dataset: dataset.binding.params }),
            inputs: { script: task.script, ...dataset.binding.inputs },
            needs: { ...dataset.binding.needs, ...needs },
            origins,
            labels: compact({ ...labels, vis_label: label }),
            resources: resourcesFor('evaluate'),
          }, siteOf(baseModel));
        }
      });
      // A result nobody evaluates, or a checkpoint listed for nothing, is probably a mistake.
      for (const final of finals) {
        if (evaluated.has(final.trial.label)) continue;
        diagnostics.push(diag(final.trial.path ?? ['protocol'], `\`${final.trial.label}\` is trained but no evaluation.matrix row evaluates it`, { code: 'unused', severity: 'warning' }));
      }
      for (const { checkpoint, index } of checkpointsByName.values()) {
        if (evaluated.has(checkpoint.name)) continue;
        diagnostics.push(diag(['evaluation', 'checkpoints', index], `\`${checkpoint.name}\` is in no evaluation.matrix row, so nothing evaluates it`, { code: 'unused', severity: 'warning' }));
      }
    }
  }

  // Optimisation runs (DSPy): a program, an LM, a teleprompter and datasets.
  for (const [name, spec] of Object.entries(doc.optimize ?? {})) {
    const path: FieldPath = ['optimize', name];
    const trainset = datasetBinding(spec.trainset ?? doc.dataset, spec.trainset ? [...path, 'trainset'] : ['dataset'], 'train');
    const valset = spec.valset ? datasetBinding(spec.valset, [...path, 'valset'], 'validation') : undefined;
    const needs: Record<string, string> = {};
    for (const [role, id] of Object.entries(trainset.needs)) needs[`train_${role}`] = id;
    for (const [role, id] of Object.entries(valset?.needs ?? {})) needs[`val_${role}`] = id;
    const inputs: Record<string, string> = { program: spec.program };
    if (trainset.inputs.dataset) inputs.trainset = trainset.inputs.dataset;
    if (valset?.inputs.dataset) inputs.valset = valset.inputs.dataset;
    const lmFinetuned = spec.lm === 'finetuned' ? finals.find((f) => f.kind === 'finetune') : undefined;
    if (lmFinetuned) needs.checkpoint = lmFinetuned.id;
    const origins: Record<string, FieldPath> = { self: path, id: path, program: [...path, 'program'], trainset: [...path, 'trainset'], valset: [...path, 'valset'] };
    for (const key of Object.keys(spec)) origins[key] = [...path, key];
    add({
      id: `optimize/${name}`,
      step: 'optimize',
      rule: spec.framework ?? rules.defaultFor('optimize'),
      params: compact({
        module: spec.module,
        lm: spec.lm,
        base_model: spec.lm === 'base' || spec.lm === 'finetuned' ? config.base_model : undefined,
        teleprompter: spec.teleprompter,
        metric: spec.metric,
        trainset: trainset.params,
        valset: valset?.params,
        params: spec.params,
        seed: spec.seed,
      }),
      inputs,
      needs,
      origins,
      labels: { optimize: name },
      resources: resourcesFor('optimize'),
    });
  }

  // Exports: merge the adapter into the base model and/or convert, per result.
  const output = doc.output;
  const exportFormat = output?.export_format ?? 'none';
  if (output && (output.merge_after || exportFormat !== 'none')) {
    for (const result of finals) {
      add({
        id: `export/${result.id.slice(result.id.indexOf('/') + 1)}`,
        step: 'export',
        rule: 'export',
        params: { format: exportFormat, merge: output.merge_after ?? exportFormat !== 'none', base_model: config.base_model ?? null, source_kind: result.kind },
        inputs: {},
        needs: { checkpoint: result.id },
        origins: { self: ['output'], id: ['output'] },
        labels: { ...result.trial.labels },
        resources: resourcesFor('export'),
      }, siteOf(config.base_model));
    }
  }

  return { runs, resolved, diagnostics };
}

/** A list run's own datasets for its evaluation cells: its evaluation dataset, else its training dataset. */
function ownDatasets(trial: Trial): Array<{ ref: DatasetRef | undefined; path: FieldPath }> {
  if (!trial.path) return [];
  return [
    { ref: trial.evalDataset, path: [...trial.path, 'eval_dataset'] },
    { ref: trial.dataset, path: [...trial.path, 'dataset'] },
  ];
}

/** The settings an evaluation takes from what its model was trained with. */
const EVALUATION_SETTINGS = ['base_model', 'prompt', 'system_prompt', 'dataset_type'];

function sameEvaluation(trained: JsonObject, config: JsonObject): boolean {
  return trained === config || EVALUATION_SETTINGS.every((key) => trained[key] === config[key]);
}

function runPromptOrigin(trial: Trial): FieldPath | undefined {
  return trial.overrides.prompt !== undefined ? trial.origins.prompt : undefined;
}

function checkPlaceholder(prompt: string, at: FieldPath, diagnostics: Diagnostic[], diag: (path: FieldPath, message: string, options: { code: DiagnosticCode }) => Diagnostic): void {
  const problem = promptProblem(prompt);
  if (problem) diagnostics.push(diag(at, problem.message, { code: problem.code }));
}

/**
 * The parameters of an evaluation cell. `config` is what the evaluated model was trained with
 * (the experiment's config with its run's overrides), so that prompt, system prompt and chat
 * template at evaluation are those of training: precedence task > run > experiment.
 */
function evalParams(task: EvaluationTask, evaluation: Evaluation, config: JsonObject): JsonObject {
  return compact({
    task: task.name,
    task_function: task.task ?? task.name,
    base_model: config.base_model,
    // Train/eval parity: the prompt the model was trained with is the prompt it is tested with.
    prompt: task.prompt ?? config.prompt,
    system_prompt: task.system_prompt ?? config.system_prompt,
    dataset_type: config.dataset_type,
    seed: evaluation.seed ?? DEFAULT_SEED,
    max_connections: evaluation.max_connections,
    max_tokens: task.max_tokens ?? evaluation.max_tokens,
    do_sample: evaluation.do_sample,
    temperature: evaluation.temperature,
    limit: evaluation.limit,
    scorers: evaluation.scorers as Json | undefined,
    args: task.args,
  });
}

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
