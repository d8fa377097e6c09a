/**
 * Crash injection, for tests only: the named points of a build where ckbuild may die, and a hook
 * that kills this process (SIGKILL: no handler, no cleanup, as a power cut or `kill -9`) when the
 * n-th occurrence of a point is reached. Core never reads the environment: the CLI parses the
 * switch (CKBUILD_TEST_CRASH_AT=<point>[:<n>], see README "Guarantees") and passes the hook in.
 */

export const CRASH_POINTS = [
  'after-generate',
  'before-submit',
  'after-submit',
  'before-manifest-write',
  'after-manifest-write',
  'before-commit',
  'after-commit',
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number];

/** Called at each named point; returns normally unless this is where the process is to die. */
export type CrashHook = (point: CrashPoint) => void;

export interface CrashSpec {
  point: CrashPoint;
  /** Which occurrence of the point (1 = the first). */
  nth: number;
}

/** `<point>[:<n>]`, or a message saying what is wrong with it. */
export function parseCrashSpec(text: string): CrashSpec | string {
  const match = /^([a-z-]+)(?::(\d+))?$/.exec(text.trim());
  const point = match?.[1] as CrashPoint | undefined;
  if (!match || !point || !CRASH_POINTS.includes(point)) return `CKBUILD_TEST_CRASH_AT must be <point>[:<n>] with a point among ${CRASH_POINTS.join(', ')}; got ${JSON.stringify(text)}`;
  const nth = match[2] === undefined ? 1 : Number(match[2]);
  if (!Number.isInteger(nth) || nth < 1) return `CKBUILD_TEST_CRASH_AT: the occurrence must be 1 or more; got ${JSON.stringify(text)}`;
  return { point, nth };
}

/**
 * A hook that dies at `spec` (if given) and reports every point it passes to `trace` (what a test
 * uses to enumerate the points of a build). `die` defaults to SIGKILL of this process.
 */
export function crashHook(spec: CrashSpec | undefined, trace?: (point: CrashPoint, occurrence: number) => void, die: () => void = () => process.kill(process.pid, 'SIGKILL')): CrashHook {
  const seen = new Map<CrashPoint, number>();
  return (point) => {
    const occurrence = (seen.get(point) ?? 0) + 1;
    seen.set(point, occurrence);
    trace?.(point, occurrence);
    if (spec && spec.point === point && spec.nth === occurrence) die();
  };
}
