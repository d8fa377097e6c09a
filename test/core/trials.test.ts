import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ExperimentDocument } from '../../core/experiment/model.js';
import { expandTrials } from '../../core/experiment/trials.js';
import type { Diagnostic } from '../../core/diagnostics.js';
import { parseSourceText } from '../../core/source.js';

const source = parseSourceText('t.yaml', 'x: 1\n').source!;

function trials(doc: Partial<ExperimentDocument>) {
  const diagnostics: Diagnostic[] = [];
  const full = { version: '1.0', experiment_name: 't', config: { base_model: 'm' }, ...doc } as ExperimentDocument;
  return { trials: expandTrials(full, source, diagnostics), diagnostics };
}

test('grid: the cartesian product, in the order written, seeds multiplying it', () => {
  const { trials: t } = trials({ protocol: { type: 'grid', vary: { lora_rank: [4, 8], learning_rate: [1e-4, 3e-4] }, seeds: [1, 2] } });
  assert.equal(t.length, 8);
  assert.deepEqual(t[0]!.overrides, { lora_rank: 4, learning_rate: 1e-4, seed: 1 });
  assert.equal(t[0]!.label, 'lora_rank=4,learning_rate=0.0001,seed=1');
  assert.deepEqual(t.map((x) => x.trialId), [1, 2, 3, 4, 5, 6, 7, 8]);
});

test('ablation: the baseline plus one parameter at a time, a value equal to the baseline not repeated', () => {
  const { trials: t } = trials({ config: { base_model: 'm', lora_rank: 8, learning_rate: 1e-4 }, protocol: { type: 'ablation', vary: { lora_rank: [4, 8, 16], learning_rate: [1e-4, 1e-3] } } });
  assert.deepEqual(t.map((x) => x.label), ['baseline', 'lora_rank=4', 'lora_rank=16', 'learning_rate=0.001']);
  assert.deepEqual(t[1]!.overrides, { lora_rank: 4 });
});

test('standard: N trials drawn from the search space, identical on every invocation, seed-dependent', () => {
  const doc = { seed: 7, protocol: { type: 'standard' as const, trials: 5, search_space: { lr_min: 1e-5, lr_max: 1e-3, rank_choices: [16, 32, 64] } } };
  const a = trials(doc).trials;
  const b = trials(doc).trials;
  assert.deepEqual(a, b);
  assert.equal(a.length, 5);
  for (const trial of a) {
    const lr = trial.overrides.learning_rate as number;
    assert.ok(lr >= 1e-5 && lr <= 1e-3, `lr ${lr} in range`);
    assert.ok([16, 32, 64].includes(trial.overrides.lora_rank as number));
  }
  assert.deepEqual(a.map((t) => t.overrides.seed), [14, 15, 16, 17, 18], 'independent trials get distinct recorded seeds');
  const other = trials({ ...doc, seed: 8 }).trials;
  assert.notDeepEqual(other.map((t) => t.overrides.learning_rate), a.map((t) => t.overrides.learning_rate));
});

test('standard with no search space: the seed example’s `trials: 5` is five seeds of one config', () => {
  const { trials: t } = trials({ protocol: { type: 'standard', trials: 5, budget_gpu_hours: 10 } });
  assert.equal(t.length, 5);
  assert.deepEqual(t.map((x) => x.label), ['trial-1', 'trial-2', 'trial-3', 'trial-4', 'trial-5']);
});

test('ensemble: members differ by seed, or by the overrides listed', () => {
  assert.deepEqual(trials({ protocol: { type: 'ensemble', members: 3 } }).trials.map((t) => t.overrides), [{ seed: 14 }, { seed: 15 }, { seed: 16 }]);
  assert.deepEqual(trials({ protocol: { type: 'ensemble', members: [{ lora_rank: 4 }, { lora_rank: 8 }] } }).trials.map((t) => t.label), ['member-1', 'member-2']);
});

test('an expansion past max_trials is refused before it is built, with the count, at its line; the limit can be raised', () => {
  const huge = { version: '1.0', experiment_name: 'x', config: { base_model: 'Llama-3.2-1B' }, protocol: { type: 'standard', trials: 1_000_000 } } as unknown as ExperimentDocument;
  const diagnostics: Diagnostic[] = [];
  const started = Date.now();
  assert.deepEqual(expandTrials(huge, source, diagnostics), []);
  assert.ok(Date.now() - started < 1000);
  assert.equal(diagnostics[0]!.code, 'too-many-runs');
  assert.match(diagnostics[0]!.message, /1,000,000 trials .* over the limit of 50,000; raise `protocol\.max_trials`/);
  const members = { ...huge, protocol: { type: 'ensemble', members: 100_000 } } as unknown as ExperimentDocument;
  const more: Diagnostic[] = [];
  expandTrials(members, source, more);
  assert.equal(more[0]!.code, 'too-many-runs');
  const raised = { ...huge, protocol: { type: 'grid', vary: { lora_rank: [4, 8, 16] }, max_trials: 2 } } as unknown as ExperimentDocument;
  const capped: Diagnostic[] = [];
  expandTrials(raised, source, capped);
  assert.match(capped[0]!.message, /3 trials .* limit of 2/);
});

test('list: two runs that train the same thing are reported, whatever order their keys are in; a value of another type is another run', () => {
  const runs = [
    { name: 'a', learning_rate: 0.001, seed: 1, dataset: 'words' },
    { name: 'b', seed: 1, dataset: 'words', learning_rate: 0.001 }, // a's twin, keys reordered
    { name: 'c', learning_rate: '0.001', seed: 1, dataset: 'words' }, // a string, not a number
    { name: 'd', learning_rate: 0.001, seed: 1 }, // no dataset of its own
    { name: 'e', learning_rate: 0.001, seed: 1, dataset: { path: 'words.json' } }, // a dataset by path
    { name: 'f', dataset: { path: 'words.json' }, seed: 1, learning_rate: 0.001 }, // e's twin
    { name: 'g', learning_rate: 0.001, seed: 1, target_modules: ['q_proj'] }, // a list override
    { name: 'h', target_modules: ['q_proj'], learning_rate: 0.001, seed: 1 }, // g's twin
  ];
  const { trials: t, diagnostics } = trials({ protocol: { type: 'list', runs } } as unknown as Partial<ExperimentDocument>);
  assert.deepEqual(t.map((trial) => trial.label), ['a', 'c', 'd', 'e', 'g']);
  const twins = diagnostics.filter((d) => d.code === 'duplicate-run').map((d) => d.message);
  assert.deepEqual(twins.map((message) => /run `(\w)` trains exactly what `(\w)`/.exec(message)?.slice(1, 3).join('=')), ['b=a', 'f=e', 'h=g']);
});
