/**
 * The nine hyperparameters cruijff_kit's `base_recipe` copied from a stock torchtune recipe (its
 * RECIPE_PARAM_MAPPING), as torchtune 0.6.1 ships them (recipes/configs/<name>.yaml; `tune cp <name>`).
 * Facts extracted from the installed package, so that a file naming a recipe migrates to explicit values.
 */
export const STOCK_RECIPE_PARAMS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  'llama3/70B_full': { lr: 2e-05, batch_size: 2, epochs: 1, gradient_accumulation_steps: 1 },
  'llama3/70B_lora': { lora_rank: 16, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 2, epochs: 1, gradient_accumulation_steps: 1, num_warmup_steps: 100 },
  'llama3/8B_full': { lr: 2e-05, batch_size: 2, epochs: 1, gradient_accumulation_steps: 1 },
  'llama3/8B_full_single_device': { lr: 1e-05, batch_size: 2, epochs: 1, gradient_accumulation_steps: 1, num_warmup_steps: 100 },
  'llama3/8B_lora': { lora_rank: 8, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 2, epochs: 1, gradient_accumulation_steps: 8, num_warmup_steps: 100 },
  'llama3/8B_lora_single_device': { lora_rank: 8, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 2, epochs: 1, gradient_accumulation_steps: 8, num_warmup_steps: 100 },
  'llama3/8B_qlora_single_device': { lora_rank: 8, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 2, epochs: 1, gradient_accumulation_steps: 8, num_warmup_steps: 100 },
  'llama3_1/405B_qlora': { lora_rank: 16, lr: 0.0003, weight_decay: 0.01, batch_size: 1, epochs: 1, gradient_accumulation_steps: 8, num_warmup_steps: 100 },
  'llama3_1/70B_full': { lr: 2e-05, batch_size: 2, epochs: 1, gradient_accumulation_steps: 1 },
  'llama3_1/70B_lora': { lora_rank: 16, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 2, epochs: 1, gradient_accumulation_steps: 1, num_warmup_steps: 100 },
  'llama3_1/8B_full': { lr: 2e-05, batch_size: 2, epochs: 1, gradient_accumulation_steps: 1 },
  'llama3_1/8B_full_single_device': { lr: 2e-05, batch_size: 2, epochs: 1, gradient_accumulation_steps: 1 },
  'llama3_1/8B_lora': { lora_rank: 8, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 2, epochs: 1, gradient_accumulation_steps: 8, num_warmup_steps: 100 },
  'llama3_1/8B_lora_single_device': { lora_rank: 8, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 2, epochs: 1, gradient_accumulation_steps: 8, num_warmup_steps: 100 },
  'llama3_1/8B_qlora_single_device': { lora_rank: 8, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 2, epochs: 1, gradient_accumulation_steps: 8, num_warmup_steps: 100 },
  'llama3_2/1B_full': { lr: 2e-05, batch_size: 4, epochs: 1, gradient_accumulation_steps: 8 },
  'llama3_2/1B_full_single_device': { lr: 2e-05, batch_size: 4, epochs: 1, gradient_accumulation_steps: 1 },
  'llama3_2/1B_lora': { lora_rank: 64, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 4, epochs: 1, gradient_accumulation_steps: 8, num_warmup_steps: 100 },
  'llama3_2/1B_lora_single_device': { lora_rank: 64, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 4, epochs: 1, gradient_accumulation_steps: 8, num_warmup_steps: 100 },
  'llama3_2/1B_qlora_single_device': { lora_rank: 64, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 4, epochs: 1, gradient_accumulation_steps: 8, num_warmup_steps: 100 },
  'llama3_2/3B_full': { lr: 2e-05, batch_size: 4, epochs: 1, gradient_accumulation_steps: 8 },
  'llama3_2/3B_full_single_device': { lr: 2e-05, batch_size: 4, epochs: 1, gradient_accumulation_steps: 1 },
  'llama3_2/3B_lora': { lora_rank: 64, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 4, epochs: 1, gradient_accumulation_steps: 8, num_warmup_steps: 100 },
  'llama3_2/3B_lora_single_device': { lora_rank: 64, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 4, epochs: 1, gradient_accumulation_steps: 8, num_warmup_steps: 100 },
  'llama3_2/3B_qlora_single_device': { lora_rank: 64, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 4, epochs: 1, gradient_accumulation_steps: 8, num_warmup_steps: 100 },
  'llama3_3/70B_full': { lr: 2e-05, batch_size: 2, epochs: 1, gradient_accumulation_steps: 1 },
  'llama3_3/70B_lora': { lora_rank: 16, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 2, epochs: 1, gradient_accumulation_steps: 1, num_warmup_steps: 100 },
  'llama3_3/70B_qlora': { lora_rank: 16, lora_dropout: 0.0, lr: 0.0003, weight_decay: 0.01, batch_size: 2, epochs: 1, gradient_accumulation_steps: 1, num_warmup_steps: 100 },
};
