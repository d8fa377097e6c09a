export HF_HUB_OFFLINE=1
if [ ! -e /shared/models/Llama-3.2-1B-Instruct ]; then
  echo 'ckbuild: base model Llama-3.2-1B-Instruct not found at /shared/models/Llama-3.2-1B-Instruct; put it in the models directory (models_dir in the local config)' >&2
  exit 1
fi
# The last command: the job exits with inspect's own status (non-zero when the eval failed).
inspect eval /work/project/tasks/capitalization/inspect_task.py@capitalization \
  --model hf/Llama-3.2-1B-Instruct \
  -M model_path=/shared/models/Llama-3.2-1B-Instruct \
  -M do_sample=false \
  -T data_path=/scratch/ck/runs/a1b2c3d4e5f60718-brave-otter/inputs/dataset--words_5L_80P_1000.json \
  -T split=test \
  -T config_path="$CK_RUN_DIR/config/eval.yaml" \
  -T use_chat_template=true \
  -T vis_label=base \
  --metadata is_finetuned=false \
  --metadata source_model=Llama-3.2-1B-Instruct \
  --metadata task=capitalization \
  --metadata ckbuild_key=a1b2c3d4e5f60718000000000000000000000000000000000000000000000000 \
  --seed 14 \
  --max-connections 32 \
  --log-dir "$CK_OUTPUTS/logs" \
  --log-format json
