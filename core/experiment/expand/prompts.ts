/** The prompts the loader does not see (a list run's, a checkpoint's), checked by core's one prompt check. */
import type { FieldPath } from '../../diagnostics.js';
import { promptProblem } from '../../prompt.js';
import type { ExpandContext } from './context.js';

export function checkPrompt(ctx: ExpandContext, prompt: string, at: FieldPath): void {
  const problem = promptProblem(prompt);
  if (problem) ctx.diagnostics.push(ctx.diag(at, problem.message, { code: problem.code }));
}
