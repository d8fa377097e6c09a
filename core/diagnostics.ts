/**
 * Diagnostics are how every expected failure leaves core: values, never exceptions or log lines.
 * The CLI renders them in one place (`renderDiagnostics` in cli/output.ts) or prints them as JSON.
 */

export type Severity = 'error' | 'warning';

/**
 * Every kind of problem ckbuild reports, closed so that tools and tests can rely on a code and a
 * new check must say which kind it is. Grouped by what the user has to do about it.
 */
export const DIAGNOSTIC_CODES = {
  // The file as text: it does not parse, or cannot be read.
  'yaml-syntax': 'the file is not valid YAML (or JSON)',
  unreadable: 'a file cannot be read',
  'bad-manifest': 'a manifest that ckbuild cannot use as it is',
  'not-cruijff': 'a file that is not an experiment_summary.yaml',
  // The earlier toolkit's format: what changed between its versions and how ckbuild reads it.
  'renamed-key': 'a key the earlier toolkit renamed',
  'retired-key': 'a key the earlier toolkit retired',
  inconsistent: 'values that disagree with each other',
  differs: 'ckbuild behaves differently from the earlier toolkit here',
  'not-converted': 'a setting `ckbuild import` cannot carry into the native format',
  'format-parity': 'training and evaluation would not see the same text',
  // Keys and values against the schema.
  'unknown-key': 'a key the format does not have',
  'missing-key': 'a required key is absent',
  'ignored-key': 'a key that is accepted but has no effect',
  'ignored-param': 'a parameter that has no effect for this run',
  'invalid-type': 'a value of the wrong type',
  'invalid-value': 'a value outside what the field accepts',
  'invalid-path': 'a path that cannot be used',
  'invalid-prompt': 'a prompt that cannot be formatted',
  'prompt-placeholder': 'a prompt without its `{input}` placeholder',
  'out-of-range': 'a number outside its range',
  duplicate: 'something given twice',
  'duplicate-run': 'two runs with the same id',
  'too-few': 'fewer items than required',
  'too-many': 'more items than allowed',
  invalid: 'a value the schema rejects for another reason',
  conflict: 'two settings that contradict each other',
  unsupported: 'a setting ckbuild or the framework cannot carry out',
  'batch-divisibility': 'an effective batch size the batch size does not divide',
  // Protocols and the shape of the sweep.
  'ablation-without-vary': 'an ablation with nothing to vary',
  'bad-range': 'a range whose ends are the wrong way round',
  'incomplete-range': 'a range with one end missing',
  'incomplete-product': 'a grid with a missing axis',
  'too-many-runs': 'an expansion larger than the limit',
  // References between parts of the experiment, and to files and models.
  'dangling-reference': 'a reference to a step, run or task that does not exist',
  cycle: 'runs that depend on each other in a circle',
  'missing-file': 'an input file that does not exist',
  'missing-input': 'a declared input that is absent',
  'missing-dataset': 'a dataset that is not given or not found',
  'missing-checkpoint': 'a checkpoint to evaluate that does not exist',
  'missing-upstream': 'a run without the upstream run it needs',
  'missing-model': 'a model directory that does not exist',
  'unknown-rule': 'a rule ckbuild does not have',
  'unknown-model': 'a model ckbuild cannot map',
  'unknown-scorer': 'a scorer the task does not have',
  'unknown-target-module': 'a LoRA target module the model does not have',
  'unknown-teleprompter': 'a DSPy optimiser that does not exist',
  unused: 'something defined that nothing uses',
  'unused-variable': 'a template variable that nothing fills',
  // What a framework can and cannot do with the request.
  'curriculum-needs-merged': 'a curriculum stage that needs merged weights',
  'validation-unsupported': 'validation the chosen recipe cannot run',
  'temperature-without-sampling': 'a temperature under greedy decoding',
  'few-steps': 'fewer training steps than the settings assume',
  'no-gpu': 'a run that needs a GPU where none is requested',
  // Safety: values that cannot be carried into a script or a directive.
  'unsafe-path': 'a path that would escape where it belongs',
  'unsafe-value': 'a value that cannot be carried safely into a script or directive',
  'secret-removed': 'a secret that was kept out of what ckbuild writes',
  // Generating and executing.
  'render-failed': 'a rule could not render its artifacts',
  'generate-failed': 'a run directory could not be written',
  'over-budget': 'the stale runs would exceed the budget',
  'legacy-format': 'a file of an earlier release of the earlier toolkit, read through its migration',
  'unenforceable-budget': 'a budget that cannot be checked (budget_dollars without a gpu_hour_cost)',
  'invalid-artifact': 'a rendered artifact that does not validate (a job script `bash -n` rejects, a config that does not parse)',
  'stale-manifest': 'a committed manifest out of date with its experiment: some run would be stale',
} as const;

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;

export interface Diagnostic {
  severity: Severity;
  /** A stable identifier for the kind of problem, e.g. `unknown-key`, for tools and tests. */
  code: DiagnosticCode;
  file: string;
  /** 1-based; 0 when the problem has no position (a missing file, say). */
  line: number;
  column: number;
  /** Dotted path of the field, e.g. `config.lora_rank` or `evaluation.tasks[0].script`. */
  field: string;
  message: string;
}

export type FieldPath = ReadonlyArray<string | number>;

export function formatFieldPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Sorted by file, then position, so output order never depends on which check ran first. */
export function sortDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.column - b.column ||
      a.field.localeCompare(b.field) ||
      a.message.localeCompare(b.message),
  );
}

/** A run id quoted in a message: `finetune/lora_rank=8`, `evaluate/cap/base`. */
const QUOTED_RUN = /`[a-z]+\/[^`\s]*`/g;

/**
 * One mistake, one message: the same problem found once per run (every fine-tune of a sweep
 * evaluated at an epoch it does not train) is one diagnostic at its position, naming the first run
 * and summarising the others. Diagnostics are the same problem when they agree in everything but
 * the run ids they quote; exact duplicates are dropped. Sorted.
 */
export function mergeRepeated(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const groups = new Map<string, Diagnostic[]>();
  for (const d of sortDiagnostics([...diagnostics])) {
    const identity = `${d.severity}|${d.code}|${d.file}|${d.line}|${d.column}|${d.field}|${d.message.replace(QUOTED_RUN, '`…`')}`;
    const group = groups.get(identity);
    if (!group) groups.set(identity, [d]);
    else if (!group.some((g) => g.message === d.message)) group.push(d);
  }
  return sortDiagnostics(
    [...groups.values()].map((group) => {
      if (group.length === 1) return group[0]!;
      const [first, ...rest] = group;
      const named = new Set(first!.message.match(QUOTED_RUN) ?? []);
      const others = [...new Set(rest.flatMap((d) => (d.message.match(QUOTED_RUN) ?? []).filter((ref) => !named.has(ref))))];
      const shown = others.slice(0, 5).join(', ');
      const more = others.length > 5 ? ` and ${others.length - 5} more` : '';
      return { ...first!, message: `${first!.message} (the same for ${rest.length} more run${rest.length === 1 ? '' : 's'}: ${shown}${more})` };
    }),
  );
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return previous[b.length]!;
}

/** The closest candidate within a distance that still looks like a typo, if any. */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return best !== undefined && bestDistance <= limit ? best : undefined;
}

export function didYouMean(word: string, candidates: Iterable<string>): string {
  const suggestion = nearest(word, candidates);
  return suggestion === undefined ? '' : `; did you mean \`${suggestion}\`?`;
}
