/**
 * The descriptive sections: `experiment` (the name and the research question), `tools` (only
 * torchtune and inspect-ai exist there) and `output` (only the W&B project, which ckbuild does
 * not need).
 */
import { isAbsolute } from 'node:path';
import type { ExperimentDocument } from '../../experiment/model.js';
import type { JsonObject } from '../../json.js';
import { type Conversion, describe } from './conversion.js';

/** experiment → the experiment's name and description. */
export function convertExperiment(c: Conversion, data: JsonObject, document: ExperimentDocument): void {
  const experiment = c.mapping(data.experiment, ['experiment'], '`experiment`') ?? {};
  c.keys(experiment, ['experiment'], '`experiment`', ['name', 'project', 'question', 'date', 'hypothesis', 'purpose', 'dir'], {
    directory: { rename: 'dir' },
    seed: { message: `\`experiment.seed\` was removed (cruijff_kit 0.3.4): training and evaluation are seeded separately; replace it with \`controls.seed: ${JSON.stringify(experiment.seed ?? null)}\` (training) and \`evaluation.seed: ${JSON.stringify(experiment.seed ?? null)}\` (evaluation)` },
    type: { severity: 'warning', message: '`experiment.type` was dropped in cruijff_kit 0.3.0 (the project is the namespace); ignored' },
  });
  const name = c.string(experiment, 'name', ['experiment'], 'error', { nonEmpty: true });
  if (name !== undefined) {
    document.experiment_name = name;
    c.from(['experiment_name'], ['experiment', 'name']);
  }
  const project = c.string(experiment, 'project', ['experiment'], 'warning', { nonEmpty: true, why: 'ckbuild uses it only to group experiments' });
  if (project !== undefined) {
    document.project = project;
    c.from(['project'], ['experiment', 'project']);
  }
  for (const field of ['question', 'hypothesis', 'purpose'] as const) {
    const text = c.string(experiment, field, ['experiment'], field === 'question' ? 'warning' : 'optional');
    if (text !== undefined) {
      document[field] = text;
      c.from([field], ['experiment', field]);
    }
  }
  const date = c.string(experiment, 'date', ['experiment'], 'warning');
  if (date !== undefined) {
    if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(date)) c.error(['experiment', 'date'], `${describe(date)} is not a date; use YYYY-MM-DD`, 'invalid-value');
    else {
      document.date = date;
      c.from(['date'], ['experiment', 'date']);
    }
  }
  const dir = c.string(experiment, 'dir', ['experiment'], 'warning', { nonEmpty: true, why: 'ckbuild keeps run outputs under its runs root instead', legacy: 'directory' });
  if (dir !== undefined) {
    if (!isAbsolute(dir)) c.warn(['experiment', 'dir'], 'the experiment directory should be an absolute path', 'invalid-value');
    c.notes.push(`experiment.dir (${dir}) is not carried: ckbuild writes each run under its runs root (\`runs_root\` in ckbuild.local.yaml; default ./runs), in a directory named by the run's key.`);
  }
}

/** tools: only torchtune and inspect-ai exist there. */
export function convertTools(c: Conversion, data: JsonObject): void {
  const tools = c.mapping(data.tools, ['tools'], '`tools`');
  if (!tools) c.warn([], 'missing `tools` (required by cruijff_kit); ckbuild fine-tunes with torchtune and evaluates with inspect-ai', 'missing-key');
  else {
    c.keys(tools, ['tools'], '`tools`', ['preparation', 'evaluation']);
    for (const [field, expected] of [['preparation', 'torchtune'], ['evaluation', 'inspect-ai']] as const) {
      const value = c.string(tools, field, ['tools'], 'warning');
      if (value !== undefined && value !== expected) c.error(['tools', field], `${describe(value)} is not supported; the only ${field} tool is \`${expected}\``, 'invalid-value');
    }
  }
}

/** output: only the W&B project, which ckbuild does not need. */
export function convertOutput(c: Conversion, data: JsonObject): void {
  const output = c.mapping(data.output, ['output'], '`output`');
  if (!output) c.warn([], 'missing `output` (required by cruijff_kit: output.wandb_project)', 'missing-key');
  else {
    c.keys(output, ['output'], '`output`', ['wandb_project'], {
      base_directory: { severity: 'warning', message: '`output.base_directory` was retired (cruijff_kit 0.3.4); ignored' },
      checkpoint_pattern: { severity: 'warning', message: '`output.checkpoint_pattern` was retired (cruijff_kit 0.3.4); ignored' },
    });
    const project = c.string(output, 'wandb_project', ['output'], 'warning', { why: 'informational here' });
    if (project !== undefined) c.notes.push(`output.wandb_project (${project}) is not carried: ckbuild records each run's status and metrics in the manifest beside the experiment; logging is the torchtune rule's business and not part of any run's key.`);
  }
}
