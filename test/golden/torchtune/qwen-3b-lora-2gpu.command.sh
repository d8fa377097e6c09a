# The base model must be where the local config says models are.
if [ ! -f /tmp/ck-models/Qwen2.5-3B-Instruct/config.json ]; then
  echo 'ckbuild: base model Qwen2.5-3B-Instruct not found in /tmp/ck-models/Qwen2.5-3B-Instruct; download it with: tune download Qwen/Qwen2.5-3B-Instruct --output-dir /tmp/ck-models/Qwen2.5-3B-Instruct (gated models need a Hugging Face login first)' >&2
  exit 66
fi
export PYTHONPATH="$CK_RUN_DIR/config${PYTHONPATH:+:$PYTHONPATH}"
export TIKTOKEN_CACHE_DIR=""  # tiktoken caches tokenizer files by path: a replaced model must be read anew
tune run --nproc_per_node=2 lora_finetune_distributed --config "$CK_RUN_DIR/config/finetune.yaml"
ck_status=$?
if [ "$ck_status" -eq 0 ]; then
  python3 "$CK_RUN_DIR/config/post_finetune.py" "$CK_OUTPUTS" /tmp/ck-models/Qwen2.5-3B-Instruct
  ck_status=$?
fi
exit "$ck_status"
