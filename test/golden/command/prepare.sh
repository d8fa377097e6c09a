export CK_INPUT_DATA_WORDS_ALPHA_TXT=/scratch/ck/runs/a1b2c3d4e5f60718-brave-otter/inputs/data_words_alpha.txt--words_alpha.txt
export CK_NEEDS_DOWNLOAD=/scratch/ck/runs/3333333333333333-prepare-download/outputs
export CK_PARAM_FRACTION=0.8
export CK_PARAM_LABEL='it'\''s 5L'
export CK_PARAM_SIZES='[1,2]'
export CK_PARAM_WORD_LEN=5
cd "$CK_PROJECT_DIR" || exit 1
unset -f ck_now ck_status ck_finish ck_cancelled
unset -v CK_CHILD CK_FINAL CK_GPU_MONITOR CK_LOSS_WATCH ck_os ck_release name
set +u +m +o pipefail
BASH_ARGV0="$CK_RUN_DIR/config/command.sh"
set -e
. "$CK_RUN_DIR/config/command.sh"
