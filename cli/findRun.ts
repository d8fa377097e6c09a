/** Finding the run a command names (show, log, diff, reproduce): the project, its runs root, the record. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type FoundRecord, resolveRun, runDirCandidates } from '../core/history.js';
import { type LocalConfig, loadLocalConfig, runsRootOf } from '../core/localConfig.js';
import { findProjectDir } from '../core/projectDir.js';
import { runDirName } from '../core/runDir.js';
import { UsageError } from './args.js';
import { environment } from './environment.js';

export interface Project {
  dir: string;
  local: LocalConfig;
  runsRoot: string;
  cache: { history?: FoundRecord[]; tree?: FoundRecord[] };
}

/** The project the current folder is in (the nearest folder with `.git` or `ckbuild.local.yaml`). */
export function currentProject(): Project {
  const dir = findProjectDir(join(process.cwd(), '.ckbuild-here'));
  const local = loadLocalConfig(dir, environment.modelsDir ? { models_dir: environment.modelsDir } : {}).config;
  return { dir, local, runsRoot: runsRootOf(dir, local), cache: {} };
}

/** The record `query` names, or a UsageError listing the candidates or suggesting the nearest. */
export function findRun(project: Project, query: string): FoundRecord {
  const resolution = resolveRun(project.dir, query, project.cache);
  if (resolution.kind === 'found') return resolution.found;
  if (resolution.kind === 'ambiguous') {
    const lines = resolution.candidates.slice(0, 20).map((c) => `  ${c.record.key.slice(0, 12)}  ${c.experiment}:${c.record.id}  ${c.record.name}  ${c.record.status}  ${c.record.recorded_at}${c.source.kind === 'history' ? `  (history ${c.source.commit.slice(0, 8)})` : ''}`);
    const more = resolution.candidates.length > 20 ? [`  … and ${resolution.candidates.length - 20} more`] : [];
    throw new UsageError(`${query} is ambiguous: ${resolution.candidates.length} runs match; give more of the key (or <experiment>:<id>):\n${[...lines, ...more].join('\n')}`);
  }
  const where = resolution.searchedHistory ? "in this project's manifests or anywhere in its git history" : "in this project's manifests";
  throw new UsageError(`no run matches ${query} ${where}${resolution.suggestion ? `; did you mean \`${resolution.suggestion}\`?` : ''} (a run is named by its id, its readable name, or a prefix of its key: see \`ckbuild status\`)`);
}

/** Where the run's directory is on this machine, if it is anywhere. */
export function runDirOf(project: Project, found: FoundRecord): string | undefined {
  return runDirCandidates(project.dir, found.record, project.runsRoot, runDirName).find((dir) => existsSync(dir));
}

export function expectedRunDir(project: Project, found: FoundRecord): string {
  return runDirCandidates(project.dir, found.record, project.runsRoot, runDirName)[0]!;
}
