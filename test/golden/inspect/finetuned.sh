export HF_HUB_OFFLINE=1
if [ ! -e /scratch/ck/runs/9999999999999999-finetune-lora-rank-8-seed-1/outputs/epoch_1/adapter ]; then
  echo 'ckbuild: checkpoint /scratch/ck/runs/9999999999999999-finetune-lora-rank-8-seed-1/outputs/epoch_1/adapter not found: finetune/lora_rank=8,seed=1 did not leave epoch 1' >&2
  exit 1
fi
# The last command: the job exits with inspect's own status (non-zero when the eval failed).
inspect eval /work/project/tasks/capitalization/inspect_task.py@capitalization \
  --model hf/lora_rank-8_seed-1_epoch1 \
  -M model_path=/scratch/ck/runs/9999999999999999-finetune-lora-rank-8-seed-1/outputs/epoch_1/adapter \
  -M tokenizer_path=/shared/models/Llama-3.2-1B-Instruct \
  -M do_sample=false \
  -T data_path=/scratch/ck/runs/a1b2c3d4e5f60718-brave-otter/inputs/dataset--words_5L_80P_1000.json \
  -T split=test \
  -T config_path="$CK_RUN_DIR/config/eval.yaml" \
  -T use_chat_template=true \
  -T vis_label=lora_rank=8_seed=1_epoch1 \
  --metadata epoch=1 \
  --metadata is_finetuned=true \
  --metadata source_model=Llama-3.2-1B-Instruct \
  --metadata task=capitalization \
  --metadata ckbuild_key=a1b2c3d4e5f60718000000000000000000000000000000000000000000000000 \
  --seed 14 \
  --max-connections 32 \
  --log-dir "$CK_OUTPUTS/logs" \
  --log-format json
