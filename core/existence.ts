/**
 * Whether files exist, asked of many at once: a plan checks every recorded output of every
 * succeeded run (20,000 of them for a 10,000-trial sweep, ~0.1 s of system calls on a slow VM).
 * Past a few thousand paths the checks run on a worker thread, started as soon as the manifest
 * says which outputs to expect, while this thread loads the experiment and the saved plan; the
 * answers are read from memory shared with the worker. The worker is only an accelerator: until
 * it has answered (or if it cannot start), a path is checked here, so planning never waits on it
 * for long and never hangs. One worker serves every check of the process: watch mode plans on
 * every save and should not start a thread each time.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

export interface ExistenceCheck {
  /** Whether the `i`th path given exists. */
  exists(i: number): boolean;
  /** Whether the worker gave the answers (false: checked on this thread). */
  onWorker(): boolean;
}

/** Below this many paths, a worker (~10 ms to start) costs more than it saves. */
const PARALLEL_FROM = 4096;

/** Longest the plan waits for the worker before checking the rest itself. */
const WAIT_MS = 2000;

/** Shared with the worker: Int32 [state] then one byte per path (1 exists, 0 not). */
export const STATE_RUNNING = 0;
export const STATE_DONE = 1;
export const STATE_FAILED = 2;

let checker: Worker | undefined;

/** The process's checking worker, started on first use; undefined where none can start. */
function checkingWorker(): Worker | undefined {
  if (checker) return checker;
  try {
    const worker = new Worker(new URL('./existenceWorker.js', import.meta.url));
    worker.unref(); // never what keeps a finished command alive
    worker.on('error', () => {
      if (checker === worker) checker = undefined;
    });
    checker = worker;
  } catch {
    return undefined;
  }
  return checker;
}

/**
 * Starts the worker now, for checks about to come: a plan that will check 20,000 outputs starts it
 * before reading the manifest that lists them, so that the thread has started (10–30 ms) by then.
 */
export function startExistenceWorker(): void {
  checkingWorker();
}

/** Starts checking `paths` (absolute), each answered by its place in the list. */
export function checkExistence(paths: readonly string[]): ExistenceCheck {
  const inline: ExistenceCheck = { exists: (i) => existsSync(paths[i]!), onWorker: () => false };
  if (paths.length < PARALLEL_FROM) return inline;
  const shared = new SharedArrayBuffer(4 + paths.length);
  const state = new Int32Array(shared, 0, 1);
  const answers = new Uint8Array(shared, 4);
  const worker = checkingWorker();
  if (!worker) return inline;
  try {
    worker.postMessage({ paths, shared });
  } catch {
    return inline;
  }
  let answered: boolean | undefined;
  const ready = (): boolean => {
    if (answered === undefined) {
      // Blocks this thread until the worker has answered (it notifies), for WAIT_MS at most.
      if (Atomics.load(state, 0) === STATE_RUNNING) Atomics.wait(state, 0, STATE_RUNNING, WAIT_MS);
      answered = Atomics.load(state, 0) === STATE_DONE;
    }
    return answered;
  };
  return {
    exists: (i) => (ready() ? answers[i] === 1 : existsSync(paths[i]!)),
    onWorker: ready,
  };
}
