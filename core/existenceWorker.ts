/** The worker of core/existence.ts: for each request, checks the outputs, answers on the request's port, then marks its state done (or failed). */
import { parentPort } from 'node:worker_threads';
import { type CheckRequest, missingOutputs, STATE_DONE, STATE_FAILED } from './existence.js';

parentPort?.on('message', ({ list, port, shared }: CheckRequest) => {
  const state = new Int32Array(shared);
  try {
    port.postMessage(missingOutputs(list));
    Atomics.store(state, 0, STATE_DONE);
  } catch {
    Atomics.store(state, 0, STATE_FAILED);
  }
  port.close();
  Atomics.notify(state, 0);
});
