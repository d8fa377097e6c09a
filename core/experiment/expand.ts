/**
 * Experiment → runs. The expansion is split by step under expand/ (datasets and shared state in
 * context.ts; prepare, fine-tune, merge, evaluate, optimize, export); this module keeps the
 * entry point where its callers import it.
 */
export { expandExperiment, type Expansion, type RuleRegistry } from './expand/index.js';
