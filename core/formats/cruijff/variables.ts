/** variables: what varies; every value must be trained somewhere, and the product should be covered. */
import { type FieldPath, didYouMean } from '../../diagnostics.js';
import { canonicalJson, type Json, type JsonObject } from '../../json.js';
import { Conversion, describe } from './conversion.js';
import { NATIVE_SPELLINGS, PARAMS, type RunInfo } from './spec.js';

/**
 * `model` is a variable too (the toolkit's own documentation calls it common): its values are the
 * runs' `model`, not one of their parameters.
 */
const givenBy = (run: RunInfo, name: string): Json | undefined => (name === 'model' ? run.model : run.parameters[name]);

export function checkVariables(c: Conversion, variables: JsonObject, runs: RunInfo[]): void {
  const combos = new Set<string>();
  const names: string[] = [];
  const valueLists: Json[][] = [];
  for (const [name, values] of Object.entries(variables)) {
    const path: FieldPath = ['variables', name];
    const spec = PARAMS[name];
    if (!spec && !['model', 'dataset_path', 'eval_dataset_path', 'checkpoint_path'].includes(name)) {
      c.error(path, `unknown variable \`${name}\`${didYouMean(name, Object.keys(PARAMS)) || (NATIVE_SPELLINGS[name] ? `; this format calls it \`${NATIVE_SPELLINGS[name]}\`` : '; variables are training settings (lora_rank, lr, batch_size, …)')}`, 'unknown-key', 'key');
      continue;
    }
    if (!Array.isArray(values) || values.length === 0) {
      c.error(path, `a variable is a non-empty list of the values it takes, got ${describe(values)}`, 'invalid-type');
      continue;
    }
    const normalise = (value: Json, at: FieldPath): Json | undefined => (spec ? c.param(spec, value, at) : value);
    const normalised: Json[] = [];
    values.forEach((value, index) => {
      const at: FieldPath = [...path, index];
      const wanted = normalise(value, at);
      if (wanted === undefined) return;
      normalised.push(wanted);
      const found = runs.some((run) => {
        const given = givenBy(run, name);
        if (given === undefined || given === null) return false;
        const probe = new Conversion(c.source, c.projectDir); // normalise quietly: the run's own check reports bad values
        const have = spec ? probe.param(spec, given, at) : given;
        return have !== undefined && canonicalJson(have) === canonicalJson(wanted);
      });
      if (!found) c.error(at, `no run ${name === 'model' ? 'uses the model' : `trains with ${name} =`} ${canonicalJson(wanted)}: every value of a variable must appear in some run’s ${name === 'model' ? '`model`' : 'parameters'}`, 'unused-variable');
    });
    names.push(name);
    valueLists.push(normalised);
  }
  if (names.length < 2) return;
  // The cartesian product the variables describe, against the fine-tunes written.
  for (const run of runs.filter((r) => r.type === 'fine-tuned')) {
    const probe = new Conversion(c.source, c.projectDir);
    combos.add(canonicalJson(names.map((name) => {
      const given = givenBy(run, name);
      const spec = PARAMS[name];
      return given === undefined || given === null ? null : ((spec ? probe.param(spec, given, []) : given) ?? null);
    })));
  }
  const missing: string[] = [];
  const walk = (index: number, chosen: Json[]): void => {
    if (index === names.length) {
      if (!combos.has(canonicalJson(chosen))) missing.push(names.map((name, i) => `${name}=${canonicalJson(chosen[i]!)}`).join(', '));
      return;
    }
    for (const value of valueLists[index]!) walk(index + 1, [...chosen, value]);
  };
  walk(0, []);
  if (missing.length > 0) {
    c.warn(['variables'], `the variables describe ${valueLists.reduce((n, list) => n * list.length, 1)} combinations but no fine-tuned run trains ${missing.slice(0, 4).join('; ')}${missing.length > 4 ? `; and ${missing.length - 4} more` : ''}`, 'incomplete-product');
  }
}
