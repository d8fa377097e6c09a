/** The worker of core/existence.ts: for each request, checks each path and marks its shared state done (or failed). */
import { existsSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { STATE_DONE, STATE_FAILED } from './existence.js';

parentPort?.on('message', ({ paths, shared }: { paths: string[]; shared: SharedArrayBuffer }) => {
  const state = new Int32Array(shared, 0, 1);
  const answers = new Uint8Array(shared, 4);
  try {
    for (let i = 0; i < paths.length; i++) answers[i] = existsSync(paths[i]!) ? 1 : 0;
    Atomics.store(state, 0, STATE_DONE);
  } catch {
    Atomics.store(state, 0, STATE_FAILED);
  }
  Atomics.notify(state, 0);
});
