/**
 * Experiment → runs. Prepare steps, fine-tunes (one per trial, chained for a curriculum),
 * ensemble merges, evaluation cells (task × base/fine-tuned × epoch) and exports. Each run's
 * rule resolves its parameters (defaults applied) as soon as it is created, because later runs
 * read them: an evaluation of the `last` epoch needs its fine-tune's resolved epoch count.
 */
import type { ExpandedRun, ResolvedParams, Resources, Rule, StepKind } from '../../rules/types.js';
import { type Diagnostic, type FieldPath } from '../diagnostics.js';
import { compact, type Json, type JsonObject } from '../json.js';
import { diagnosticAt } from '../source.js';
import type { DatasetRef, Experiment, EvaluationTask } from './model.js';
import { expandTrials, type Trial } from './trials.js';

export interface RuleRegistry {
  get(name: string): Rule | undefined;
  names(): string[];
  /** The rule that runs a step when the experiment names none. */
  defaultFor(step: StepKind): string;
}

export interface Expansion {
  runs: ExpandedRun[];
  resolved: Map<string, ResolvedParams>;
  diagnostics: Diagnostic[];
}

const DEFAULT_EVAL_SEED = 14;

export function expandExperiment(experiment: Experiment, rules: RuleRegistry): Expansion {
  const doc = experiment.document;
  const source = experiment.source;
  const diagnostics: Diagnostic[] = [];
  const runs: ExpandedRun[] = [];
  const byId = new Map<string, ExpandedRun>();
  const resolved = new Map<string, ResolvedParams>();
  const resourcesFor = (step: StepKind): Resources => ({ ...(doc.resources?.[step] ?? {}) });

  const add = (run: ExpandedRun): void => {
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
  const datasetBinding = (dataset: DatasetRef | undefined, path: FieldPath, defaultSplit: string): { inputs: Record<string, string>; needs: Record<string, string>; params: JsonObject | undefined } => {
    if (!dataset) return { inputs: {}, needs: {}, params: undefined };
    const params = compact({ format: dataset.format ?? 'json', split: dataset.split ?? defaultSplit, file: dataset.from ? dataset.path : undefined });
    if (dataset.from) {
      if (!doc.prepare?.[dataset.from]) {
        diagnostics.push(diagnosticAt(source, [...path, 'from'], `no prepare step named \`${dataset.from}\`${Object.keys(doc.prepare ?? {}).length ? `; prepare steps: ${Object.keys(doc.prepare ?? {}).join(', ')}` : ''}`, { code: 'dangling-reference' }));
      } else if (!doc.prepare[dataset.from]!.outputs.includes(dataset.path)) {
        diagnostics.push(diagnosticAt(source, [...path, 'path'], `prepare step \`${dataset.from}\` does not declare \`${dataset.path}\` among its outputs (${doc.prepare[dataset.from]!.outputs.join(', ')})`, { code: 'dangling-reference' }));
      }
      return { inputs: {}, needs: { dataset: `prepare/${dataset.from}` }, params };
    }
    return { inputs: { dataset: dataset.path }, needs: {}, params };
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
  const trials = doc.config ? expandTrials(doc, source, diagnostics) : [];
  const configOrigins: Record<string, FieldPath> = { self: ['config'], rule: ['config', 'framework'] };
  for (const key of Object.keys(config)) configOrigins[key] = ['config', key];
  const protocolType = doc.protocol?.type ?? 'standard';
  /** The fine-tunes whose checkpoints are the experiment's results (evaluated, exported). */
  const finals: Array<{ id: string; trial: Trial; kind: 'finetune' | 'merge' }> = [];
  const members: string[] = [];

  for (const trial of trials) {
    const labels: JsonObject = { ...trial.labels, trial_id: trial.trialId };
    const stages = protocolType === 'curriculum' ? doc.protocol?.stages ?? [] : [undefined];
    if (protocolType === 'curriculum' && stages.length === 0) {
      diagnostics.push(diagnosticAt(source, ['protocol', 'type'], 'a curriculum needs `protocol.stages`: a list of {name, dataset}', { code: 'missing-key' }));
    }
    let previous: string | undefined;
    stages.forEach((stage, stageIndex) => {
      const stageOverrides = stage?.config ?? {};
      const origins: Record<string, FieldPath> = { ...configOrigins, ...trial.origins };
      for (const key of Object.keys(stageOverrides)) origins[key] = ['protocol', 'stages', stageIndex, 'config', key];
      const datasetPath: FieldPath = stage ? ['protocol', 'stages', stageIndex, 'dataset'] : ['dataset'];
      const dataset = datasetBinding(stage ? stage.dataset : doc.dataset, datasetPath, 'train');
      origins.dataset = datasetPath;
      const id = stage ? `finetune/${trial.label}/${stageIndex + 1}-${stage.name}` : `finetune/${trial.label}`;
      const needs: Record<string, string> = { ...dataset.needs };
      if (previous) needs.init = previous; // start from the previous stage's checkpoint
      add({
        id,
        step: 'finetune',
        rule: finetuneRule,
        params: compact({ ...config, ...trial.overrides, ...stageOverrides, dataset: dataset.params }),
        inputs: dataset.inputs,
        needs,
        origins,
        labels: stage ? { ...labels, stage: stage.name } : labels,
        resources: resourcesFor('finetune'),
        earlyStopLoss: doc.protocol?.early_stop_loss,
      });
      previous = id;
    });
    if (previous && byId.has(previous)) {
      if (protocolType === 'ensemble') members.push(previous);
      finals.push({ id: previous, trial, kind: 'finetune' });
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
    });
    finals.push({ id, trial: { trialId: 0, label: 'ensemble', overrides: {}, origins: {}, labels: {} }, kind: 'merge' });
  }

  // Evaluation cells: task × (base model | each result × epochs).
  const evaluation = doc.evaluation;
  if (evaluation) {
    const models = evaluation.models ?? ['base', 'finetuned'];
    const epochs = evaluation.epochs ?? ['last'];
    evaluation.tasks.forEach((task, taskIndex) => {
      const taskPath: FieldPath = ['evaluation', 'tasks', taskIndex];
      const common = evalParams(task, evaluation, config);
      const dataset = datasetBinding(task.dataset ?? doc.dataset, task.dataset ? [...taskPath, 'dataset'] : ['dataset'], 'test');
      if (!task.dataset && !doc.dataset) {
        diagnostics.push(diagnosticAt(source, taskPath, `task \`${task.name}\` has no dataset and the experiment has none either`, { code: 'missing-key' }));
      }
      const origins: Record<string, FieldPath> = { self: taskPath, id: taskPath, script: [...taskPath, 'script'], prompt: task.prompt !== undefined ? [...taskPath, 'prompt'] : ['config', 'prompt'], epoch: ['evaluation', 'epochs'] };
      const evalRule = rules.defaultFor('evaluate');
      if (models.includes('base') && config.base_model === undefined) {
        diagnostics.push(diagnosticAt(source, ['evaluation', 'models'], 'evaluating the base model needs `config.base_model`', { code: 'missing-key' }));
      } else if (models.includes('base')) {
        add({
          id: `evaluate/${task.name}/base`,
          step: 'evaluate',
          rule: evalRule,
          params: compact({ ...common, model_kind: 'base', dataset: dataset.params }),
          inputs: { script: task.script, ...dataset.inputs },
          needs: { ...dataset.needs },
          origins,
          labels: { task: task.name, model: 'base' },
          resources: resourcesFor('evaluate'),
        });
      }
      if (!models.includes('finetuned')) return;
      for (const result of finals) {
        const upstream = resolved.get(result.id)?.params;
        if (!upstream) continue;
        const cellEpochs = result.kind === 'merge' ? [null] : checkpointEpochs(epochs, upstream.epochs);
        for (const epoch of cellEpochs) {
          if (epoch !== null && typeof upstream.epochs === 'number' && epoch >= upstream.epochs) {
            diagnostics.push(diagnosticAt(source, ['evaluation', 'epochs'], `epoch ${epoch} does not exist: \`${result.id}\` trains ${upstream.epochs} epoch(s), numbered from 0`, { code: 'out-of-range' }));
            continue;
          }
          const suffix = epoch === null ? '' : `/epoch${epoch}`;
          add({
            id: `evaluate/${task.name}/${result.id.slice(result.id.indexOf('/') + 1)}${suffix}`,
            step: 'evaluate',
            rule: evalRule,
            params: compact({ ...common, model_kind: 'finetuned', epoch: epoch ?? undefined, dataset: dataset.params }),
            inputs: { script: task.script, ...dataset.inputs },
            needs: { ...dataset.needs, checkpoint: result.id },
            origins,
            labels: { task: task.name, ...result.trial.labels, ...(epoch === null ? {} : { epoch }) },
            resources: resourcesFor('evaluate'),
          });
        }
      }
    });
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
      });
    }
  }

  return { runs, resolved, diagnostics };
}

function evalParams(task: EvaluationTask, evaluation: NonNullable<Experiment['document']['evaluation']>, config: JsonObject): JsonObject {
  return compact({
    task: task.name,
    task_function: task.task ?? task.name,
    base_model: config.base_model,
    // Train/eval parity: the prompt the model was trained with is the prompt it is tested with.
    prompt: task.prompt ?? config.prompt,
    system_prompt: task.system_prompt ?? config.system_prompt,
    dataset_type: config.dataset_type,
    seed: evaluation.seed ?? DEFAULT_EVAL_SEED,
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
