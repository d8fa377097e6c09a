/** Where the report goes and whether a build refreshes it: read by the build without loading the report's renderers. */
import { basename, dirname, extname, join } from 'node:path';
import type { ReportSettings } from '../experiment/model.js';
import type { Plan } from '../plan.js';

export function reportSettings(plan: Plan): ReportSettings {
  const declared = plan.experiment.document.report;
  return typeof declared === 'object' ? declared : {};
}

/** Whether a build refreshes the report: the experiment's `report` first, then the local config's. */
export function reportAfterBuild(plan: Plan): boolean {
  const declared = plan.experiment.document.report;
  if (typeof declared === 'boolean') return declared;
  if (typeof declared === 'object') return declared.after_build ?? true;
  return plan.local.report ?? false;
}

export function defaultReportDir(plan: Plan): string {
  const file = plan.experiment.file;
  return join(dirname(file), `${basename(file, extname(file))}.report`);
}

