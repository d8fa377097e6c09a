/**
 * What several rules need at render time: where a model or an upstream's checkpoint is on disk,
 * the static Python driver scripts under templates/python/, and diagnostics for problems only
 * visible once paths are known.
 */
import type { DiagnosticCode } from '../../core/diagnostics.js';
import { readFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import type { Diagnostic } from '../../core/diagnostics.js';
import { sha256 } from '../../core/hash.js';
import { type JsonObject, stableStringify } from '../../core/json.js';
import { templatesDir } from '../../core/paths.js';
import type { RenderContext, RenderedRun, Resources, UpstreamView } from '../../core/rule.js';

/** A render-time problem: it has no position in the experiment file, only the run it concerns. */
export function renderDiagnostic(context: RenderContext<unknown>, message: string, code: DiagnosticCode, severity: 'error' | 'warning' = 'error'): Diagnostic {
  return { severity, code, file: '', line: 0, column: 0, field: context.id, message: `${context.id}: ${message}` };
}

/** `./models/tiny`, `../x` or `/abs/dir` name a directory; anything else is a registry name or an HF id. */
export function isModelPath(name: string): boolean {
  return /^(\.{1,2}\/|\/)/.test(name);
}

/**
 * The directory name of a model under the models dir: the basename of what the experiment names
 * (`meta-llama/Llama-3.2-1B-Instruct` → `Llama-3.2-1B-Instruct`), as `tune download --output-dir`
 * lays models out.
 */
export function modelDirName(baseModel: string): string {
  const trimmed = baseModel.trim().replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/**
 * The base model's directory. A fine-tune upstream has resolved the model name (aliases and case
 * folded to the registry name), so its name wins over the one written in the experiment: the
 * evaluation then loads exactly the directory the training used.
 */
export function baseModelDir(context: RenderContext<unknown>, baseModel: string, upstream?: UpstreamView): string {
  if (context.site.modelPath !== undefined) return context.site.modelPath;
  const resolved = upstream?.step === 'finetune' && typeof upstream.params.base_model === 'string' ? upstream.params.base_model : baseModel;
  // A checkpoint directory named by its path (`./models/tiny`), relative to the project.
  if (isModelPath(resolved)) return resolvePath(context.site.projectDir, resolved);
  return join(context.site.modelsDir, modelDirName(resolved));
}

/** Epochs are numbered from 0; a fine-tune of N epochs leaves epoch_0 … epoch_{N-1}. */
export function lastEpoch(upstream: UpstreamView): number {
  const epochs = upstream.params.epochs;
  return typeof epochs === 'number' && epochs >= 1 ? epochs - 1 : 0;
}

/**
 * The adapter (or full checkpoint) an upstream produced: a fine-tune's `epoch_<N>` directory
 * (the last one unless asked), or a merge's `adapter` directory. Always derived from the exact
 * upstream run the DAG names, never from a path convention.
 */
export function checkpointDir(upstream: UpstreamView, epoch?: number): string {
  if (upstream.step === 'merge') return join(upstream.outputsDir, 'adapter');
  return join(upstream.outputsDir, `epoch_${epoch ?? lastEpoch(upstream)}`);
}

/**
 * What transformers loads as the model of a checkpoint (inspect-ai's hf provider). A LoRA
 * fine-tune's epoch directory also holds a copy of the base's config.json, so transformers takes
 * it for a complete model and looks for weights there; its `adapter/` view (made after training,
 * rules/torchtune/post.ts) holds the adapter alone and loads as base + adapter. PEFT, which
 * exports and merges use, reads the epoch directory itself.
 */
export function loadableCheckpointDir(upstream: UpstreamView, epoch?: number): string {
  const dir = checkpointDir(upstream, epoch);
  const adapter = upstream.step === 'finetune' && upstream.rule === 'torchtune' && upstream.params.method !== 'full';
  return adapter ? join(dir, 'adapter') : dir;
}

/** Roughly how many billion parameters a model has, from its name (`Llama-3.1-8B` → 8). */
export function modelSizeB(baseModel: string | undefined): number | undefined {
  if (!baseModel) return undefined;
  // Asked of every run of a plan (its resources, its estimate) about a handful of model names.
  if (sizes.has(baseModel)) return sizes.get(baseModel);
  const match = /(?:^|[^0-9.])(\d+(?:\.\d+)?)[bB](?![a-zA-Z])/.exec(modelDirName(baseModel));
  const size = match ? Number(match[1]) : undefined;
  sizes.set(baseModel, size);
  return size;
}

const sizes = new Map<string, number | undefined>();

/**
 * Host memory for loading a model: its weights at `bytesPerParam`, a quarter more for loading
 * overhead and 8 GB for the framework, rounded up to 8 GB steps. Scheduling only: never in a key.
 */
export function memoryFor(baseModel: string | undefined, bytesPerParam: number, fallbackGb = 32): string {
  const size = modelSizeB(baseModel);
  if (size === undefined) return `${fallbackGb}G`;
  const gb = size * bytesPerParam * 1.25 + 8;
  return `${Math.max(16, Math.ceil(gb / 8) * 8)}G`;
}

export interface PythonDriver {
  text: string;
  sha256: string;
}

const drivers = new Map<string, PythonDriver>();

/**
 * A static Python driver from templates/python/. The scripts take every value from a JSON config
 * the rule writes, so nothing is ever interpolated into Python code. Read once per process.
 */
export function pythonDriver(file: string): PythonDriver {
  let driver = drivers.get(file);
  if (!driver) {
    const text = readFileSync(join(templatesDir, 'python', file), 'utf8');
    driver = { text, sha256: sha256(text) };
    drivers.set(file, driver);
  }
  return driver;
}

/**
 * The driver's content hash belongs in the key (as `driver_sha256`): a changed script can change results, and
 * nobody remembers to bump a rule version for an edit to a .py file.
 */
export function driverSha256(file: string): string {
  return pythonDriver(file).sha256;
}

/**
 * A run whose work is a Python driver fed a JSON config: `config/<name>.json` and
 * `config/<name>.py`, run as `python3 <name>.py <name>.json`.
 */
export function pythonDriverRun(
  name: string,
  driverFile: string,
  config: JsonObject,
  run: { install: string; outputs: string[]; diagnostics: Diagnostic[] },
): RenderedRun {
  return {
    files: { [`config/${name}.json`]: stableStringify(config), [`config/${name}.py`]: pythonDriver(driverFile).text },
    command: `python3 "$CK_RUN_DIR/config/${name}.py" "$CK_RUN_DIR/config/${name}.json"\n`,
    requires: ['python3'],
    install: { python3: run.install },
    outputs: run.outputs,
    diagnostics: run.diagnostics,
  };
}

/** CPU-only jobs that hold the base model in memory (merges, exports): memory follows its size. */
export function cpuModelResources(baseModel: string, time: string, bytesPerParam: number): Resources {
  return { gpus: 0, time, mem: memoryFor(baseModel, bytesPerParam) };
}
