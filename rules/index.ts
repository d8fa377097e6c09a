/**
 * The rule registry: every framework ckbuild knows. Adding a framework means adding a module
 * here and its templates; core reaches rules only through this registry.
 */
import type { JsonObject } from '../core/json.js';
import { experimentSchema } from '../core/experiment/schema.js';
import { adapterMergeRule } from './adapterMerge.js';
import { commandRule } from './command.js';
import { dspyRule } from './dspy.js';
import { exportRule } from './export.js';
import { inspectRule } from './inspect/index.js';
import { torchtuneRule } from './torchtune/index.js';
import type { Rule, StepKind } from '../core/rule.js';

const RULES: readonly Rule[] = [torchtuneRule, inspectRule, commandRule, dspyRule, exportRule, adapterMergeRule];

const byName = new Map(RULES.map((rule) => [rule.name, rule]));

const DEFAULTS: Record<StepKind, string> = {
  prepare: 'command',
  finetune: 'torchtune',
  evaluate: 'inspect',
  merge: 'adapter-merge',
  export: 'export',
  optimize: 'dspy',
};

let schema: JsonObject | undefined;

export const ruleRegistry = {
  get: (name: string): Rule | undefined => byName.get(name),
  names: (): string[] => [...byName.keys()],
  all: (): readonly Rule[] => RULES,
  defaultFor: (step: StepKind): string => DEFAULTS[step],
  /** The experiment schema, with the fine-tune rules' parameters as `config`. */
  schema(): JsonObject {
    if (schema) return schema;
    const finetuners = RULES.filter((rule) => rule.steps.includes('finetune'));
    const properties: JsonObject = {};
    for (const rule of finetuners) Object.assign(properties, rule.paramsSchema ?? {});
    schema = experimentSchema(properties, finetuners.map((rule) => rule.name));
    return schema;
  },
};
