/**
 * Running SLURM's commands: one invocation with a timeout, the classification of failures that
 * are worth retrying (a controller restarting or overloaded) and error text kept on one line.
 */
// execa is loaded on the first SLURM call: ~0.1 s of module loading that a local build, a
// dry run or a plan never needs.
const loadExeca = (): Promise<typeof import('execa')> => import('execa');

export interface CommandResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  timedOut?: boolean;
  /** Stopped early because its stderr matched `giveUpOn`. */
  gaveUp?: boolean;
}

/** Every SLURM client call gives up after this long (sbatch's own MessageTimeout is 10 s, retried). */
export const COMMAND_TIMEOUT_MS = 60_000;

/**
 * One SLURM client call. `giveUpOn` stops it as soon as its stderr says something that makes
 * waiting pointless: sbatch refused by a full controller says so at once, then sleeps and
 * retries by itself for about two minutes.
 */
export async function slurmCommand(command: string, args: string[], timeoutMs = COMMAND_TIMEOUT_MS, giveUpOn?: RegExp): Promise<CommandResult> {
  try {
    const { execa } = await loadExeca();
    const child = execa(command, args, { reject: false, timeout: timeoutMs, stdin: 'ignore' });
    let gaveUp = false;
    if (giveUpOn !== undefined) {
      let said = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        said += chunk.toString();
        if (gaveUp || !giveUpOn.test(said)) return;
        gaveUp = true;
        child.kill();
      });
    }
    const result = await child;
    const stdout = String(result.stdout ?? '');
    const stderr = String(result.stderr ?? '');
    if (gaveUp) return { ok: false, stdout, stderr, gaveUp };
    return { ok: result.exitCode === 0 && !result.timedOut, stdout, stderr, timedOut: result.timedOut };
  } catch (error) {
    return { ok: false, stdout: '', stderr: (error as Error).message };
  }
}

/**
 * What sbatch prints when the controller refuses new jobs for a while: its job table is full
 * (MaxJobCount: finished jobs stay in it for MinJobAge) or submissions are paused. sbatch then
 * sleeps and retries on its own, silently, for minutes.
 */
export const CONTROLLER_REFUSING = /temporarily unable to accept job|job queue full|job creation temporarily disabled/i;

/**
 * Failures that say nothing about the job, only about reaching the controller: seen during a
 * slurmctld restart ("Connection reset by peer", "Zero Bytes were transmitted"), under load
 * ("Socket timed out"), or while it is down ("Unable to contact slurm controller").
 */
const TRANSIENT = [
  /socket timed out/i,
  /connection reset by peer/i,
  /connection refused/i,
  /unable to contact slurm controller/i,
  /zero bytes were transmitted or received/i,
  /slurm_receive_msg/i,
  /slurm_persist_conn/i,
  /try again/i,
  /temporarily unavailable/i,
  /resource temporarily/i,
  /timed out/i,
  /broken pipe/i,
  /communication connection failure/i,
];

export function isTransient(message: string): boolean {
  return TRANSIENT.some((pattern) => pattern.test(message));
}

/** SLURM's multi-line errors on one line (a table cell, a manifest detail), without the `sbatch: error:` prefixes. */
export function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/^\s*(sbatch|squeue|sacct|scancel|scontrol|sinfo|srun): error:\s*/i, '').trim())
    .filter(Boolean)
    .join('; ');
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export type ControllerAnswer = { state: 'up' } | { state: 'down'; message: string } | { state: 'slow'; message: string };

/**
 * Whether a controller answers, asked once. `scontrol ping` says "DOWN" at once when nothing
 * listens (connection refused: no controller, a wrong SLURM_CONF, a login node during
 * maintenance): that is known within milliseconds and reported plainly, instead of after
 * minutes of retried squeue calls. A controller that is there but frozen or overloaded makes
 * the ping wait out its MessageTimeout: "slow", and the callers' retries ride it out.
 */
export async function pingController(timeoutMs = 15_000): Promise<ControllerAnswer> {
  const started = Date.now();
  const result = await slurmCommand('scontrol', ['ping'], timeoutMs);
  if (result.ok && /\bUP\b/.test(result.stdout)) return { state: 'up' };
  const said = oneLine(`${result.stdout}\n${result.stderr}`)
    .split('; ')
    .filter((part) => !/^\*+$|RESTORE SLURMCTLD/.test(part))
    .join('; ');
  if (result.timedOut || Date.now() - started >= 5_000) return { state: 'slow', message: said || 'scontrol ping did not answer' };
  return { state: 'down', message: `the SLURM controller does not answer (${said || 'scontrol ping failed'}): start it or wait for it to come back, check SLURM_CONF, or run with --executor local` };
}
