#!/usr/bin/env bash
# `make demo`: the main job end to end, after `make install`.
#   1. demo data laid out like HLS Burn Scar Scenes (tools/make_demo_data.py);
#   2. a short fine-tuning of configs/burn_scars.py through `mim train mmsegmentation`, with the demo's small settings
#      (tiny Prithvi backbone, no pretrained file, a higher learning rate and a short warm-up for a from-scratch run);
#   3. evaluation through `mim test geospatial_mm --eval mIoU`;
#   4. tools/model_inference.py over a folder of scenes (one 2048x2048, much larger than the 224 tiles): georeferenced
#      class maps and preview PNGs (RGB composite | prediction | label).
# Everything goes to demo_out/ (or $DEMO_OUT).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
OUT="${DEMO_OUT:-$ROOT/demo_out}"
ITERS="${DEMO_ITERS:-300}"
CONFIG=configs/burn_scars.py
rm -rf "$OUT"
mkdir -p "$OUT"
start=$(date +%s)

echo "[demo] writing demo data (HLS burn-scar layout) to $OUT/data"
python tools/make_demo_data.py "$OUT/data" --datasets burn_scars --scenes 16 4 --scene-sizes 512 2048

DATA="$OUT/data/hls_burn_scars"
OPTS=(
  train_dataloader.dataset.data_root="$DATA" val_dataloader.dataset.data_root="$DATA"
  test_dataloader.dataset.data_root="$DATA"
  train_dataloader.num_workers=2 val_dataloader.num_workers=1 test_dataloader.num_workers=1
  model.backbone.arch=tiny model.backbone.pretrained=None model.neck.embed_dim=64 model.neck.out_channels=64
  model.decode_head.in_channels=64 model.decode_head.channels=32
  model.auxiliary_head.in_channels=64 model.auxiliary_head.channels=32
  optim_wrapper.optimizer.lr=0.0005 param_scheduler.0.end=30 param_scheduler.1.end="$ITERS"
)
echo "[demo] training $CONFIG for $ITERS iterations (log: $OUT/train.log)"
mim train mmsegmentation "$CONFIG" --work-dir "$OUT/work" --cfg-options "${OPTS[@]}" \
  train_cfg.max_iters="$ITERS" train_cfg.val_interval="$ITERS" default_hooks.checkpoint.interval="$ITERS" \
  > "$OUT/train.log" 2>&1 || { tail -n 40 "$OUT/train.log"; echo "[demo] training failed, see $OUT/train.log"; exit 1; }

echo "[demo] evaluating through mim test geospatial_mm --eval mIoU (log: $OUT/test.log)"
mim test geospatial_mm "$CONFIG" --checkpoint "$OUT/work/iter_$ITERS.pth" --eval mIoU mFscore \
  --metrics-out "$OUT/metrics.json" --work-dir "$OUT/test" --cfg-options "${OPTS[@]}" > "$OUT/test.log" 2>&1 \
  || { tail -n 40 "$OUT/test.log"; echo "[demo] testing failed, see $OUT/test.log"; exit 1; }
grep -A 8 "per class results" "$OUT/test.log" || true

echo "[demo] metrics: $(tr -d '\n ' < "$OUT/metrics.json")"

echo "[demo] predicting the scenes of $DATA/scenes with tools/model_inference.py (log: $OUT/inference.log)"
# the config that training wrote into its work dir has the demo's overrides merged in
if ! python tools/model_inference.py -config "$OUT/work/$(basename "$CONFIG")" -ckpt "$OUT/work/iter_$ITERS.pth" \
    -input "$DATA/scenes" -input_type _merged.tif -output "$OUT/predictions" --preview-dir "$OUT/previews" \
    --labels "$DATA/scenes" --summary "$OUT/predictions/summary.json" 2>&1 | tee "$OUT/inference.log"; then
  echo "[demo] inference failed, see $OUT/inference.log"; exit 1
fi

echo "[demo] data:        $DATA"
echo "[demo] checkpoints: $OUT/work   (training log: $OUT/train.log)"
echo "[demo] metrics:     $OUT/metrics.json"
echo "[demo] predictions: $OUT/predictions   previews: $OUT/previews"
echo "[demo] took $(( $(date +%s) - start )) s"
