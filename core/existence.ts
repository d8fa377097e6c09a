/**
 * Whether the outputs that a manifest's succeeded records list are still there: a plan checks
 * every one of them (20,000 for a 10,000-trial sweep, ~0.1 s of system calls on a slow VM, and
 * ~40 ms more to build their paths). Past a few thousand records the check runs on a worker
 * thread, sent the records as columns (keys and their lists of outputs) as soon as the manifest is
 * read, so that it builds the paths and checks them while this thread loads the experiment and the
 * saved plan. The worker is only an accelerator: until it has answered (or if it cannot start),
 * the check runs here, so planning never waits on it for long and never hangs. One worker serves
 * every check of the process: watch mode plans on every save and should not start a thread each time.
 */
import { existsSync } from 'node:fs';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { readableName } from './names.js';
import { runDirName, within } from './runDir.js';

/** The outputs to check, as columns: record `i` is `keys[i]`, its outputs are `lists[listOf[i]]`. */
export interface RecordedOutputList {
  /** Where the run directories are (each is `<runs root>/<key16>-<name>`, core/runDir.ts). */
  runsRoot: string;
  keys: string[];
  /** The distinct lists of output paths, relative to a run directory (records share them). */
  lists: string[][];
  listOf: number[];
}

/** Each record with outputs missing: [key, the missing outputs' paths]. */
export type MissingOutputs = Array<[string, string[]]>;

export interface OutputCheck {
  /** The outputs of the record with this key that are missing; empty when all are there (or it was not asked about). */
  missing(key: string): readonly string[];
  /** Whether the worker gave the answers (false: checked on this thread). */
  onWorker(): boolean;
}

/** Checks every output of the list; what the worker and this thread both run. */
export function missingOutputs(list: RecordedOutputList): MissingOutputs {
  const found: MissingOutputs = [];
  for (let i = 0; i < list.keys.length; i++) {
    const key = list.keys[i]!;
    const runDir = within(list.runsRoot, runDirName(key, readableName(key)));
    let missing: string[] | undefined;
    for (const path of list.lists[list.listOf[i]!]!) if (!existsSync(within(runDir, path))) (missing ??= []).push(path);
    if (missing) found.push([key, missing]);
  }
  return found;
}

/** Below this many records, checking here (~15 ms) is sooner than a worker's answer (it takes 40–60 ms to start on a slow VM). */
const PARALLEL_FROM = 4096;

/** Longest the plan waits for the worker before checking itself. */
const WAIT_MS = 2000;

/** Shared with the worker: one Int32, its state. */
export const STATE_RUNNING = 0;
export const STATE_DONE = 1;
export const STATE_FAILED = 2;

/** What the worker is sent: the list, the port it answers on, the state it sets when it has. */
export interface CheckRequest {
  list: RecordedOutputList;
  port: MessagePort;
  shared: SharedArrayBuffer;
}

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

/** Starts checking the outputs of `list`; its answers are read when first asked for. */
export function checkRecordedOutputs(list: RecordedOutputList): OutputCheck {
  let answers: Map<string, string[]> | undefined;
  const onThisThread = (): Map<string, string[]> => (answers ??= new Map(missingOutputs(list)));
  const inline: OutputCheck = { missing: (key) => onThisThread().get(key) ?? NOTHING_MISSING, onWorker: () => false };
  if (list.keys.length < PARALLEL_FROM) return inline;
  const worker = checkingWorker();
  if (!worker) return inline;
  const shared = new SharedArrayBuffer(4);
  const state = new Int32Array(shared);
  const { port1, port2 } = new MessageChannel();
  try {
    worker.postMessage({ list, port: port2, shared } satisfies CheckRequest, [port2]);
  } catch {
    port1.close();
    return inline;
  }
  let answered: boolean | undefined;
  const ready = (): boolean => {
    if (answered === undefined) {
      // Blocks this thread until the worker has answered (it notifies), for WAIT_MS at most.
      if (Atomics.load(state, 0) === STATE_RUNNING) Atomics.wait(state, 0, STATE_RUNNING, WAIT_MS);
      // The worker posts its answer before it says it is done: the message is there by now.
      const received = Atomics.load(state, 0) === STATE_DONE ? receiveMessageOnPort(port1) : undefined;
      port1.close();
      answered = received !== undefined;
      if (received) answers = new Map(received.message as MissingOutputs);
    }
    return answered;
  };
  return {
    missing: (key) => (ready() ? answers! : onThisThread()).get(key) ?? NOTHING_MISSING,
    onWorker: ready,
  };
}

const NOTHING_MISSING: readonly string[] = Object.freeze([]);
