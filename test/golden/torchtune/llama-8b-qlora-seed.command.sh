# The base model must be where the local config says models are.
if [ ! -f /tmp/ck-models/Meta-Llama-3-8B/config.json ]; then
  echo 'ckbuild: base model Meta-Llama-3-8B not found in /tmp/ck-models/Meta-Llama-3-8B; download it with: tune download meta-llama/Meta-Llama-3-8B --output-dir /tmp/ck-models/Meta-Llama-3-8B (gated models need a Hugging Face login first)' >&2
  exit 66
fi
tune run lora_finetune_single_device --config "$CK_RUN_DIR/config/finetune.yaml"
ck_status=$?
if [ "$ck_status" -eq 0 ]; then
  python3 "$CK_RUN_DIR/config/post_finetune.py" "$CK_OUTPUTS" /tmp/ck-models/Meta-Llama-3-8B
  ck_status=$?
fi
exit "$ck_status"
