/**
 * The environment variables ckbuild reads, read once here at the CLI boundary. Core receives them
 * as values (a default models directory, the executor asked for), never from process.env.
 */
export interface CliEnvironment {
  /** CKBUILD_EXECUTOR: the executor when --executor is not given. */
  executor?: string;
  /** CKBUILD_MODELS_DIR: where base models live when the local config does not say. */
  modelsDir?: string;
  /** The user whose jobs `squeue` lists. */
  user?: string;
  /** CKBUILD_TEST_CRASH_AT=<point>[:<n>]: test-only crash injection (core/crash.ts, README "Guarantees"). */
  crashAt?: string;
  /** CKBUILD_TEST_CRASH_TRACE=<file>: test-only; each crash point a build passes is appended to it. */
  crashTrace?: string;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

export const environment: CliEnvironment = {
  executor: nonEmpty(process.env.CKBUILD_EXECUTOR),
  modelsDir: nonEmpty(process.env.CKBUILD_MODELS_DIR),
  user: nonEmpty(process.env.USER) ?? nonEmpty(process.env.LOGNAME),
  crashAt: nonEmpty(process.env.CKBUILD_TEST_CRASH_AT),
  crashTrace: nonEmpty(process.env.CKBUILD_TEST_CRASH_TRACE),
};
