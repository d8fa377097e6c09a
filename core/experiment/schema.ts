/**
 * The JSON Schema of the experiment file. Core owns its shape (protocol, evaluation, prepare,
 * resources); the fine-tune rules own the `config` section's parameters, so the schema is
 * composed here from the rule registry. `ckbuild schema --write` saves it to
 * schema/experiment.schema.json for editors (a test keeps that file in sync).
 */
import type { JsonObject } from '../json.js';

const positiveInt = { type: 'integer', minimum: 1 } as const;
const nonNegativeNumber = { type: 'number', minimum: 0 } as const;
const memory = { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?[KMGT]?B?$', description: 'SLURM memory, e.g. 80G' } as const;
const wallTime = {
  type: 'string',
  pattern: '^([0-9]+-)?[0-9]{1,3}(:[0-5][0-9]){1,2}$',
  description: 'SLURM time limit, [D-]HH:MM:SS or MM:SS',
} as const;
const name = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', maxLength: 80 } as const;
const epochList: JsonObject = {
  type: 'array',
  minItems: 1,
  items: { oneOf: [{ enum: ['last', 'all'] }, { type: 'integer', minimum: 0 }] },
  description: '0-indexed checkpoint epochs to evaluate, or last / all.',
};

const slurmName = { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9_.,:+%=/-]+$', description: 'a SLURM name: letters, digits and _ . , : + % = / -' } as const;

export const resourcesSchema: JsonObject = {
  type: 'object',
  additionalProperties: false,
  description: 'Scheduling only: not part of any run identity.',
  properties: {
    gpus: { type: 'integer', minimum: 0 },
    cpus_per_task: positiveInt,
    mem: memory,
    time: wallTime,
    partition: slurmName,
    constraint: slurmName,
    qos: slurmName,
  },
};

const datasetRef: JsonObject = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: { type: 'string', minLength: 1, description: 'Project-relative path, or a path inside the outputs of the `from` prepare step.' },
    format: { enum: ['json', 'jsonl', 'json-chat', 'parquet', 'alpaca'], description: 'json: {"train":[…],"validation":[…],"test":[…]} of {input, output}' },
    from: { ...name, description: 'Name of the prepare step that produces this file.' },
    split: { type: 'string', description: 'Split to read (train for fine-tunes, test for evaluations).' },
  },
};

/**
 * The experiment file's JSON Schema, with the fine-tune rules' parameters as `config`. Long
 * because it is one literal: the schema reads top to bottom as the file does, and splitting it
 * into pieces would only scatter the definitions an editor shows.
 */
export function experimentSchema(configProperties: JsonObject, frameworks: string[]): JsonObject {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://ckbuild.dev/schema/experiment.schema.json',
    title: 'ckbuild experiment',
    type: 'object',
    additionalProperties: false,
    required: ['version', 'experiment_name'],
    properties: {
      $schema: { type: 'string' },
      version: { type: ['string', 'number'], enum: ['1.0', '1', 1], description: 'Experiment file format version.' },
      experiment_name: name,
      project: { type: 'string' },
      executor: { enum: ['local', 'slurm'], description: 'Where this experiment runs, whatever the site default (ckbuild.local.yaml, or SLURM where sbatch exists); --executor still wins. The tutorial says local: command steps run anywhere.' },
      question: { type: 'string', description: 'The question the experiment answers: the first line of its report.' },
      report: {
        description: '`ckbuild report`: true refreshes the report after every build; or {primary_metric, dir, after_build}.',
        oneOf: [
          { type: 'boolean' },
          {
            type: 'object',
            additionalProperties: false,
            properties: {
              primary_metric: { type: 'string', minLength: 1, description: 'The metric that ranks configurations (e.g. match_accuracy, balanced_accuracy, final_loss); default: inspect’s headline metric.' },
              dir: { type: 'string', minLength: 1, description: 'Project-relative folder of the report (default: <experiment>.report next to the manifest).' },
              after_build: { type: 'boolean', description: 'Refresh the report after every build (default true when this block is given).' },
            },
          },
        ],
      },
      hypothesis: { type: 'string' },
      purpose: { type: 'string' },
      date: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'YYYY-MM-DD' },
      seed: { type: 'integer', minimum: 0, description: 'Seeds the standard protocol’s sampling; the plan is stable for a given seed.' },
      dataset: datasetRef,
      config: {
        type: 'object',
        additionalProperties: false,
        required: ['base_model'],
        properties: { framework: { enum: frameworks }, ...configProperties },
      },
      protocol: {
        type: 'object',
        additionalProperties: false,
        properties: {
          type: { enum: ['standard', 'grid', 'ablation', 'curriculum', 'ensemble', 'list'] },
          runs: {
            type: 'array',
            description: 'list: explicit fine-tunes by name, each with its config overrides (e.g. {name: rank4, lora_rank: 4}).',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name'],
              properties: {
                ...configProperties,
                name,
                dataset: datasetRef,
                eval_dataset: { ...datasetRef, description: 'Dataset of this run’s evaluation cells when their task names none.' },
                resources: resourcesSchema,
              },
            },
          },
          trials: { ...positiveInt, description: 'standard: how many trials to draw from the search space.' },
          max_trials: { ...positiveInt, description: 'The most trials the protocol may expand to (default 50,000): a larger sweep is refused before planning, with its count; raise this if you mean it.' },
          vary: {
            type: 'object',
            description: 'grid: cartesian product; ablation: one parameter at a time around config.',
            additionalProperties: { type: 'array', minItems: 1 },
          },
          search_space: {
            type: 'object',
            additionalProperties: false,
            properties: {
              lr_min: { type: 'number', exclusiveMinimum: 0 },
              lr_max: { type: 'number', exclusiveMinimum: 0 },
              rank_choices: { type: 'array', minItems: 1, items: positiveInt },
              choices: { type: 'object', additionalProperties: { type: 'array', minItems: 1 } },
              log_uniform: { type: 'object', additionalProperties: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'number', exclusiveMinimum: 0 } } },
              uniform: { type: 'object', additionalProperties: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'number' } } },
            },
          },
          seeds: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0 } },
          stages: {
            type: 'array',
            minItems: 1,
            description: 'curriculum: fine-tunes in order, each starting from the previous stage’s checkpoint.',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'dataset'],
              properties: { name, dataset: datasetRef, config: { type: 'object' } },
            },
          },
          members: {
            description: 'ensemble: a number of adapters differing by seed, or a list of config overrides.',
            oneOf: [positiveInt, { type: 'array', minItems: 2, items: { type: 'object' } }],
          },
          merge: {
            type: 'object',
            additionalProperties: false,
            properties: {
              method: { enum: ['linear', 'ties', 'dare_linear', 'cat'] },
              weights: { type: 'array', items: { type: 'number' } },
              density: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
            },
          },
          budget_gpu_hours: nonNegativeNumber,
          budget_dollars: nonNegativeNumber,
          early_stop_loss: { type: 'number', exclusiveMinimum: 0, description: 'Stop a fine-tune whose loss exceeds this, or is NaN/Inf.' },
        },
      },
      prepare: {
        type: 'object',
        description: 'Data-preparation steps by name: commands with declared inputs and outputs.',
        propertyNames: name,
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          required: ['command', 'outputs'],
          properties: {
            command: { type: 'string', minLength: 1 },
            inputs: { type: 'array', items: { type: 'string', minLength: 1 } },
            outputs: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
            needs: { type: 'array', items: name },
            requires: { type: 'array', items: { type: 'string' } },
            params: { type: 'object' },
          },
        },
      },
      evaluation: {
        type: 'object',
        additionalProperties: false,
        required: ['tasks'],
        properties: {
          tasks: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'script'],
              properties: {
                name,
                script: { type: 'string', minLength: 1 },
                description: { type: 'string' },
                task: { type: 'string', description: 'The @task function; defaults to name.' },
                dataset: datasetRef,
                args: { type: 'object', description: 'Extra -T task arguments.' },
                prompt: { type: 'string' },
                system_prompt: { type: 'string' },
                max_tokens: positiveInt,
              },
            },
          },
          models: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['base', 'finetuned'] } },
          epochs: epochList,
          checkpoints: {
            type: 'array',
            description: 'Models evaluated but not trained here: an existing checkpoint (path), or the base model as-is (no path: a control).',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'base_model'],
              properties: {
                name,
                base_model: { type: 'string', minLength: 1 },
                path: { type: 'string', minLength: 1, description: 'Checkpoint directory (adapter or merged model); identified by this path.' },
                prompt: { type: 'string' },
                eval_dataset: datasetRef,
              },
            },
          },
          matrix: {
            type: 'array',
            minItems: 1,
            description: 'Exactly these cells: run × tasks × epochs (replaces models × epochs).',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['run'],
              properties: {
                run: { type: 'string', minLength: 1, description: 'A trial label (a list run’s name), a checkpoint name, or base.' },
                tasks: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string' } },
                epochs: { oneOf: [epochList, { type: 'null' }] },
                vis_label: { type: 'string', minLength: 1 },
              },
            },
          },
          seed: { type: 'integer', minimum: 0 },
          max_connections: positiveInt,
          max_tokens: positiveInt,
          do_sample: { type: 'boolean' },
          temperature: { type: 'number', exclusiveMinimum: 0 },
          limit: positiveInt,
          scorers: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name'],
              properties: { name: { type: 'string' }, params: { type: 'object' } },
            },
          },
        },
      },
      optimize: {
        type: 'object',
        description: 'Prompt/program optimisation runs by name (DSPy): program, LM, teleprompter, datasets.',
        propertyNames: name,
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          required: ['program', 'lm'],
          properties: {
            framework: { enum: ['dspy'] },
            program: { type: 'string', minLength: 1, description: 'Python file defining the DSPy program (a dspy.Module).' },
            module: { type: 'string', description: 'Name of the dspy.Module class in the program file.' },
            lm: { type: 'string', minLength: 1, description: 'LiteLLM model id (e.g. openai/gpt-4o-mini), or `base` / `finetuned` for the experiment’s model.' },
            teleprompter: { enum: ['BootstrapFewShot', 'BootstrapFewShotWithRandomSearch', 'MIPROv2', 'COPRO', 'LabeledFewShot'] },
            metric: { type: 'string', description: 'exact_match, or module:function in the program file.' },
            trainset: datasetRef,
            valset: datasetRef,
            params: { type: 'object', description: 'Teleprompter arguments (max_bootstrapped_demos, num_candidates, …).' },
            seed: { type: 'integer', minimum: 0 },
          },
        },
      },
      reproduce: {
        type: 'object',
        additionalProperties: false,
        description: 'How `ckbuild reproduce` judges a reproduction of these runs (never part of a run key).',
        properties: {
          tolerances: {
            type: 'object',
            description: 'Absolute tolerance per metric, for metrics that are not bit-reproducible (GPU kernels, sampling); `*` applies to every metric not named. `--tolerance` overrides per metric.',
            additionalProperties: { type: 'number', minimum: 0 },
          },
        },
      },
      resources: {
        type: 'object',
        additionalProperties: false,
        properties: {
          optimize: resourcesSchema,
          prepare: resourcesSchema,
          finetune: resourcesSchema,
          evaluate: resourcesSchema,
          merge: resourcesSchema,
          export: resourcesSchema,
        },
      },
      models: {
        type: 'object',
        description: 'Where base models live, by name (site information: never part of a run key).',
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          required: ['path'],
          properties: { path: { type: 'string', minLength: 1 } },
        },
      },
      output: {
        type: 'object',
        additionalProperties: false,
        properties: {
          export_format: { enum: ['gguf', 'safetensors', 'none'] },
          merge_after: { type: 'boolean' },
        },
      },
    },
  };
}
