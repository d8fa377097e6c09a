/** The SLURM executor; its parts live in ./slurm/ (commands, arrays, queue, ownership, limits, states). */
export { SlurmExecutor, DEFAULT_ARRAY_MIN, type SlurmExecutorOptions } from './slurm/executor.js';
export { mapState, type SlurmRow } from './slurm/states.js';
