/**
 * The experiment_summary.yaml fixtures (test/fixtures/cruijff/), placed in a temporary project as
 * a researcher's cluster would have them: `/scratch/gpfs/MSALGANIK/` becomes a folder of the
 * project holding the datasets and the task script the fixtures name.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Diagnostic } from '../../core/diagnostics.js';
import { projectRoot } from '../helpers/paths.js';

export const SCRATCH = '/scratch/gpfs/MSALGANIK/';

const WORDS_5L = { train: [{ input: 'apple', output: 'Apple' }], validation: [{ input: 'bread', output: 'Bread' }], test: [{ input: 'crane', output: 'Crane' }] };
const WORDS_8L = { train: [{ input: 'absolute', output: 'Absolute' }], validation: [{ input: 'backpack', output: 'Backpack' }], test: [{ input: 'calendar', output: 'Calendar' }] };

export function fixtureText(name: string): string {
  return readFileSync(join(projectRoot, 'test', 'fixtures', 'cruijff', `${name}.yaml`), 'utf8');
}

/** Writes the files the fixtures refer to under `<dir>/scratch/` and returns that folder (with a trailing slash). */
export function writeScratch(dir: string): string {
  const scratch = join(dir, 'scratch') + '/';
  const files: Record<string, string> = {
    'ck-data/capitalization/words_5L_80P_1000.json': JSON.stringify(WORDS_5L),
    'ck-data/capitalization/words_8L_80P_1000.json': JSON.stringify(WORDS_8L),
    'cruijff_kit/blueprints/capitalization/inspect_task.py': readFileSync(join(projectRoot, 'tasks', 'capitalization', 'inspect_task.py'), 'utf8'),
  };
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(scratch + path), { recursive: true });
    writeFileSync(scratch + path, content);
  }
  return scratch;
}

export interface Placed {
  /** The project folder (a git repository). */
  dir: string;
  /** The experiment_summary.yaml written, at `<dir>/<experiment>/experiment_summary.yaml`. */
  file: string;
  /** Its text, as written (paths replaced). */
  text: string;
  scratch: string;
}

/** A fixture (optionally edited) in a fresh temporary project. */
export function place(name: string, edit: (text: string) => string = (t) => t, dir = mkdtempSync(join(tmpdir(), 'ckbuild-cruijff-'))): Placed {
  mkdirSync(join(dir, '.git'), { recursive: true });
  const scratch = writeScratch(dir);
  const text = edit(fixtureText(name)).replaceAll(SCRATCH, scratch);
  const file = join(dir, 'experiment', 'experiment_summary.yaml');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return { dir, file, text, scratch };
}

/** Line and column (1-based) of `needle` in `text`, searching from the first `after`; `offset` moves within the needle. */
export function positionOf(text: string, needle: string, options: { after?: string; offset?: number } = {}): { line: number; column: number } {
  const start = options.after === undefined ? 0 : text.indexOf(options.after);
  if (start < 0) throw new Error(`anchor not found: ${options.after}`);
  const index = text.indexOf(needle, start);
  if (index < 0) throw new Error(`not found: ${needle}`);
  const at = index + (options.offset ?? 0);
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return { line, column: at - before.lastIndexOf('\n') };
}

/** The one diagnostic for `field` (failing, with all of them listed, if there is not exactly one). */
export function diagnosticFor(diagnostics: readonly Diagnostic[], field: string, code?: string): Diagnostic {
  const found = diagnostics.filter((d) => d.field === field && (code === undefined || d.code === code));
  if (found.length !== 1) throw new Error(`expected one diagnostic for ${field}${code ? ` (${code})` : ''}, got ${found.length}:\n${diagnostics.map((d) => `  ${d.line}:${d.column} ${d.severity} ${d.code} ${d.field}: ${d.message}`).join('\n')}`);
  return found[0]!;
}

/** A native experiment using the extensions an experiment_summary.yaml carries: a `list` protocol, checkpoints, a matrix, per-run datasets and resources, `models`. */
export const NATIVE = `version: "1.0"
experiment_name: rank-list
dataset: { path: data/words.json, format: json }
config:
  base_model: Llama-3.2-1B-Instruct
  epochs: 3
  prompt: "Capitalize: {input}\\n"
  system_prompt: "Be brief."
  dataset_type: chat_completion
protocol:
  type: list
  runs:
    - { name: rank4, lora_rank: 4, resources: { time: "02:00:00" } }
    - { name: rank8, lora_rank: 8, prompt: "Word: {input}\\n", dataset: { path: data/other.json } }
    - { name: rank8-long, lora_rank: 8, epochs: 4, eval_dataset: { path: data/long.json } }
evaluation:
  tasks:
    - { name: cap, script: tasks/cap.py }
    - { name: cap-long, task: cap, script: tasks/cap.py, dataset: { path: data/long.json }, prompt: "Long: {input}\\n" }
  checkpoints:
    - { name: base-model, base_model: Llama-3.2-1B-Instruct }
    - { name: old-run, base_model: Llama-3.2-1B-Instruct, path: /ckpt/old/epoch_0, prompt: "Old: {input}\\n" }
  epochs: [last]
  matrix:
    - { run: rank4, tasks: [cap, cap-long], epochs: [0, last], vis_label: r4 }
    - { run: rank8 }
    - { run: rank8-long, tasks: [cap], epochs: [all] }
    - { run: base-model, tasks: [cap] }
    - { run: old-run, tasks: [cap-long] }
resources:
  finetune: { gpus: 1, mem: 40G }
models:
  Llama-3.2-1B-Instruct: { path: /models/llama-1b }
`;
