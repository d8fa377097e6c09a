/**
 * The one check of a prompt's `{input}` placeholder, used wherever a prompt is read (the loader,
 * the expansion, the earlier toolkit's format, the rules), so the message is written once and a
 * problem found twice collapses into one diagnostic.
 */
import type { DiagnosticCode } from './diagnostics.js';

export interface PromptProblem {
  code: DiagnosticCode;
  message: string;
}

/** Why `prompt` cannot be used as a template of one example's input, or undefined when it can. */
export function promptProblem(prompt: string): PromptProblem | undefined {
  const count = prompt.split('{input}').length - 1;
  if (count === 0) return { code: 'prompt-placeholder', message: 'the prompt must contain the `{input}` placeholder, where each example’s input goes (e.g. "Capitalize: {input}\\n")' };
  if (count > 1) return { code: 'prompt-placeholder', message: 'the prompt contains `{input}` more than once; use it exactly once' };
  return undefined;
}

/**
 * Python `str.format` fields in a prompt: the evaluation task fills `{input}` and rejects any
 * other field (literal braces are written `{{` and `}}`).
 */
export function promptFields(prompt: string): { fields: string[]; unbalanced: boolean } {
  const fields: string[] = [];
  let unbalanced = false;
  for (let i = 0; i < prompt.length; i++) {
    const char = prompt[i];
    if (char === '{') {
      if (prompt[i + 1] === '{') { i++; continue; }
      const end = prompt.indexOf('}', i + 1);
      if (end === -1) { unbalanced = true; break; }
      fields.push(prompt.slice(i + 1, end));
      i = end;
    } else if (char === '}') {
      if (prompt[i + 1] === '}') { i++; continue; }
      unbalanced = true;
    }
  }
  return { fields, unbalanced };
}
