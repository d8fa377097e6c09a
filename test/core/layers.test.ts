/**
 * The layers depend one way: rules/ and cli/ build on core/, and core/ never imports from rules/
 * or cli/ (the rule contract lives in core/rule.ts). Core also never prints, exits, or reads the
 * caller's environment or directory: those are values the CLI passes in.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../helpers/paths.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const core = sources(join(projectRoot, 'core'));

test('no file of core/ imports from rules/ or cli/', () => {
  const offenders = core.filter((file) => /from\s+'(\.\.\/)+(rules|cli)\//.test(readFileSync(file, 'utf8'))).map((file) => relative(projectRoot, file));
  assert.deepEqual(offenders, []);
});

test('core/ never prints, exits, or reads process.env or process.cwd()', () => {
  const pattern = /process\.(env|cwd\(|exit\(|stdout|stderr)|console\./;
  const offenders = core.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line, index) => ({ line, index }))
      .filter(({ line }) => pattern.test(line) && !line.trim().startsWith('*') && !line.trim().startsWith('//'))
      .map(({ line, index }) => `${relative(projectRoot, file)}:${index + 1}: ${line.trim()}`),
  );
  assert.deepEqual(offenders, []);
});
