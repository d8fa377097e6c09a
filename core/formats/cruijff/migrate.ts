/**
 * Files written for cruijff_kit up to 0.3.3, brought to 0.3.4's names by a deterministic list of
 * edits (its CHANGELOG's migrations, and what 0.3.4 stopped inferring). The same edits serve two
 * readers: the conversion reads an old file through them (each one a warning at the line it
 * changes), and `ckbuild import --migrate` applies them to the text, comments and layout kept, and
 * prints the diff. What cannot be decided from the file alone is refused with the exact edit to make.
 */
import { isMap, isScalar, isSeq, parse, parseDocument, type Document, type YAMLMap } from 'yaml';
import type { FieldPath } from '../../diagnostics.js';
import { isObject, type Json, type JsonObject } from '../../json.js';
import { STOCK_RECIPE_PARAMS } from './recipes.js';

export type MigrationEdit =
  | { kind: 'rename'; path: FieldPath; to: string; why: string }
  | { kind: 'remove'; path: FieldPath; why: string }
  /**
   * Adds `key: value` to the mapping at `path` (which exists). `inferred`: a guess the reader
   * confirms — `import --migrate` writes it into the diff, but reading the file reports the key as
   * missing (with this value as the edit), since a 0.3.4 file that forgot it looks the same.
   */
  | { kind: 'add'; path: FieldPath; key: string; value: Json; why: string; inferred?: true };

export interface Refusal {
  path: FieldPath;
  /** What to change, exactly: the reader's edit, since the file alone does not say. */
  message: string;
}

export interface Migration {
  edits: MigrationEdit[];
  /** For `import --migrate`; reading the file, the conversion's own checks say the same, at the same keys. */
  refusals: Refusal[];
}

const at = (data: JsonObject, path: FieldPath): Json | undefined => path.reduce<Json | undefined>((node, part) => (node === undefined || node === null || typeof node !== 'object' ? undefined : (node as Record<string | number, Json>)[part]), data);

/** Key renames of 0.3.4 (CHANGELOG "Schema-key renames", #372), where both names cannot coexist. */
const RENAMES: Array<{ parent: FieldPath; from: string; to: string; why: string }> = [
  { parent: ['experiment'], from: 'directory', to: 'dir', why: 'renamed in cruijff_kit 0.3.4 (#372)' },
  { parent: ['data', 'training'], from: 'label', to: 'dataset_label', why: 'renamed in cruijff_kit 0.3.4 (#372)' },
  { parent: ['evaluation'], from: 'scorer', to: 'scorers', why: 'renamed in cruijff_kit 0.3.4 (#372); the singular was silently ignored there' },
  { parent: ['data', 'data_generation'], from: 'split', to: 'split_ratio', why: 'renamed in cruijff_kit 0.3.4 (#372); the old name was ignored there (0.8 was used)' },
];

/** Keys 0.3.4 retired, which had no effect. */
const RETIRED: Array<{ path: FieldPath; why: string }> = [
  { path: ['output', 'base_directory'], why: 'retired in cruijff_kit 0.3.4 (#442): experiment.dir is the one experiment root' },
  { path: ['output', 'checkpoint_pattern'], why: 'retired in cruijff_kit 0.3.4 (#442): it was never used' },
  { path: ['experiment', 'type'], why: 'dropped in cruijff_kit 0.3.0 (#441)' },
];

/** Model names of instruction-tuned (chat) models: what the toolkit's MODEL_CONFIGS default inferred before 0.3.4. */
const CHAT_MODEL = /instruct|chat|-it\b|_it\b/i;

export function planMigration(data: JsonObject): Migration {
  const edits: MigrationEdit[] = [];
  const refusals: Refusal[] = [];
  for (const rename of RENAMES) {
    const parent = at(data, rename.parent);
    // Both names set: the conversion says the old one was renamed (the edit: delete it).
    if (!isObject(parent) || parent[rename.from] === undefined || parent[rename.to] !== undefined) continue;
    edits.push({ kind: 'rename', path: [...rename.parent, rename.from], to: rename.to, why: rename.why });
  }
  for (const retired of RETIRED) if (at(data, retired.path) !== undefined) edits.push({ kind: 'remove', path: retired.path, why: retired.why });
  // `finetuned` on a run or a matrix row became eval.yaml's `is_finetuned`, which the run's type decides.
  for (const section of [['runs'], ['evaluation', 'matrix']] as const) {
    const list = at(data, section);
    if (!Array.isArray(list)) continue;
    list.forEach((item, index) => {
      if (isObject(item) && item.finetuned !== undefined) edits.push({ kind: 'remove', path: [...section, index, 'finetuned'], why: 'renamed `is_finetuned` in cruijff_kit 0.3.4, and derived from the run’s type (fine-tuned, control, eval-only)' });
    });
  }
  migrateSystemPrompt(data, edits, refusals);
  migrateDatasetType(data, edits, refusals);
  migrateBaseRecipe(data, edits, refusals);
  const seed = at(data, ['experiment', 'seed']);
  if (seed !== undefined) refusals.push({ path: ['experiment', 'seed'], message: `\`experiment.seed\` was removed (cruijff_kit 0.3.4): training and evaluation are seeded separately; replace it with \`controls.seed: ${JSON.stringify(seed)}\` (training) and \`evaluation.seed: ${JSON.stringify(seed)}\` (evaluation)` });
  return { edits, refusals };
}

/** `evaluation.system_prompt` (removed in 0.3.4): the system prompt lives in `controls.system_prompt`. */
function migrateSystemPrompt(data: JsonObject, edits: MigrationEdit[], refusals: Refusal[]): void {
  const evaluation = at(data, ['evaluation']);
  const controls = at(data, ['controls']);
  if (!isObject(evaluation) || evaluation.system_prompt === undefined) return;
  const why = 'removed in cruijff_kit 0.3.4: `controls.system_prompt` is the one system prompt of training and evaluation';
  if (isObject(controls) && controls.system_prompt === undefined) {
    edits.push({ kind: 'remove', path: ['evaluation', 'system_prompt'], why });
    edits.push({ kind: 'add', path: ['controls'], key: 'system_prompt', value: evaluation.system_prompt, why: 'moved from `evaluation.system_prompt`' });
  } else if (isObject(controls) && controls.system_prompt === evaluation.system_prompt) {
    edits.push({ kind: 'remove', path: ['evaluation', 'system_prompt'], why: `${why} (it has the same value)` });
  } else {
    refusals.push({ path: ['evaluation', 'system_prompt'], message: '`evaluation.system_prompt` differs from `controls.system_prompt`, and since cruijff_kit 0.3.4 there is one system prompt for training and evaluation: delete `evaluation.system_prompt` (or give a task its own `evaluation.tasks[].system_prompt`)' });
  }
}

/**
 * `controls.dataset_type` became required in 0.3.4; before, the toolkit inferred it from the model
 * (an instruction-tuned model trained as chat_completion, a base model as text_completion). The same
 * inference: a value when the fine-tuned models agree, else undefined (the reader chooses).
 */
export function inferDatasetType(data: JsonObject): { value?: 'chat_completion' | 'text_completion'; models: string[] } {
  const runs = Array.isArray(data.runs) ? data.runs.filter(isObject) : [];
  const trained = runs.filter((run) => run.type === undefined || run.type === 'fine-tuned').map((run) => run.model);
  const base = isObject(data.models) && Array.isArray(data.models.base) ? data.models.base.filter(isObject).map((model) => model.name) : [];
  const models = [...new Set((trained.length > 0 ? trained : base).filter((name): name is string => typeof name === 'string'))];
  const kinds = new Set(models.map((name) => (CHAT_MODEL.test(name) ? ('chat_completion' as const) : ('text_completion' as const))));
  return { value: kinds.size === 1 ? [...kinds][0] : undefined, models };
}

function migrateDatasetType(data: JsonObject, edits: MigrationEdit[], refusals: Refusal[]): void {
  const controls = at(data, ['controls']);
  if (!isObject(controls) || controls.dataset_type !== undefined) return;
  const { value, models } = inferDatasetType(data);
  if (models.length === 0) return; // nothing to infer from: the conversion reports the missing key
  if (value) {
    edits.push({ kind: 'add', path: ['controls'], key: 'dataset_type', value, inferred: true, why: `required since cruijff_kit 0.3.4; 0.3.3 inferred it from the model (${models.join(', ')})` });
  } else {
    refusals.push({ path: ['controls'], message: `\`controls.dataset_type\` is required since cruijff_kit 0.3.4, and these models disagree on what it was inferred as (${models.map((name) => `${name}: ${CHAT_MODEL.test(name) ? 'chat_completion' : 'text_completion'}`).join('; ')}): add \`dataset_type: chat_completion\` or \`dataset_type: text_completion\` under \`controls\`` });
  }
}

/**
 * `controls.base_recipe` pre-seeded nine hyperparameters from a stock torchtune recipe, under the
 * file's own values (precedence: setup_finetune.yaml > recipe > argparse default). Written out,
 * from torchtune 0.6.1's configs, it trains the same values without reading any recipe.
 */
function migrateBaseRecipe(data: JsonObject, edits: MigrationEdit[], refusals: Refusal[]): void {
  const controls = at(data, ['controls']);
  if (!isObject(controls) || controls.base_recipe === undefined) return;
  const name = controls.base_recipe;
  const recipe = typeof name === 'string' ? STOCK_RECIPE_PARAMS[name.replace(/\.yaml$/, '')] : undefined;
  if (!recipe) {
    refusals.push({ path: ['controls', 'base_recipe'], message: `\`base_recipe\` ${JSON.stringify(name)} is not a torchtune 0.6.1 recipe ckbuild knows (e.g. llama3_2/1B_lora_single_device): replace it with the values it supplied under \`controls\` — lora_rank, lora_dropout, lr, weight_decay, batch_size, epochs, gradient_accumulation_steps, num_warmup_steps, max_seq_len (\`tune cp ${String(name)} .\` shows them)` });
    return;
  }
  edits.push({ kind: 'remove', path: ['controls', 'base_recipe'], why: `its values are written out: ${Object.entries(recipe).filter(([key]) => controls[key] === undefined).map(([key, value]) => `${key} ${value}`).join(', ') || 'every one of them is already set'}` });
  for (const [key, value] of Object.entries(recipe)) {
    if (controls[key] === undefined) edits.push({ kind: 'add', path: ['controls'], key, value, why: `from torchtune’s ${String(name)} (base_recipe)` });
  }
}

/** An edit in words: what is read differently, and why. */
export function describeMigrationEdit(edit: MigrationEdit): string {
  const name = String(edit.path.at(-1));
  if (edit.kind === 'rename') return `\`${name}\` becomes \`${edit.to}\` (${edit.why})`;
  if (edit.kind === 'remove') return `\`${name}\` is removed (${edit.why})`;
  return `\`${edit.key}: ${JSON.stringify(edit.value)}\` is added (${edit.why})`;
}

/** The file's data with the edits applied, and where each renamed key is written (for positions). */
export function migrateData(data: JsonObject, edits: readonly MigrationEdit[]): { data: JsonObject; renames: Array<{ parent: FieldPath; written: string; meant: string }> } {
  const migrated = structuredClone(data);
  const renames: Array<{ parent: FieldPath; written: string; meant: string }> = [];
  // Removals by index last, so earlier indices stay valid.
  for (const edit of edits) {
    const parent = at(migrated, edit.kind === 'add' ? edit.path : edit.path.slice(0, -1));
    if (!isObject(parent)) continue;
    if (edit.kind === 'add') parent[edit.key] = edit.value;
    else {
      const name = String(edit.path.at(-1));
      if (edit.kind === 'rename') {
        // In place, as the text is edited: the order of keys is kept.
        const entries = Object.entries(parent).map(([key, value]): [string, Json] => [key === name ? edit.to : key, value]);
        for (const key of Object.keys(parent)) delete parent[key];
        for (const [key, value] of entries) parent[key] = value;
        renames.push({ parent: edit.path.slice(0, -1), written: name, meant: edit.to });
      } else delete parent[name];
    }
  }
  return { data: migrated, renames };
}

/**
 * The file's text with the edits applied, everything else byte for byte: a renamed key is replaced
 * where it is written, a removed key loses its lines (or, on a list item's `- ` line, only itself),
 * an added key is a new line at the end of its mapping (with a comment saying why). Edits are
 * applied from the end of the file backwards, so the offsets the parser gave stay true. The result
 * is parsed again and must equal the data migration; an edit that cannot be written in place (in a
 * `{ … }` mapping, an item's only key) is returned unapplied, for the reader to make.
 */
export function migrateText(text: string, edits: readonly MigrationEdit[]): { text: string; unapplied: MigrationEdit[] } {
  const document = parseDocument(text);
  const splices: Array<{ start: number; end: number; insert: string; order: number }> = [];
  const applied: MigrationEdit[] = [];
  const unapplied: MigrationEdit[] = [];
  for (const edit of edits) {
    const splice = spliceFor(text, document, edit);
    if (!splice) {
      unapplied.push(edit);
      continue;
    }
    splices.push({ ...splice, order: splices.length });
    applied.push(edit);
  }
  let out = text;
  // Back to front; two insertions at one place keep the edits' order.
  for (const splice of splices.sort((a, b) => b.start - a.start || b.order - a.order)) out = out.slice(0, splice.start) + splice.insert + out.slice(splice.end);
  const expected = JSON.stringify(migrateData(parse(text) as JsonObject, applied).data);
  let actual: string | undefined;
  try {
    actual = JSON.stringify(parse(out));
  } catch {
    actual = undefined;
  }
  if (actual !== expected) return { text, unapplied: [...edits] };
  return { text: out, unapplied };
}

function spliceFor(text: string, document: Document, edit: MigrationEdit): { start: number; end: number; insert: string } | undefined {
  if (edit.kind === 'add') {
    const parent = nodeAt(document, edit.path);
    if (!isMap(parent) || parent.flow || parent.items.length === 0 || !parent.range) return undefined;
    const first = parent.items[0]!.key as { range?: [number, number, number] };
    const indent = first.range ? ' '.repeat(first.range[0] - lineStart(text, first.range[0])) : '';
    const end = lineEnd(text, parent.range[1] - 1);
    const newline = end === text.length && !text.endsWith('\n') ? '\n' : '';
    // One line whatever the value: JSON's quoting is YAML's double-quoted scalar.
    const value = typeof edit.value === 'string' ? JSON.stringify(edit.value) : JSON.stringify(edit.value);
    return { start: end, end, insert: `${newline}${indent}${edit.key}: ${value}  # ${edit.why.replace(/\s+/g, ' ')}\n` };
  }
  const parent = nodeAt(document, edit.path.slice(0, -1));
  const name = String(edit.path.at(-1));
  if (!isMap(parent)) return undefined;
  const index = parent.items.findIndex((item) => isScalar(item.key) && String(item.key.value) === name);
  const pair = parent.items[index];
  const keyRange = pair && isScalar(pair.key) ? pair.key.range : undefined;
  if (!pair || !keyRange) return undefined;
  if (edit.kind === 'rename') return { start: keyRange[0], end: keyRange[1], insert: edit.to };
  if (parent.flow) return undefined; // a key inside `{ … }`: the reader edits it
  const onDashLine = /^[\s-]*-\s+$/.test(text.slice(lineStart(text, keyRange[0]), keyRange[0]));
  if (onDashLine) {
    // `- finetuned: true` opens its list item: the next key moves up onto the dash line.
    const next = parent.items[index + 1]?.key as { range?: [number, number, number] } | undefined;
    return next?.range ? { start: keyRange[0], end: next.range[0], insert: '' } : undefined;
  }
  const valueRange = (pair.value as { range?: [number, number, number] } | null)?.range;
  const last = valueRange ? Math.max(valueRange[1] - 1, keyRange[1]) : keyRange[1];
  return { start: lineStart(text, keyRange[0]), end: lineEnd(text, last), insert: '' };
}

const lineStart = (text: string, offset: number): number => text.lastIndexOf('\n', offset - 1) + 1;
/** The offset just after the newline that ends the line holding `offset` (or the end of the text). */
const lineEnd = (text: string, offset: number): number => {
  const newline = text.indexOf('\n', Math.max(offset, 0));
  return newline < 0 ? text.length : newline + 1;
};

function nodeAt(document: Document, path: FieldPath): unknown {
  let node: unknown = document.contents;
  for (const part of path) {
    if (isMap(node)) node = (node as YAMLMap).items.find((item) => isScalar(item.key) && String(item.key.value) === String(part))?.value;
    else if (isSeq(node) && typeof part === 'number') node = node.items[part];
    else return undefined;
  }
  return node;
}
