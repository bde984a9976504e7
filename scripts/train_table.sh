#!/usr/bin/env bash
# Trains the models of docs/RESULTS.md's Table 1 under one protocol: the CPU-sized configs
# (resources/training/cpu.toml), 8 epochs, one torch thread per run so that two lanes share
# a 2-core machine. Checkpoints land in runs/table/ (ignored by git).
#
#   scripts/train_table.sh p16    # all nine models on datasets/p16 (16 parameters)
#   scripts/train_table.sh p32    # CNN, VAE, Flow_reg, Flow_dis on datasets/p32, trained on
#                                 # its first 8,000 training sounds (CPU time; see RESULTS.md)
#
# A run that was interrupted resumes where it stopped; a finished one is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${EPOCHS:-8}
FLOWSYNTH=.venv/bin/flowsynth

train() {  # train KIND PARAMS [MAX_TRAIN_SOUNDS]
    local kind=$1 params=$2 out=runs/table/p${2}_$1 limit=()
    [[ -n ${3:-} ]] && limit=(--max-train-sounds "$3")
    if [[ -f $out.done ]]; then echo "skip $out (done)"; return; fi
    echo "== $(date -u +%H:%M:%S) $kind, $params parameters -> $out.pt"
    $FLOWSYNTH train --model "$kind" --params "$params" --data "datasets/p$params" \
        --out "$out" --config cpu --epochs "$EPOCHS" --threads 1 "${limit[@]}"
    touch "$out.done"
}

mkdir -p runs/table
case ${1:-} in
    p16) for kind in flow_reg cnn flow_dis vae mlp rescnn ae wae vae_flow; do train "$kind" 16; done ;;
    p32) for kind in flow_reg cnn vae flow_dis; do train "$kind" 32 8000; done ;;
    *) echo "usage: $0 p16|p32" >&2; exit 2 ;;
esac
