#!/usr/bin/env bash
# specc's main job on a bundled example, in the project's own virtual environment.
#   bash scripts/example.sh [SPEC]      (default: specs/course_cnn.yaml)
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"

SPEC="${1:-specs/course_cnn.yaml}"
OUT="${SPECC_OUT:-out/example}"
mkdir -p "$OUT"

echo "== specc check $SPEC"
specc check "$SPEC"

echo "== specc summary $SPEC"
specc summary "$SPEC"

echo "== specc compile $SPEC --train -o $OUT/model.py"
specc compile "$SPEC" --train -o "$OUT/model.py"

echo "== specc export $SPEC -o $OUT/model.onnx   (verified: checker, shapes, ONNX Runtime = PyTorch)"
specc export "$SPEC" -o "$OUT/model.onnx"

echo "== specc run $OUT/model.onnx --batch 4 -o $OUT/outputs.npz"
specc run "$OUT/model.onnx" --batch 4 -o "$OUT/outputs.npz"

echo "done: $SPEC checked, compiled, exported and run; outputs in $OUT/"
