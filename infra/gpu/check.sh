#!/usr/bin/env bash
# Backdrop GPU check: ~10 minutes on a fresh NVIDIA machine (Python 3.11, PyPI reachable, repo checked out).
# Usage:   cd /path/to/backdrop && bash infra/gpu/check.sh
# Kept in step with the code: tests/unit/test_gpu_check.py imports what its Python snippets import and
# checks the commands and flags it runs (../shared/gpu/gpu-check.sh, the first version, is not).
# Results: $OUT_DIR (default: $OUT if set, else a fresh temporary folder): one log per step, summary.tsv,
#          versions.json, gpu-tests.xml, bench-*.json, extra.json, dmon.txt (GPU utilisation per second).
# Knobs:   BUDGET_S (560) total seconds; INSTALL_MODE=pinned|extra; TRT_SPEC; TRY_PYCUDA=1; DRY_RUN=1.
set -uo pipefail

REPO=${REPO:-$PWD}
OUT_DIR=${OUT_DIR:-${OUT:-$(mktemp -d)}}
VENV=${VENV:-$(mktemp -d)/venv}
PY=${PY:-$(command -v python3.11 || command -v python3)}
BUDGET_S=${BUDGET_S:-560}      # leave a margin inside a 10-minute slot
RESERVE_S=${RESERVE_S:-20}     # kept back for the final nvidia-smi and the summary
INSTALL_MODE=${INSTALL_MODE:-pinned}  # pinned: .[dev] + TensorRT <11, no pycuda; extra: .[gpu,dev] as written
CU13_MIN_DRIVER=${CU13_MIN_DRIVER:-580}
DRY_RUN=${DRY_RUN:-0}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off PYTHONUNBUFFERED=1 UV_HTTP_TIMEOUT=120

START=$(date +%s); DEADLINE=$((START + BUDGET_S)); STEP=0
mkdir -p "$OUT_DIR"; SUMMARY="$OUT_DIR/summary.tsv"; : >"$SUMMARY"
cd "$REPO" || exit 2
grep -q '^name = "backdrop"' pyproject.toml 2>/dev/null || { echo "run this from the backdrop repo root (or set REPO)"; exit 2; }

# run_step NAME MAX_SECONDS CMD... : stdout+stderr to OUT_DIR/NN-NAME.log, capped by what is left of the budget.
run_step() {
  local name=$1 max=$2; shift 2
  local left=$((DEADLINE - $(date +%s) - RESERVE_S)) t rc status start log
  log="$OUT_DIR/$(printf '%02d' "$STEP")-$name.log"; STEP=$((STEP + 1))
  if ((left < 15)); then printf '%s\tSKIPPED(budget)\t0s\n' "$name" | tee -a "$SUMMARY"; return 99; fi
  t=$((max < left ? max : left))
  echo "== [$(($(date +%s) - START))s] $name (timeout ${t}s) -> $log"
  if [[ $DRY_RUN == 1 ]]; then printf '%q ' "$@" >"$log"; echo >>"$log"; cat "$log"; return 0; fi
  start=$(date +%s)
  timeout -k 10 "$t" "$@" >"$log" 2>&1; rc=$?
  case $rc in 0) status=ok ;; 124 | 137) status=TIMEOUT ;; *) status="rc=$rc" ;; esac
  printf '%s\t%s\t%ss\n' "$name" "$status" "$(($(date +%s) - start))" | tee -a "$SUMMARY"
  ((rc != 0)) && tail -n 25 "$log" | sed 's/^/    | /'
  return $rc
}

# --- 0. the machine --------------------------------------------------------------------------------
run_step nvidia-smi-before 20 nvidia-smi
DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1)
DRIVER_MAJOR=${DRIVER%%.*}; DRIVER_MAJOR=${DRIVER_MAJOR:-0}
# PyPI's newest torch (2.15) is built for CUDA 13.2 (R580+ driver); PyPI's torch 2.9.1 is built for CUDA 12.8.
# TensorRT 11 removed BuilderFlag.FP16: our engines are then built without it (tensorrt_backend.can_build_fp16),
# and this check is after the fp16 figures: stay below 11 (INSTALL_MODE=extra installs what pyproject says).
CONSTRAINTS="$OUT_DIR/constraints.txt"
if ((DRIVER_MAJOR >= CU13_MIN_DRIVER)); then
  : >"$CONSTRAINTS"; TRT_SPEC=${TRT_SPEC:-"tensorrt>=10,<11"}
else
  echo "torch==2.9.1" >"$CONSTRAINTS"; TRT_SPEC=${TRT_SPEC:-"tensorrt-cu12>=10,<11"}
  echo "driver $DRIVER < $CU13_MIN_DRIVER: using torch 2.9.1 (CUDA 12.8) and $TRT_SPEC"
fi
echo "tensorrt<11" >>"$CONSTRAINTS"
# Sample GPU utilisation (sm/mem/enc/dec) every second for the whole run: shows whether the benches kept it busy.
if [[ $DRY_RUN != 1 ]]; then
  nvidia-smi dmon -s um -o T -d 1 >"$OUT_DIR/dmon.txt" 2>&1 &
  DMON_PID=$!
  trap 'kill "$DMON_PID" 2>/dev/null' EXIT
fi

# --- 1. install ------------------------------------------------------------------------------------
run_step venv 60 "$PY" -m venv "$VENV"
P="$VENV/bin/python"
INSTALL=("$P" -m pip install -c "$CONSTRAINTS")
if run_step uv 60 "$P" -m pip install --quiet uv; then INSTALL=("$VENV/bin/uv" pip install --python "$P" -c "$CONSTRAINTS"); fi
if [[ $INSTALL_MODE == extra ]]; then
  # As pyproject.toml says, plus tensorrt<11. pycuda has no Linux wheel: it builds from source and needs cuda.h.
  run_step install-gpu-extra 360 "${INSTALL[@]}" -e ".[gpu,dev]"
else
  run_step install-project 300 "${INSTALL[@]}" -e ".[dev]"
  run_step install-tensorrt 180 "${INSTALL[@]}" "$TRT_SPEC"
  [[ ${TRY_PYCUDA:-0} == 1 ]] && run_step install-pycuda 120 "${INSTALL[@]}" "pycuda>=2024.1"
fi

cat >"$OUT_DIR/versions.py" <<'PYEOF'
import importlib, json, os
from base.devices import cuda_gpu_count  # what --device auto asks: 0 here means the CPU everywhere
info = {"proc_driver_nvidia": os.path.exists("/proc/driver/nvidia"), "cuda_gpu_count": cuda_gpu_count()}
import torch
info.update(torch=torch.__version__, torch_cuda=torch.version.cuda, cuda_available=torch.cuda.is_available())
if torch.cuda.is_available():
    info.update(device=torch.cuda.get_device_name(), capability=torch.cuda.get_device_capability())
for name in ("tensorrt", "onnxruntime", "av", "cv2", "numpy"):
    try:
        info[name] = importlib.import_module(name).__version__
    except Exception as error:  # report, do not stop
        info[name] = f"unavailable: {type(error).__name__}: {error}"
try:
    import tensorrt as trt
    info["tensorrt_has_BuilderFlag_FP16"] = hasattr(trt.BuilderFlag, "FP16")
except Exception:
    pass
import av
info["pyav_cuvid"] = sorted(c for c in av.codecs_available if c.endswith("_cuvid"))
info["pyav_nvenc"] = sorted(c for c in av.codecs_available if c.endswith("_nvenc"))
try:
    from av.codec.hwaccel import hwdevices_available
    info["pyav_hwdevices"] = list(hwdevices_available())
except Exception as error:
    info["pyav_hwdevices"] = f"unavailable: {error}"
print(json.dumps(info, indent=1, default=str))
PYEOF
run_step versions 60 bash -c '"$0" "$1" > "$2"; rc=$?; cat "$2"; exit $rc' "$P" "$OUT_DIR/versions.py" "$OUT_DIR/versions.json"

# --- 2. model + GPU tests --------------------------------------------------------------------------
# The selfie .tflite comes from the mediapipe wheel (pip download) and is exported to ONNX once.
run_step models-fetch 150 "$VENV/bin/backdrop" models fetch
run_step gpu-tests 300 "$P" -m pytest tests/unit/segment/test_gpu.py -v -rs -p no:cacheprovider \
  --timeout=240 --junitxml="$OUT_DIR/gpu-tests.xml"

# --- 3. benches ------------------------------------------------------------------------------------
# `process` (inside `backdrop bench`) loads with batch 8, so build that engine first: otherwise the engine
# build lands inside the timed run. This also prints the network alone, ms/frame, batch 8.
run_step warm-tensorrt-b8 180 "$P" -m agents.segment.bench --backend tensorrt --device cuda --batch 8 --repeats 50
run_step engine-cache 10 bash -c 'ls -l --time-style=+%T "$HOME/.cache/backdrop/tensorrt"'
run_step net-torch-b8 90 "$P" -m agents.segment.bench --backend torch --device cuda --batch 8 --repeats 50
run_step bench-tensorrt 240 bash -c '"$0" bench --size 1920x1080 --seconds 10 --backend tensorrt --json > "$1"; rc=$?; cat "$1"; exit $rc' \
  "$VENV/bin/backdrop" "$OUT_DIR/bench-tensorrt.json"
run_step bench-torch 200 bash -c '"$0" bench --size 1920x1080 --seconds 10 --backend torch --json > "$1"; rc=$?; cat "$1"; exit $rc' \
  "$VENV/bin/backdrop" "$OUT_DIR/bench-torch.json"

# --- 4. extras, if time is left: fp16 vs CPU with a partial batch, engine reuse, NVDEC/NVENC ----------
cat >"$OUT_DIR/extra.py" <<'PYEOF'
"""fp16 (TensorRT, torch CUDA) against ONNX Runtime fp32 on the CPU: 11 frames = a full batch of 8 + a partial 3."""
import json, sys, time
import numpy as np
from skimage import data
from agents.segment.backends import load_segmenter
from agents.segment.preprocess import to_network_input
from base.settings import Settings

cache = Settings().cache_dir
base = data.astronaut()  # [512, 512, 3]
variants = [base, base[:, ::-1], np.rot90(base), (base * 0.5).astype(np.uint8), np.roll(base, 128, axis=1)]
frames = np.ascontiguousarray(np.stack([variants[i % len(variants)] for i in range(11)]))
ref = load_segmenter("selfie", "onnxruntime", "cpu", cache_dir=cache, batch_size=4).predict(frames)
report = {}
for backend in sys.argv[1:] or ["tensorrt", "torch"]:
    entry = {}
    try:
        t = time.perf_counter()
        seg = load_segmenter("selfie", backend, "cuda", cache_dir=cache, batch_size=8)
        entry["load_s"] = round(time.perf_counter() - t, 2)
        got = seg.predict(frames)
        diff = np.abs(got - ref)
        entry.update(
            mean_abs=float(diff.mean()),
            p999_abs=float(np.quantile(diff, 0.999)),
            max_abs=float(diff.max()),
            mask_agreement=float(((got > 0.5) == (ref > 0.5)).mean()),
            per_frame_mean_abs=[round(float(d), 5) for d in diff.mean(axis=(1, 2))],
        )
        batch = to_network_input(frames[:8], seg.spec)
        for size in (1, 8):
            x = np.ascontiguousarray(batch[:size])
            seg.runner.run(x)
            t = time.perf_counter()
            for _ in range(50):
                seg.runner.run(x)
            entry[f"network_ms_per_frame_b{size}"] = round((time.perf_counter() - t) * 1000 / (50 * size), 4)
        if backend == "tensorrt":
            t = time.perf_counter()
            load_segmenter("selfie", backend, "cuda", cache_dir=cache, batch_size=8)
            entry["reload_from_cache_s"] = round(time.perf_counter() - t, 2)
            entry["engines"] = sorted(p.name for p in (cache / "tensorrt").glob("*.engine"))
    except Exception as error:  # report it and go on to the next backend
        entry["error"] = f"{type(error).__name__}: {error}"
    report[backend] = entry
print(json.dumps(report, indent=1))
PYEOF
run_step extra-accuracy 150 bash -c '"$0" "$1" > "$2"; rc=$?; cat "$2"; exit $rc' "$P" "$OUT_DIR/extra.py" "$OUT_DIR/extra.json"

cat >"$OUT_DIR/codec_probe.py" <<'PYEOF'
"""Decode a 1080p clip on the CPU and with NVDEC (PyAV hwaccel), check that our decoder shares the GPU's
primary context, then try NVENC (absent on H100/H200)."""
import sys, time
from pathlib import Path
import av
import numpy as np
import torch
from av.codec.hwaccel import HWAccel
from agents.extract.accel import decoder_accel
from agents.extract.opening import open_input
from backdrop.sample import write_sample

clip = Path(sys.argv[1])
if not clip.exists():
    write_sample(clip, seconds=5, width=1920, height=1080)
for hw in (False, True):
    label = "nvdec" if hw else "cpu"
    try:
        kwargs = {"hwaccel": HWAccel("cuda", allow_software_fallback=False)} if hw else {}
        start, n = time.perf_counter(), 0
        with av.open(str(clip), **kwargs) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                frame.to_ndarray(format="rgb24")
                n += 1
        print(f"{label}: decode + rgb24 {n} frames at {n / (time.perf_counter() - start):.1f} fps")
    except Exception as error:
        print(f"{label}: failed: {type(error).__name__}: {error}")
# Each file opened with our accelerator should take a reference to the primary context (the one torch uses),
# not a CUDA context of its own (hundreds of MiB each): GPU memory in use after each of four open files.
try:
    free_before = torch.cuda.mem_get_info()[0]  # torch's context is the device's primary one
    accel = decoder_accel("cuda")
    opened = []
    for n in range(1, 5):
        manager = open_input(clip, accel)
        container = manager.__enter__()
        opened.append(manager)
        next(container.decode(video=0))
        used = (free_before - torch.cuda.mem_get_info()[0]) / 2**20
        print(f"primary_ctx: {n} open file(s), is_hwaccel={container.streams.video[0].codec_context.is_hwaccel}, {used:.0f} MiB more GPU memory in use")
    for manager in opened:
        manager.__exit__(None, None, None)
except Exception as error:
    print(f"primary_ctx: failed: {type(error).__name__}: {error}")
try:
    with av.open(str(clip.with_suffix(".nvenc.mp4")), "w") as out:
        stream = out.add_stream("h264_nvenc", rate=30)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        black = av.VideoFrame.from_ndarray(np.zeros((1080, 1920, 3), np.uint8), format="rgb24").reformat(format="yuv420p")
        for _ in range(5):
            out.mux(stream.encode(black))
        out.mux(stream.encode(None))
    print("h264_nvenc: encoded 5 frames")
except Exception as error:
    print(f"h264_nvenc: failed (expected on H100/H200: no NVENC): {type(error).__name__}: {error}")
PYEOF
run_step codec-probe 90 "$P" "$OUT_DIR/codec_probe.py" "$OUT_DIR/probe-1080p.mp4"

# --- 5. the machine again, and the summary ---------------------------------------------------------
# Always runs, whatever the budget says (a second or two).
echo "== [$(($(date +%s) - START))s] nvidia-smi-after -> $OUT_DIR/99-nvidia-smi-after.log"
[[ $DRY_RUN == 1 ]] || { timeout 20 nvidia-smi >"$OUT_DIR/99-nvidia-smi-after.log" 2>&1; cat "$OUT_DIR/99-nvidia-smi-after.log"; }
[[ -n ${DMON_PID:-} ]] && kill "$DMON_PID" 2>/dev/null
echo; echo "== summary ($(($(date +%s) - START))s of ${BUDGET_S}s) — logs in $OUT_DIR"
column -t -s $'\t' "$SUMMARY" 2>/dev/null || cat "$SUMMARY"
for f in bench-tensorrt.json bench-torch.json; do [[ -s $OUT_DIR/$f ]] && { echo "$f:"; cat "$OUT_DIR/$f"; echo; }; done
rm -f "$OUT_DIR"/probe-1080p*.mp4
