/** Typed progress events: core emits them, the CLI renders them (TTY progress or plain lines). */
import type { RunStatus } from './manifest.js';

export type BuildEvent =
  | { type: 'reconciled'; id: string; name: string; status: RunStatus; detail?: string }
  | { type: 'adopted'; id: string; name: string; jobId: string }
  | { type: 'generated'; id: string; name: string; runDir: string; changed: boolean }
  | { type: 'submitted'; id: string; name: string; jobId: string; executor: string }
  | { type: 'finished'; id: string; name: string; status: RunStatus; detail?: string; elapsedS?: number }
  | { type: 'skipped'; id: string; name: string; detail: string }
  | { type: 'progress'; done: number; running: number; queued: number; failed: number; total: number; elapsedS: number }
  | { type: 'cancelling'; running: number }
  | { type: 'warning'; message: string };

export type EventSink = (event: BuildEvent) => void;
