/** Typed progress events: core emits them, the CLI renders them (TTY progress or plain lines). */
import type { RunStatus } from './manifest.js';

export type BuildEvent =
  | { type: 'reconciled'; id: string; name: string; status: RunStatus; detail?: string }
  | { type: 'adopted'; id: string; name: string; jobId: string }
  | { type: 'generated'; id: string; name: string; runDir: string; changed: boolean }
  | { type: 'submitted'; id: string; name: string; jobId: string; executor: string }
  /** `log`: the job's own log, for a run that did not succeed (the CLI shows its last lines). */
  | { type: 'finished'; id: string; name: string; status: RunStatus; detail?: string; elapsedS?: number; log?: string }
  | { type: 'skipped'; id: string; name: string; detail: string }
  /** Another process holds the run's claim (a checkout sharing the runs root): this build waits for it. */
  | { type: 'waiting'; id: string; name: string; holder: string }
  /** A verdict another process's job left for this key, taken without running it again. */
  | { type: 'reused'; id: string; name: string; status: RunStatus; detail: string }
  | { type: 'progress'; done: number; running: number; queued: number; failed: number; total: number; elapsedS: number }
  | { type: 'cancelling'; running: number }
  | { type: 'warning'; message: string };

export type EventSink = (event: BuildEvent) => void;
