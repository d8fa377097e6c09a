/**
 * Starts local jobs from a small helper process instead of from ckbuild itself. A fork of ckbuild
 * copies its page tables and blocks it until the child has exec'd: ≈1.1 ms of ckbuild's time a
 * job at 50 MB, more as the plan grows, the largest single cost of a short step in a 200-step
 * build. The helper (templates/python/job_starter.py) starts each job with posix_spawn, ≈0.15 ms,
 * beside ckbuild rather than in its way. A helper in bash was tried first: its forks and `setsid`
 * exec cost more than they saved (a 200-step build took 2.0 s instead of 1.35).
 *
 * Protocol, one line each way per event: ckbuild writes `<token>\t<log>\t<job script>\t<gpus>`;
 * the helper answers `started <token> <pid>` (or `failed <token> <reason>`) and, when the job
 * ends, `exited <pid>`. When ckbuild dies the helper reads end-of-file and exits; the jobs, each
 * in its own session, run on, as they did when ckbuild started them itself.
 *
 * Where the helper cannot run (no python3 3.8+) or stops, the executor starts jobs itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { templatesDir } from '../paths.js';

const HELPER = join(templatesDir, 'python', 'job_starter.py');
/** posix_spawn answers in well under a millisecond; this much silence means the helper is stuck. */
const HELPER_SILENCE_MS = 5_000;

export interface JobToStart {
  jobScript: string;
  log: string;
  gpus: number[];
}

/**
 * What became of a start: the job's pid; an error (bash could not be started); `not-taken`,
 * certainly not started (no helper, not ready yet, or a path a line cannot carry): the caller
 * starts the job itself; or `unknown`: the helper stopped between reading the job and answering,
 * so the job may be running without ckbuild knowing its pid.
 */
export type StartResult = { pid: number } | { error: string } | 'not-taken' | 'unknown';

interface Refable {
  ref(): void;
  unref(): void;
}

/**
 * The environment variable that chooses how local jobs start: unset, the helper under `python3`;
 * `none`, from ckbuild itself; anything else, the Python to run the helper with.
 */
export const JOB_STARTER_VARIABLE = 'CKBUILD_JOB_STARTER';

export class JobStarter {
  private process: ChildProcess | undefined;
  private state: 'idle' | 'starting' | 'ready' | 'gone' = 'idle';
  private nextToken = 0;
  private readonly pending = new Map<number, (result: StartResult) => void>();
  /** Armed while starts await answers: a helper silent that long is stopped (a build never hangs on it). */
  private watchdog: NodeJS.Timeout | undefined;
  private readonly python: string;

  constructor(
    private readonly environment: Record<string, string>,
    /** Called when a job the helper started has ended: a prompt to look, not the verdict. */
    private readonly onExit: (pid: number) => void,
    /** JOB_STARTER_VARIABLE's value. */
    choice: string | undefined,
  ) {
    this.python = choice === undefined || choice === '' ? 'python3' : choice;
    if (choice === 'none') this.state = 'gone';
  }

  /** Starts the helper now, for jobs about to come (LocalExecutor.prepare): it is then ready by the first. */
  warmUp(): void {
    if (this.state === 'idle') this.launch();
  }

  start(job: JobToStart): Promise<StartResult> {
    // Until the helper is ready (python3 takes 10 ms to start, 65 ms behind a pyenv shim), ckbuild
    // starts the first jobs itself: a build of three steps never waits for the helper.
    this.warmUp();
    if (this.state !== 'ready' || [job.jobScript, job.log].some((field) => /[\t\n\r]/.test(field))) return Promise.resolve('not-taken');
    const token = this.nextToken++;
    return new Promise((resolve) => {
      this.pending.set(token, resolve);
      this.holdOpen(true);
      this.watchdog ??= setTimeout(() => this.silenced(), HELPER_SILENCE_MS);
      this.process!.stdin!.write(`${token}\t${job.log}\t${job.jobScript}\t${job.gpus.join(',')}\n`);
    });
  }

  /** Lets the helper finish: it exits once it has read everything written to it (one never ready is stopped). */
  close(): void {
    if (this.state === 'ready') this.process!.stdin!.end();
    else if (this.state === 'starting') this.process!.kill('SIGKILL');
  }

  private launch(): void {
    this.state = 'starting';
    // Its own session: a Ctrl-C meant for ckbuild (which cancels its jobs itself) never reaches it.
    // -I -S: no user site, no PYTHON* variables, no site-packages: a fast start, whatever the Python.
    const lcCtype = this.environment.LC_CTYPE === undefined ? '' : `=${this.environment.LC_CTYPE}`;
    const child = spawn(this.python, ['-I', '-S', HELPER, lcCtype], { env: this.environment, stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    this.process = child;
    child.on('error', () => this.stop());
    child.stdin!.on('error', () => this.stop()); // EPIPE: it stopped; 'exit' follows
    child.on('exit', () => this.stop());
    createInterface({ input: child.stdout! }).on('line', (line) => this.heard(line));
    // Neither the helper nor its pipes keep ckbuild alive, except while a start awaits its answer:
    // the build waits on its jobs (polling), not on the helper.
    child.unref();
    (child.stdin as unknown as Refable).unref();
    this.holdOpen(false);
  }

  private holdOpen(hold: boolean): void {
    const stdout = this.process?.stdout as unknown as Refable | undefined;
    if (hold) stdout?.ref();
    else stdout?.unref();
  }

  private heard(line: string): void {
    this.watchdog?.refresh();
    const [word = '', first = '', ...rest] = line.split(' ');
    if (word === 'ready') this.state = 'ready';
    else if (word === 'unavailable') this.stop();
    else if (word === 'started') this.answer(Number(first), { pid: Number(rest[0]) });
    else if (word === 'failed') this.answer(Number(first), { error: `could not start bash: ${rest.join(' ')}` });
    // After the turn's promise reactions: a short job's `exited` can come in the same chunk as its
    // `started`, and must reach the executor after the submission that took its pid.
    else if (word === 'exited') setImmediate(() => this.onExit(Number(first)));
  }

  private answer(token: number, result: StartResult): void {
    this.pending.get(token)?.(result);
    this.pending.delete(token);
    if (this.pending.size === 0) this.idle();
  }

  /** Nothing awaits an answer: neither the pipe nor the watchdog keeps ckbuild alive. */
  private idle(): void {
    this.holdOpen(false);
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  /**
   * Starts awaited an answer for HELPER_SILENCE_MS (a helper stopped by a signal, or stuck): the
   * helper is killed, so it can start nothing more, and the starts are settled as for one that died.
   */
  private silenced(): void {
    this.process?.kill('SIGKILL');
    this.stop();
  }

  private stop(): void {
    if (this.state === 'gone') return;
    this.state = 'gone';
    // Only a ready helper is written to: a start it read may have happened.
    for (const resolve of this.pending.values()) resolve('unknown');
    this.pending.clear();
    this.idle();
  }
}
