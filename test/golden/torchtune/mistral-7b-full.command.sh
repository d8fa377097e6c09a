# The base model must be where the local config says models are.
if [ ! -f /tmp/ck-models/Mistral-7B-Instruct-v0.1/config.json ]; then
  echo 'ckbuild: base model Mistral-7B-Instruct-v0.1 not found in /tmp/ck-models/Mistral-7B-Instruct-v0.1; download it with: tune download mistralai/Mistral-7B-Instruct-v0.1 --output-dir /tmp/ck-models/Mistral-7B-Instruct-v0.1 (gated models need a Hugging Face login first)' >&2
  exit 66
fi
export PYTHONPATH="$CK_RUN_DIR/config${PYTHONPATH:+:$PYTHONPATH}"
export TIKTOKEN_CACHE_DIR=""  # tiktoken caches tokenizer files by path: a replaced model must be read anew
tune run full_finetune_single_device --config "$CK_RUN_DIR/config/finetune.yaml"
ck_status=$?
exit "$ck_status"
