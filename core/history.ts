/**
 * Finding run records: in the manifests of the working tree and in every version of every
 * manifest anywhere in the repository's git history (`git log --all` over `*.manifest.json`,
 * blobs read in one `git cat-file --batch`). A run is named by its id (`prepare/a`, optionally
 * `<experiment>:<id>`), its readable name, or any unambiguous prefix of its key (4+ hex digits).
 * Pure apart from reading files and git; the caller says which project folder to search.
 */
import { filesUnder } from './walk.js';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { nearest } from './diagnostics.js';
import { isObject, type Json } from './json.js';
import { readManifestText, type RunRecord } from './manifest.js';

export interface FoundRecord {
  record: RunRecord;
  /** The manifest it was read from, relative to the project folder. */
  manifest: string;
  /** The experiment's name, as the manifest says. */
  experiment: string;
  /** The experiment file, relative to the project folder. */
  experimentFile: string;
  /** The working tree's manifest, or the newest commit whose manifest holds this record. */
  source: { kind: 'working-tree' } | { kind: 'history'; commit: string; time: number };
}

export type Resolution =
  | { kind: 'found'; found: FoundRecord }
  | { kind: 'ambiguous'; query: string; candidates: FoundRecord[] }
  | { kind: 'none'; query: string; suggestion?: string; searchedHistory: boolean };

const HEX = /^[0-9a-f]{4,64}$/;

/** git's output in the project folder, or undefined when git fails (not a repository, no such object). */
export function git(projectDir: string, args: string[], input?: string): Buffer | undefined {
  try {
    return execFileSync('git', args, { cwd: projectDir, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'ignore'], input, maxBuffer: 1 << 30 });
  } catch {
    return undefined;
  }
}

export function isGitRepository(projectDir: string): boolean {
  return git(projectDir, ['rev-parse', '--git-dir']) !== undefined;
}

/** The records of one manifest's text (lenient: a damaged manifest in history yields nothing). */
export function parseManifestText(text: string): { experiment: string; experimentFile: string; runs: RunRecord[] } | undefined {
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || !Array.isArray(parsed.runs)) return undefined;
  const runs = parsed.runs.filter((r): r is RunRecord & Json => isObject(r) && typeof r.key === 'string' && typeof r.id === 'string' && typeof r.name === 'string' && isObject(r.params) && isObject(r.inputs) && isObject(r.upstream)) as unknown as RunRecord[];
  return { experiment: String(parsed.experiment ?? ''), experimentFile: String(parsed.experiment_file ?? ''), runs };
}

function experimentFileOf(manifest: string, experimentFile: string): string {
  return experimentFile === '' ? manifest.replace(/\.manifest\.json$/, '.yaml') : join(dirname(manifest), experimentFile);
}

/** The manifests of the working tree: what git knows (tracked or not ignored), else those under experiments/. */
export function workingTreeManifests(projectDir: string): string[] {
  const listed = git(projectDir, ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', '*.manifest.json']);
  if (listed !== undefined) return [...new Set(listed.toString().split('\0').filter((p) => p !== '' && existsSync(join(projectDir, p))))].sort();
  return filesUnder(join(projectDir, 'experiments'), { maxDepth: 4, skipHidden: true })
    .filter((path) => path.endsWith('.manifest.json'))
    .map((path) => relative(projectDir, path))
    .sort();
}

export function workingTreeRecords(projectDir: string): FoundRecord[] {
  const records: FoundRecord[] = [];
  for (const manifest of workingTreeManifests(projectDir)) {
    let text: string;
    try {
      text = readManifestText(join(projectDir, manifest));
    } catch {
      continue;
    }
    const parsed = parseManifestText(text);
    if (!parsed) continue;
    for (const record of parsed.runs) records.push({ record, manifest, experiment: parsed.experiment, experimentFile: experimentFileOf(manifest, parsed.experimentFile), source: { kind: 'working-tree' } });
  }
  return records;
}

interface ManifestVersion {
  commit: string;
  time: number;
  /** Relative to the repository's top level. */
  path: string;
  blob: string;
}

/** Reads many blobs in one process: `git cat-file --batch`. */
function readBlobs(projectDir: string, blobs: string[]): Map<string, string> {
  const texts = new Map<string, string>();
  if (blobs.length === 0) return texts;
  const output = git(projectDir, ['cat-file', '--batch'], blobs.join('\n') + '\n');
  if (!output) return texts;
  let at = 0;
  while (at < output.length) {
    const newline = output.indexOf(0x0a, at);
    if (newline < 0) break;
    const header = output.subarray(at, newline).toString().split(' ');
    at = newline + 1;
    if (header[1] === 'missing' || header.length < 3) continue;
    const size = Number(header[2]);
    texts.set(header[0]!, output.subarray(at, at + size).toString('utf8'));
    at += size + 1;
  }
  return texts;
}

/** Every version of every manifest in history, newest commit first. */
function manifestVersions(projectDir: string, limit?: { commits: number }): ManifestVersion[] {
  const args = limit ? ['log', `-n${limit.commits}`, '--format=%x00%H %ct', 'HEAD'] : ['log', '--all', '--format=%x00%H %ct', '--raw', '--no-abbrev', '--no-renames', '--', '*.manifest.json'];
  const output = git(projectDir, args);
  if (!output) return [];
  const versions: ManifestVersion[] = [];
  if (limit) {
    // The manifests as they stood at each of the last N commits (not only those the commit changed).
    for (const line of output.toString().split('\0')) {
      const [commit, time] = line.trim().split(' ');
      if (!commit) continue;
      const tree = git(projectDir, ['ls-tree', '-r', '-z', '--full-tree', commit]);
      for (const entry of tree?.toString().split('\0') ?? []) {
        const match = /^\d+ blob ([0-9a-f]+)\t(.+)$/.exec(entry);
        if (match && match[2]!.endsWith('.manifest.json')) versions.push({ commit, time: Number(time), path: match[2]!, blob: match[1]! });
      }
    }
    return versions;
  }
  let commit = '';
  let time = 0;
  for (const chunk of output.toString().split('\0')) {
    const lines = chunk.split('\n');
    const head = lines.shift()?.trim().split(' ') ?? [];
    if (head[0]) {
      commit = head[0];
      time = Number(head[1]);
    }
    for (const line of lines) {
      const match = /^:\d+ \d+ [0-9a-f]+ ([0-9a-f]+) [A-Z]\d*\t(.+)$/.exec(line);
      if (!match || /^0+$/.test(match[1]!)) continue;
      versions.push({ commit, time, path: match[2]!, blob: match[1]! });
    }
  }
  return versions;
}

/**
 * Records from git history. Each key appears once, from the newest version of a manifest holding
 * it. `lastCommits` restricts the search to the manifests as they stood at the last N commits of
 * HEAD (what `gc` keeps).
 */
export function historyRecords(projectDir: string, options: { lastCommits?: number } = {}): FoundRecord[] {
  const top = git(projectDir, ['rev-parse', '--show-toplevel'])?.toString().trim();
  if (!top) return [];
  const versions = manifestVersions(projectDir, options.lastCommits !== undefined ? { commits: options.lastCommits } : undefined);
  const texts = readBlobs(projectDir, [...new Set(versions.map((v) => v.blob))]);
  const parsedBlobs = new Map<string, ReturnType<typeof parseManifestText>>();
  const seen = new Set<string>();
  const records: FoundRecord[] = [];
  for (const version of versions) {
    if (!parsedBlobs.has(version.blob)) parsedBlobs.set(version.blob, parseManifestText(texts.get(version.blob) ?? ''));
    const parsed = parsedBlobs.get(version.blob);
    if (!parsed) continue;
    const manifest = relative(projectDir, join(top, version.path));
    for (const record of parsed.runs) {
      const identity = `${manifest}\0${record.key}`;
      if (seen.has(identity)) continue;
      seen.add(identity);
      records.push({ record, manifest, experiment: parsed.experiment, experimentFile: experimentFileOf(manifest, parsed.experimentFile), source: { kind: 'history', commit: version.commit, time: version.time } });
    }
  }
  return records;
}

/** The oldest commit whose version of `manifest` holds `key`: where the run was first recorded. */
export function commitRecording(projectDir: string, manifest: string, key: string): { commit: string; time: number; subject: string } | undefined {
  const output = git(projectDir, ['log', '--all', '--reverse', '--format=%H %ct %s', `-S${key}`, '--', manifest])?.toString();
  const line = output?.split('\n').find((l) => l.trim() !== '');
  if (!line) return undefined;
  const [commit, time, ...subject] = line.split(' ');
  return { commit: commit!, time: Number(time), subject: subject.join(' ') };
}

/** One record per key: the working tree's first, then history's newest. */
export function byKey(records: readonly FoundRecord[]): Map<string, FoundRecord> {
  const keys = new Map<string, FoundRecord>();
  for (const found of records) {
    const current = keys.get(found.record.key);
    if (!current || (current.source.kind === 'history' && found.source.kind === 'working-tree')) keys.set(found.record.key, found);
  }
  return keys;
}

function matchIn(records: readonly FoundRecord[], query: string): FoundRecord[] {
  const keys = byKey(records);
  if (HEX.test(query)) {
    const hits = [...keys.values()].filter((found) => found.record.key.startsWith(query));
    if (hits.length > 0) return hits;
  }
  const named = [...keys.values()].filter((found) => found.record.name === query);
  if (named.length > 0) return named;
  // An id: the latest record of that id, per experiment (working tree first).
  const colon = query.indexOf(':');
  const [experiment, id] = colon > 0 && !query.startsWith('/') ? [query.slice(0, colon), query.slice(colon + 1)] : [undefined, query];
  const latest = new Map<string, FoundRecord>();
  for (const found of records) {
    if (found.record.id !== id || (experiment !== undefined && found.experiment !== experiment && found.experimentFile !== experiment)) continue;
    const current = latest.get(found.manifest);
    const newer = !current || (current.source.kind === 'history' && found.source.kind === 'working-tree') || (current.source.kind === found.source.kind && found.record.recorded_at > current.record.recorded_at);
    if (newer) latest.set(found.manifest, found);
  }
  return [...latest.values()];
}

function suggestionFor(records: readonly FoundRecord[], query: string): string | undefined {
  const candidates = new Map<string, string>();
  for (const { record } of records) {
    candidates.set(record.id, record.id);
    candidates.set(record.name, record.name);
    candidates.set(record.id.split('/').pop()!, record.id);
  }
  const close = nearest(query, candidates.keys()) ?? [...candidates.keys()].sort().find((candidate) => candidate.startsWith(query));
  return close === undefined ? undefined : candidates.get(close);
}

/**
 * Finds the run `query` names. The working tree answers ids and names on its own; key prefixes
 * (which must be unambiguous across history too) and anything the working tree lacks are looked
 * up in git history.
 */
export function resolveRun(projectDir: string, query: string, cache: { history?: FoundRecord[]; tree?: FoundRecord[] } = {}): Resolution {
  const tree = (cache.tree ??= workingTreeRecords(projectDir));
  const fullKey = /^[0-9a-f]{64}$/.test(query);
  let hits = matchIn(tree, query);
  let searchedHistory = false;
  if (hits.length === 0 || (HEX.test(query) && !fullKey)) {
    const history = (cache.history ??= historyRecords(projectDir));
    searchedHistory = true;
    hits = matchIn([...tree, ...history], query);
  }
  if (hits.length === 1) return { kind: 'found', found: hits[0]! };
  if (hits.length > 1) {
    // The same key recorded by two experiments is one run.
    if (new Set(hits.map((h) => h.record.key)).size === 1) return { kind: 'found', found: hits.find((h) => h.source.kind === 'working-tree') ?? hits[0]! };
    return { kind: 'ambiguous', query, candidates: hits.sort((a, b) => a.record.key.localeCompare(b.record.key)) };
  }
  const all = searchedHistory ? [...tree, ...(cache.history ?? [])] : tree;
  return { kind: 'none', query, suggestion: suggestionFor(all, query), searchedHistory };
}

/** A record's run directory: where the record says, else where this checkout's runs root would hold it. */
export function runDirCandidates(projectDir: string, record: RunRecord, runsRoot: string, runDirName: (key: string, name: string) => string): string[] {
  const recorded = record.run_dir.startsWith('/') ? record.run_dir : join(projectDir, record.run_dir);
  const here = join(runsRoot, runDirName(record.key, record.name));
  return [...new Set([recorded, here])];
}
