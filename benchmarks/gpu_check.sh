#!/usr/bin/env bash
# Every check that needs a GPU, in one run of about 8 minutes, on a machine with an NVIDIA GPU,
# CuPy and PyTorch (CUDA):
#
#   1. the device-parametrised tests on cuda (`pytest -k cuda`: layers, classic algorithms,
#      the diffusion UNet against its torch twin, DDIM/DDPM sampling loops against diffusers,
#      a diffusion training run);
#   2. `benchmarks/run.py --device cuda` and `benchmarks/bench_diffusion.py --device cuda`
#      (ours on CuPy against torch CUDA, ratios), and where the UNet's time goes on the GPU
#      (`benchmarks/profile_functions.py`: milliseconds per Function);
#   3. `tinygrad-cv train --model ddpm --device cuda` for MINUTES minutes, then `sample` on
#      cuda: DDIM-50 and DDPM-1000, 400 samples each, scored (scores.json).
#
# Usage, from the repository root:  OUT=dir bash benchmarks/gpu_check.sh
# Results go to $OUT (default gpu_check_out): log.txt (everything below), tests.txt, bench.txt,
# profile.txt, train_metrics.json, scores_ddim.json, scores_ddpm.json, grid_ddim.png.  Python packages the
# machine lacks (the graphviz package, diffusers, nltk, seam-carving) may be put in .whl/ as
# wheels: they are installed into /tmp/site first.  DEVICE=cpu (with small MINUTES) runs the
# same steps on the CPU, to check the script itself.
set -u
OUT=${OUT:-gpu_check_out}
DEVICE=${DEVICE:-cuda}
MINUTES=${MINUTES:-1.5}
WORK=${WORK:-/tmp/gpu_check_work}
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || echo "wheel install failed"
    export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
PY=${PYTHON:-python3}
exec > >(tee "$OUT/log.txt") 2>&1

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
$PY -c "import numpy, torch, tinygrad_cv as tg; print('numpy', numpy.__version__, 'torch', torch.__version__, 'cuda_available', tg.cuda_available())"
$PY -c "import cupy; print('cupy', cupy.__version__)" 2>/dev/null

echo "== 1. tests on $DEVICE"
timeout 180 $PY -m pytest -q --tb=short -rf --no-header -p no:cacheprovider -n 8 \
    -m "not slow" -k "$DEVICE" tests/ > "$OUT/tests.txt" 2>&1
echo "pytest exit $?"
tail -25 "$OUT/tests.txt"

echo "== 2. benchmarks on $DEVICE"
{
    timeout 100 $PY benchmarks/run.py --device "$DEVICE" --cases a,b,c,d,e,g --repeats 5
    timeout 100 $PY benchmarks/bench_diffusion.py --device "$DEVICE" --repeats 9 --ddim-repeats 1 \
        --config '{"base_channels":32,"channel_mult":[1,2],"num_res_blocks":1,"attention_resolutions":[2]}' \
        --batch 64
} > "$OUT/bench.txt" 2>&1
cat "$OUT/bench.txt"
{
    timeout 60 $PY benchmarks/profile_functions.py --device "$DEVICE" --case unet-train --steps 10
    timeout 60 $PY benchmarks/profile_functions.py --device "$DEVICE" --case unet-forward --steps 3
} > "$OUT/profile.txt" 2>&1
cat "$OUT/profile.txt"

echo "== 3. ddpm: train $MINUTES min and sample on $DEVICE"
rm -rf "$WORK/ddpm" "$WORK/ddim50" "$WORK/ddpm1000"
start=$(date +%s)
timeout 150 $PY -m tinygrad_cv train --model ddpm --device "$DEVICE" --minutes "$MINUTES" \
    --out "$WORK/ddpm" --no-progress
echo "train exit $? after $(( $(date +%s) - start )) s"
cp "$WORK/ddpm/metrics.json" "$OUT/train_metrics.json" 2>/dev/null
for run in "ddim 50 ddim50" "ddpm 1000 ddpm1000"; do
    set -- $run
    start=$(date +%s)
    timeout 120 $PY -m tinygrad_cv sample "$WORK/ddpm/checkpoint.safetensors" --sampler "$1" \
        --steps "$2" --num 400 --seed 0 --device "$DEVICE" --out "$WORK/$3" --no-progress
    echo "sample $1-$2 exit $? after $(( $(date +%s) - start )) s"
    cp "$WORK/$3/scores.json" "$OUT/scores_$1.json" 2>/dev/null && cat "$OUT/scores_$1.json"
done
cp "$WORK/ddim50/grid.png" "$OUT/grid_ddim.png" 2>/dev/null
echo "== done"
