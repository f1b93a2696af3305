#!/usr/bin/env bash
# One install recipe for `make install`, `make demo` and `make test`.
#
#   VENV        the virtual environment to create/update       (default: .venv in the checkout)
#   PYTHON      the interpreter that creates it                (default: python3.11, else python3)
#   TORCH_SPEC  the torch + torchvision requirement            (default: requirements/torch.txt)
#   GEOSPATIAL_MM_MMCV   lite | full: mmcv-lite with mmcv's ops served by torchvision (nothing compiled), or mmcv
#                        with its compiled ops, built from source once and cached   (default: lite)
#   GEOSPATIAL_MM_CACHE  where built mmcv wheels are kept (full)                     (default: ~/.cache/geospatial_mm)
#   GEOSPATIAL_MM_MMCV_CUDA  auto | 1 | 0: CUDA ops for a full mmcv build (default: auto, tools/install/build_mmcv.py)
#   GEOSPATIAL_MM_EDITABLE   1: install the package editable, for development (make develop)
#
# Every step stops the install with a message when it fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
if [[ -z "${PYTHON:-}" ]]; then
  if command -v python3.11 >/dev/null; then PYTHON=python3.11; else PYTHON=python3; fi
fi
say() { printf '\n[install] %s\n' "$*"; }
die() { printf '\n[install] ERROR: %s\n' "$*" >&2; exit 1; }

# 1. virtual environment ------------------------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating the virtual environment $VENV with $PYTHON ($("$PYTHON" --version 2>&1))"
  "$PYTHON" -m venv "$VENV" || die "could not create $VENV with $PYTHON"
fi
PY="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"   # ninja (full mmcv builds) and the console scripts of the venv
"$PY" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' \
  || die "$VENV uses $("$PY" --version 2>&1); Python >= 3.10 is needed (3.11 is tested)"
PIP=("$PY" -m pip --disable-pip-version-check)

MMCV_VARIANT="${GEOSPATIAL_MM_MMCV:-lite}"
[[ "$MMCV_VARIANT" == lite || "$MMCV_VARIANT" == full ]] \
  || die "GEOSPATIAL_MM_MMCV must be lite or full, not '$MMCV_VARIANT'"
if [[ "$MMCV_VARIANT" == full ]]; then
  say "build tools (pip, setuptools < 82 for mmcv's pkg_resources, wheel, ninja)"
  "${PIP[@]}" install -q -c constraints.txt pip setuptools wheel ninja || die "installing the build tools failed"
else
  say "pip and setuptools"
  "${PIP[@]}" install -q -c constraints.txt pip setuptools || die "installing pip and setuptools failed"
fi

# 2. torch ---------------------------------------------------------------------------------------------------------
if [[ -n "${TORCH_SPEC:-}" ]]; then
  read -r -a TORCH_REQ <<< "$TORCH_SPEC"
else
  TORCH_REQ=(-r requirements/torch.txt)
fi
say "torch: ${TORCH_REQ[*]}"
"${PIP[@]}" install -q "${TORCH_REQ[@]}" || die "installing torch (${TORCH_REQ[*]}) failed"
TORCH_PINS="$(mktemp)"
trap 'rm -f "$TORCH_PINS"' EXIT
"$PY" - > "$TORCH_PINS" <<'PYEOF' || die "torch or torchvision does not import"
import torch, torchvision
print(f'torch=={torch.__version__}\ntorchvision=={torchvision.__version__}')
PYEOF
say "installed $(tr '\n' ' ' < "$TORCH_PINS")"

# 3. mmcv: mmcv-lite (its ops served by torchvision through geospatial_mm), or mmcv with compiled ops, built once per
#    (mmcv, torch, CUDA, C++ standard, Python) and cached. pip sees mmcv and mmcv-lite as two distributions over the
#    same mmcv/ folder: both are removed before either is installed, so that the venv never holds both, or a half of
#    one ----------------------------------------------------------------------------------------------------------
if [[ "$MMCV_VARIANT" == full ]]; then
  KEY="$("$PY" tools/install/build_mmcv.py --print-key)" || die "could not compute the mmcv cache key"
  MMCV_REQ="mmcv==2.1.0"
else
  KEY="mmcv-lite-2.1.0"
  MMCV_REQ="mmcv-lite==2.1.0"
fi
if [[ "$(cat "$VENV/.mmcv-key" 2>/dev/null)" == "$KEY" ]] && "$PY" -c 'import mmcv' 2>/dev/null; then
  say "mmcv ($KEY) already installed"
else
  rm -f "$VENV/.mmcv-key"
  "${PIP[@]}" uninstall -q -y mmcv mmcv-lite 2>/dev/null || true
  if [[ "$MMCV_VARIANT" == full ]]; then
    WHEEL="$("$PY" tools/install/build_mmcv.py | tail -n 1)" || die "building mmcv failed"
    [[ -f "$WHEEL" ]] || die "build_mmcv.py did not produce a wheel"
    say "installing $WHEEL"
    "${PIP[@]}" install -q --no-deps --force-reinstall "$WHEEL" || die "installing $WHEEL failed"
  else
    say "mmcv-lite 2.1.0 (mmcv without compiled ops; geospatial_mm serves roi_align and nms with torchvision)"
    "${PIP[@]}" install -q --no-deps --force-reinstall -c constraints.txt "$MMCV_REQ" \
      || die "installing $MMCV_REQ failed"
  fi
  echo "$KEY" > "$VENV/.mmcv-key"
fi

# 4. the OpenMMLab libraries and the rest, pinned (mmcv named so that pip installs its own requirements) ---------
say "mmengine, mmsegmentation, mmdet, mmpretrain, openmim, rasterio, tifffile, ... (constraints.txt)"
"${PIP[@]}" install -q "$MMCV_REQ" -r requirements/runtime.txt -c constraints.txt -c "$TORCH_PINS" \
  || die "installing requirements/runtime.txt failed"
MMCV_DISTS="$("${PIP[@]}" list --format=freeze 2>/dev/null | grep -ciE '^mmcv(-lite)?==' || true)"
[[ "$MMCV_DISTS" == 1 ]] || die "expected one of mmcv and mmcv-lite installed, found $MMCV_DISTS"

# 5. this package: a regular install (OpenMIM finds the copies in geospatial_mm/.mim/{tools,configs,data_splits}), or
#    with GEOSPATIAL_MM_EDITABLE=1 (make develop) an editable one whose .mim/ folders link to the checkout -------------
rm -rf build geospatial_mm.egg-info
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
[[ -L "$SITE/geospatial_mm" ]] && rm "$SITE/geospatial_mm"  # the link of an earlier editable install
rm -f "$SITE/geospatial_mm.pth"  # written again below (or by the wheel)
if [[ "${GEOSPATIAL_MM_EDITABLE:-0}" == 1 ]]; then
  say "geospatial_mm (editable: edits in the checkout take effect without reinstalling)"
  "${PIP[@]}" install -q --no-deps --no-build-isolation -e . || die "installing geospatial_mm (editable) failed"
  # OpenMIM looks for <site-packages>/geospatial_mm/.mim/tools: a link to the checkout's package, whose .mim/
  # folders link to tools/, configs/ and data_splits/ (Python imports the package through it too)
  ln -s "$ROOT/geospatial_mm" "$SITE/geospatial_mm" || die "linking $SITE/geospatial_mm to the checkout failed"
  # what a regular install's wheel holds: Python imports the package at startup, for geospatial_mm:: base configs
  echo "import geospatial_mm" > "$SITE/geospatial_mm.pth"
else
  say "geospatial_mm"
  rm -rf geospatial_mm/.mim  # links of an earlier editable install
  "${PIP[@]}" install -q --no-deps --no-build-isolation --force-reinstall . || die "installing geospatial_mm failed"
fi
rm -rf build geospatial_mm.egg-info

# 6. checks --------------------------------------------------------------------------------------------------------
"${PIP[@]}" check || die "pip check found broken requirements (above)"
"$PY" tools/install/check_stack.py || die "the installed stack does not work (above)"
say "done: activate with 'source $VENV/bin/activate'"
