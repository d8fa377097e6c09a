/**
 * Real headless Chromium (Debian's `chromium`, installed by .ci/run): a page's DOM after load, the
 * console messages it logged, and a screenshot. The network is closed here, so everything that
 * could reach out (sync, component updates, background networking) is off, and every run gets a
 * fresh profile.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function chromiumPath(): string | undefined {
  return CANDIDATES.find((path) => existsSync(path));
}

export function chromiumSkipReason(): string | undefined {
  return chromiumPath() ? undefined : 'no Chromium: apt-get install chromium (.ci/run installs it)';
}

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-logging=stderr', '--v=0'];

export interface PageVisit {
  dom: string;
  /** Every console message and uncaught error the page produced (Chromium logs them as `:CONSOLE`). */
  console: string[];
}

function runChromium(args: string[]): { stdout: string; stderr: string } {
  const profile = mkdtempSync(join(tmpdir(), 'ckbuild-chromium-'));
  try {
    const result = spawnSync(chromiumPath()!, [...FLAGS, `--user-data-dir=${profile}`, ...args], { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 << 20 });
    if (result.error) throw result.error;
    return { stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

export function visit(file: string, options: { darkMode?: boolean } = {}): PageVisit {
  const { stdout, stderr } = runChromium([...(options.darkMode ? ['--blink-settings=preferredColorScheme=0'] : []), '--dump-dom', `file://${file}`]);
  return { dom: stdout, console: stderr.split('\n').filter((line) => /:CONSOLE/.test(line)) };
}

export function screenshot(file: string, png: string, options: { width?: number; height?: number; darkMode?: boolean } = {}): void {
  runChromium([...(options.darkMode ? ['--blink-settings=preferredColorScheme=0'] : []), `--window-size=${options.width ?? 1100},${options.height ?? 3000}`, `--screenshot=${png}`, `file://${file}`]);
}
