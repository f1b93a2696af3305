#!/usr/bin/env bash
# `make demo`: the main job end to end on this machine, after `make install`.
# Until the Prithvi and inference issues land it runs what exists: a synthetic segmentation set in the mmseg folder
# layout, a short training through `mim train mmsegmentation`, and evaluation through `mim test geospatial_mm --eval`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
export PYTHONPATH="$ROOT/tests${PYTHONPATH:+:$PYTHONPATH}"
OUT="${DEMO_OUT:-$ROOT/demo_out}"
CONFIG=tests/configs/tiny_seg.py
rm -rf "$OUT"
mkdir -p "$OUT"

echo "[demo] writing a synthetic dataset to $OUT/data"
python tests/helpers/shapes_data.py "$OUT/data"
OPTS=(train_dataloader.dataset.data_root="$OUT/data" val_dataloader.dataset.data_root="$OUT/data"
      test_dataloader.dataset.data_root="$OUT/data")

echo "[demo] training $CONFIG through mim train mmsegmentation"
mim train mmsegmentation "$CONFIG" --work-dir "$OUT/work" --cfg-options "${OPTS[@]}" > "$OUT/train.log" 2>&1 \
  || { tail -n 40 "$OUT/train.log"; echo "[demo] training failed, see $OUT/train.log"; exit 1; }

echo "[demo] evaluating through mim test geospatial_mm --eval mIoU"
mim test geospatial_mm "$CONFIG" --checkpoint "$OUT/work/iter_40.pth" --eval mIoU --metrics-out "$OUT/metrics.json" \
  --work-dir "$OUT/test" --cfg-options "${OPTS[@]}" > "$OUT/test.log" 2>&1 \
  || { tail -n 40 "$OUT/test.log"; echo "[demo] testing failed, see $OUT/test.log"; exit 1; }

echo "[demo] metrics: $(cat "$OUT/metrics.json" | tr -d '\n ')"
echo "[demo] checkpoints and logs: $OUT/work   test log: $OUT/test.log   metrics: $OUT/metrics.json"
