/**
 * The `dataset` block of a torchtune config, per file format, using torchtune's stock builders
 * (torchtune/datasets/_instruct.py, _chat.py, _alpaca.py in 0.6.1 and 0.7.0). Every keyword a
 * builder does not take itself goes on to Hugging Face `datasets.load_dataset`, which is how
 * `data_files`, `field` and a sliced `split` reach it.
 */
import type { JsonObject } from '../../core/json.js';
import type { DatasetFormat } from './resolved.js';

export const DATASET_COMPONENTS = {
  instruct: 'torchtune.datasets.instruct_dataset',
  chat: 'torchtune.datasets.chat_dataset',
  alpaca: 'torchtune.datasets.alpaca_dataset',
} as const;

export interface DatasetBlockOptions {
  format: DatasetFormat;
  /** Absolute path of the data file (already escaped for OmegaConf). */
  dataFile: string;
  /** For the `json` layout ({"train": […], "validation": […]}): the list to read. */
  field: string;
  /** Train on the first N examples only. */
  maxSamples?: number;
  trainOnInput: boolean;
  /** Already escaped; empty means none. */
  systemPrompt: string;
  packed: boolean;
}

/**
 * HF split slicing (`train[:N]`, as torchtune's own configs use `train[:95%]`) is the real
 * "first N examples" mechanism: `split` is passed straight to `load_dataset`. Each file has one
 * split, `train`, whatever the examples are for; the json layout selects its list with `field`.
 */
function split(maxSamples: number | undefined): string {
  return maxSamples === undefined ? 'train' : `train[:${maxSamples}]`;
}

export function datasetBlock(options: DatasetBlockOptions): JsonObject {
  const tail = (block: JsonObject, systemPromptSupported: boolean): JsonObject => {
    block.train_on_input = options.trainOnInput;
    // new_system_prompt exists on instruct_dataset and chat_dataset, not on alpaca_dataset.
    if (systemPromptSupported && options.systemPrompt !== '') block.new_system_prompt = options.systemPrompt;
    block.packed = options.packed;
    return block;
  };
  switch (options.format) {
    case 'json':
      return tail(
        {
          _component_: DATASET_COMPONENTS.instruct,
          source: 'json',
          data_files: options.dataFile,
          field: options.field, // already escaped
          split: split(options.maxSamples),
          column_map: { input: 'input', output: 'output' },
        },
        true,
      );
    case 'jsonl':
    case 'parquet':
      return tail(
        {
          _component_: DATASET_COMPONENTS.instruct,
          source: options.format === 'parquet' ? 'parquet' : 'json',
          data_files: options.dataFile,
          split: split(options.maxSamples),
          column_map: { input: 'input', output: 'output' },
        },
        true,
      );
    case 'json-chat':
      return tail(
        {
          _component_: DATASET_COMPONENTS.chat,
          source: 'json',
          data_files: options.dataFile,
          conversation_column: 'messages',
          conversation_style: 'openai',
          split: split(options.maxSamples),
        },
        true,
      );
    case 'alpaca':
      return tail({ _component_: DATASET_COMPONENTS.alpaca, source: 'json', data_files: options.dataFile, split: split(options.maxSamples) }, false);
  }
}

/** Formats whose examples are {input, output} pairs, to which `prompt` applies. */
export function usesPrompt(format: DatasetFormat): boolean {
  return format === 'json' || format === 'jsonl' || format === 'parquet';
}

/** The dataset component ckbuild ships (templates/python/ckbuild_chat_dataset.py), copied into each run. */
export const CHAT_TEMPLATE_DATASET = 'ckbuild_chat_dataset.chat_template_dataset';
export const CHAT_TEMPLATE_MODULE = 'ckbuild_chat_dataset.py';

/**
 * {input, output} examples in a JSON or JSON Lines file are formatted by ckbuild's own dataset
 * component: for chat_completion with the model's Hugging Face chat template, for
 * text_completion as raw prompt + output — exactly the text inspect-ai's hf provider feeds the
 * model at evaluation time (proven token by token in the real tier). Parquet, chat-format and
 * alpaca files keep torchtune's stock builders.
 */
export function usesChatTemplateDataset(params: { dataset?: { format: DatasetFormat } }): boolean {
  const format = params.dataset?.format ?? 'json';
  return format === 'json' || format === 'jsonl';
}

export function chatTemplateDatasetBlock(options: {
  modelDir: string;
  dataFile: string;
  format: DatasetFormat;
  field: string;
  maxSamples?: number;
  params: { prompt: string; system_prompt: string; dataset_type: 'chat_completion' | 'text_completion'; train_on_input: boolean; max_seq_len: number; packed: boolean; tokenization?: 'cruijff_kit' };
  omega: (text: string) => string;
}): JsonObject {
  const { params } = options;
  const block: JsonObject = { _component_: CHAT_TEMPLATE_DATASET, model_dir: options.modelDir, data_files: options.dataFile };
  if (options.format === 'json') block.field = options.field;
  if (options.maxSamples !== undefined) block.max_samples = options.maxSamples;
  block.prompt = options.omega(params.prompt);
  block.system_prompt = params.dataset_type === 'chat_completion' ? options.omega(params.system_prompt) : '';
  block.dataset_type = params.dataset_type;
  block.train_on_input = params.train_on_input;
  block.max_seq_len = params.max_seq_len;
  block.packed = params.packed;
  if (params.tokenization === 'cruijff_kit') {
    block.tokenization = 'cruijff_kit';
    // The earlier toolkit's builders never truncate (their max_length is never set); packing still needs a length.
    if (!params.packed) block.max_seq_len = null;
  }
  return block;
}
