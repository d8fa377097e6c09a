/**
 * The earlier toolkit's experiment file, experiment_summary.yaml: read by the modules under
 * cruijff/, one per part of the format; this module keeps the entry points where callers import them.
 */
export { convertCruijff, cruijffFormat, detectCruijff, type CruijffConversion } from './cruijff/index.js';
export { VALIDATION_EVERY_N_STEPS } from './cruijff/spec.js';
