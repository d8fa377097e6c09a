/** `ckbuild import`: reads the earlier toolkit's experiment_summary.yaml (see core/formats). */
import { type ParsedArgs, UsageError } from '../args.js';
import { err } from '../output.js';

export async function importCommand(args: ParsedArgs): Promise<number> {
  if (args.positionals.length === 0) throw new UsageError('usage: ckbuild import <experiment_summary.yaml> [-o experiments/name.yaml]');
  err('import: the experiment_summary.yaml reader is not part of this build yet');
  return 2;
}
