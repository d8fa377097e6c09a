/**
 * Runs as objects through the real CLI in a real git repository: finding a run (id, readable
 * name, key prefix, also from git history), `show`, `log`, `diff`, and `gc`.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { claimRun, releaseClaim } from '../../core/claim.js';
import { TempProject } from '../helpers/project.js';

const EXPERIMENT = (x: number) => `version: "1.0"
experiment_name: exp
prepare:
  a:
    command: 'echo "line one of a"; echo "{\\"score\\": $CK_PARAM_X}" > "$CK_OUTPUTS/metrics.json"; echo "$CK_PARAM_X" > "$CK_OUTPUTS/a.txt"'
    outputs: [a.txt, metrics.json]
    params: { x: ${x} }
  report:
    command: 'cat "$CK_NEEDS_A/a.txt" > "$CK_OUTPUTS/report.txt"; echo "report says hello"'
    needs: [a]
    outputs: [report.txt]
`;

type Rec = { id: string; key: string; name: string; run_dir: string; status: string };

function setup(): TempProject {
  const project = new TempProject();
  project.write('.gitignore', 'runs/\n.ckbuild/\n');
  project.write('experiments/exp.yaml', EXPERIMENT(1));
  project.git('add', '.');
  project.git('commit', '-qm', 'experiment');
  const built = project.run(['experiments/exp.yaml']);
  assert.equal(built.code, 0, built.stdout + built.stderr);
  return project;
}

const recordOf = (project: TempProject, id: string): Rec => project.manifest().runs.find((r) => r.id === id) as unknown as Rec;

test('show, log and diff a run by id, readable name and key prefix; show --json has the record and its files', () => {
  const project = setup();
  const a = recordOf(project, 'prepare/a');
  const report = recordOf(project, 'prepare/report');

  const byId = project.run(['show', 'prepare/a']);
  assert.equal(byId.code, 0, byId.stderr);
  for (const pattern of [
    /^prepare\/a \w+-\w+  exp \(experiments\/exp\.yaml\)$/m,
    new RegExp(`key\\s+${a.key}`),
    /recorded\s+\S+, committed in [0-9a-f]{12} "exp: 2 runs succeeded"/,
    /status\s+succeeded \(exit 0\)/,
    /rule\s+command v1, step prepare, hash scheme 1/,
    /job\s+local local:\d+/,
    /timing\s+submitted .*, started .*, finished .*\(/,
    /GPU-hours\s+0/,
    /environment\s+ckbuild \S+, node v\d+\S*, commit [0-9a-f]{12}, clean working tree/,
    /^ {4}params\.x: 1$/m,
    /^ {4}score: 1$/m,
    /artifacts\s+runs\/.*config\/job\.sh/,
    /output\s+runs\/[0-9a-f]{16}-\w+-\w+\/outputs\/a\.txt/,
    /log\s+runs\/[0-9a-f]{16}-\w+-\w+\/outputs\/job\.log$/m,
  ]) assert.match(byId.stdout, pattern);
  const byReport = project.run(['show', report.name]);
  assert.match(byReport.stdout, new RegExp(`upstream:\\n {4}a: prepare/a ${a.key.slice(0, 12)}`));

  const json = project.run(['show', a.key.slice(0, 6), '--json']);
  assert.equal(json.code, 0, json.stderr);
  const shown = JSON.parse(json.stdout) as { ok: boolean; record: { key: string; metrics: { score: number } }; run_dir_exists: boolean; log_exists: boolean; recorded_in: { subject: string }; outputs: Array<{ exists: boolean }> };
  assert.equal(shown.ok, true);
  assert.equal(shown.record.key, a.key);
  assert.equal(shown.record.metrics.score, 1);
  assert.equal(shown.run_dir_exists, true);
  assert.equal(shown.log_exists, true);
  assert.equal(shown.recorded_in.subject, 'exp: 2 runs succeeded');
  assert.ok(shown.outputs.every((o) => o.exists));

  const log = project.run(['log', 'prepare/report']);
  assert.equal(log.code, 0, log.stderr);
  assert.match(log.stdout, /report says hello/);
  assert.match(log.stderr, /prepare\/report \w+-\w+: runs\/.*outputs\/job\.log/);
  const followed = project.run(['log', a.name, '-f']);
  assert.equal(followed.code, 0, followed.stderr);
  assert.match(followed.stdout, /line one of a/);
  assert.match(followed.stderr, /prepare\/a: succeeded/);

  // A parameter change: the old and new runs of a differ in x and in the metric; report's upstream changed.
  project.write('experiments/exp.yaml', EXPERIMENT(3));
  assert.equal(project.run(['experiments/exp.yaml']).code, 0);
  const runs = project.manifest().runs as unknown as Rec[];
  const newA = runs.find((r) => r.id === 'prepare/a' && r.key !== a.key)!;
  const newReport = runs.find((r) => r.id === 'prepare/report' && r.key !== report.key)!;
  const diff = project.run(['diff', a.key.slice(0, 8), newA.name]);
  assert.equal(diff.code, 0, diff.stderr);
  assert.match(diff.stdout, /parameter params\.x: 1 → 3/);
  assert.match(diff.stdout, /metric score: 1 → 3 \(\+2\)/);
  const upstream = project.run(['diff', report.name, newReport.key.slice(0, 8), '--json']);
  const parsed = JSON.parse(upstream.stdout) as { changes: Array<{ ingredient: string; role?: string }>; metrics: unknown[] };
  assert.deepEqual(parsed.changes.map((c) => [c.ingredient, c.role]), [['upstream', 'a']]);
  assert.deepEqual(parsed.metrics, []);
  assert.match(project.run(['diff', 'prepare/a', newA.key]).stdout, /the same run \(same key\)/, 'an id names the latest run of that id');
});

test('a run only in git history is found by name; an ambiguous key prefix lists the candidates; a typo suggests the nearest run', () => {
  const project = setup();
  const a = recordOf(project, 'prepare/a');
  // The experiment and its manifest are deleted and committed: the record lives only in history.
  project.git('rm', '-q', 'experiments/exp.yaml', 'experiments/exp.manifest.json');
  project.git('commit', '-qm', 'retire the experiment');
  const shown = project.run(['show', a.name]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /read from history, commit [0-9a-f]{12}: the working tree's manifest no longer has it/);
  assert.match(shown.stdout, new RegExp(`key\\s+${a.key}`));

  // Two records whose keys share a prefix (hand-written: real keys rarely collide in 4 digits).
  const record = (key: string, id: string, name: string) => ({ key, id, name, step: 'prepare', rule: 'command', rule_version: 1, scheme: 1, params: {}, inputs: {}, upstream: {}, labels: {}, status: 'succeeded', recorded_at: '2026-01-01T00:00:00.000Z', run_dir: `runs/${key.slice(0, 16)}-${name}` });
  project.write('experiments/other.manifest.json', JSON.stringify({ version: 1, experiment: 'other', experiment_file: 'other.yaml', runs: [record('abcd1'.padEnd(64, '1'), 'prepare/x', 'bold-otter'), record('abcd2'.padEnd(64, '2'), 'prepare/y', 'calm-heron')] }));
  const ambiguous = project.run(['show', 'abcd']);
  assert.equal(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /abcd is ambiguous: 2 runs match; give more of the key/);
  assert.match(ambiguous.stderr, /abcd11111111\s+other:prepare\/x\s+bold-otter/);
  assert.match(ambiguous.stderr, /abcd22222222\s+other:prepare\/y\s+calm-heron/);
  assert.equal(project.run(['show', 'abcd2']).code, 0);
  assert.match(project.run(['show', 'other:prepare/x']).stdout, /bold-otter/);

  const typo = project.run(['show', 'prepare/reprot']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /no run matches prepare\/reprot in this project's manifests or anywhere in its git history; did you mean `prepare\/report`\?/);
  assert.match(project.run(['log', 'report']).stderr, /did you mean `prepare\/report`\?/);
});

test('gc is a dry run by default and removes only run directories nothing references: recorded runs (working tree and last N commits), runs the plan needs and claimed runs are kept', () => {
  const project = setup();
  const runsRoot = project.path('runs');
  const recorded = readdirSync(runsRoot).filter((d) => /^[0-9a-f]{16}-/.test(d));
  assert.equal(recorded.length, 2);
  // A dry-run build of x=2 generates directories nobody recorded; the plan (x=2) needs them.
  project.write('experiments/exp.yaml', EXPERIMENT(2));
  assert.equal(project.run(['experiments/exp.yaml', '--dry-run']).code, 0);
  const planned = readdirSync(runsRoot).filter((d) => /^[0-9a-f]{16}-/.test(d) && !recorded.includes(d));
  assert.equal(planned.length, 2);
  // Two orphans, one of them claimed by a live process (this test), and something that is not a run directory.
  const orphan = join(runsRoot, '0123456789abcdef-brave-otter');
  const claimed = join(runsRoot, 'fedcba9876543210-calm-heron');
  for (const dir of [orphan, claimed]) {
    mkdirSync(join(dir, 'outputs'), { recursive: true });
    mkdirSync(join(dir, 'metadata'), { recursive: true });
    writeFileSync(join(dir, 'outputs', 'big.bin'), Buffer.alloc(64 * 1024));
  }
  const claim = claimRun(claimed, 'fedcba9876543210'.padEnd(64, '0'), project.dir);
  assert.ok(claim.claimed, JSON.stringify(claim));
  mkdirSync(join(runsRoot, 'notes'));

  const dry = project.run(['gc']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /keep 5 \(.*\): 2 recorded, 2 needed by the plan, 1 claimed by a live process/);
  assert.match(dry.stdout, /runs\/0123456789abcdef-brave-otter\s+64 KiB/);
  assert.match(dry.stdout, /dry run: would remove 1 run directory, 64 KiB; run `ckbuild gc --delete` to remove them/);
  assert.ok(existsSync(orphan), 'a dry run removes nothing');

  const removed = project.run(['gc', '--delete']);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, /removed 1 run directory, 64 KiB freed/);
  assert.equal(existsSync(orphan), false);
  for (const dir of [...recorded, ...planned, 'fedcba9876543210-calm-heron', 'notes']) assert.ok(existsSync(join(runsRoot, dir)), `${dir} is kept`);
  if (claim.claimed) releaseClaim(claim.claim);

  // Retire the experiment: its runs stay while a recent commit's manifest records them.
  project.git('rm', '-qf', 'experiments/exp.yaml', 'experiments/exp.manifest.json');
  project.git('commit', '-qm', 'retire the experiment');
  const recent = JSON.parse(project.run(['gc', '--json']).stdout) as { remove: Array<{ dir: string }>; keep: Array<{ dir: string; reason: string }> };
  assert.ok(recorded.every((d) => recent.keep.some((k) => k.dir.endsWith(d) && k.reason === 'recorded')));
  const old = JSON.parse(project.run(['gc', '--json', '--commits', '1']).stdout) as { remove: Array<{ dir: string }> };
  assert.ok(recorded.every((d) => old.remove.some((r) => r.dir.endsWith(d))), 'recorded only before the last commit: collectable with --commits 1');
});
