#!/usr/bin/env bash
# labelfree vs PyTorch: SimCLR training step and embedding extraction on the same models and
# shapes, run alternately in one command (the machine may be shared: compare ratios).
#   make bench                 full mode: ResNet-18 cifar 32x32 batch 256, imagenet 64x64 batch 128
#                              (training batches; embedding at batch 256 in both)
#   QUICK=1 make bench         quick mode (a few minutes): cifar 32x32 batch 32, fewer steps
# Then the transformers, the same way: MAE with a ViT-Tiny/16 encoder at 224x224 (decoder 128
# wide, 4 blocks; training batch 64, embedding 256) and the masked-token transformer (6 blocks,
# width 256, seq 128, vocabulary 4101; training batch 64, inference 256); quick mode: smaller
# batches. MODELS=cnn or MODELS=transformers runs one group (default: both).
# Options (environment): THREADS (default: all cores), STEPS, WARMUP, OUT (JSON results file),
# REPEAT (default 2): run the two sides REPEAT times, alternating, and report each side's
# best (on a shared machine the speed drifts over minutes; alternating gives both sides the
# same chances).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-$(nproc)}
REPEAT=${REPEAT:-2} # one round: a ratio says mostly when PyTorch happened to run (NOTES 14)
OUT=${OUT:-bench/results.json}
PY=/usr/bin/python3
# Both sides use libgomp; with its default (spin at barriers) a loaded machine collapses the
# OpenMP code (measured: labelfree embedding 2-7x faster with PASSIVE when other jobs run).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
# OpenBLAS reads OPENBLAS_CORETYPE when it loads; the environment's value (if any) is kept
# and the kernels in use are printed (PyTorch's convolutions use oneDNN, which ignores it).
# config: arch stem image-size training-batch embedding-batch (the issue: embedding at 256)
if [ "${QUICK:-0}" = 1 ]; then
    CONFIGS=("resnet18 cifar 32 32 32")
    MAE_ARGS=(--batch-size 8 --embed-batch-size 16); MLM_ARGS=(--batch-size 8 --infer-batch-size 16)
    STEPS=${STEPS:-3}; WARMUP=${WARMUP:-1}
else
    CONFIGS=("resnet18 cifar 32 256 256" "resnet18 imagenet 64 128 256")
    MAE_ARGS=(--batch-size 64 --embed-batch-size 256); MLM_ARGS=(--batch-size 64 --infer-batch-size 256)
    STEPS=${STEPS:-5}; WARMUP=${WARMUP:-2}
fi
MODELS=${MODELS:-all}
[ "$MODELS" = transformers ] && CONFIGS=()
make -s -j2 VARIANT=native lib
BLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -I/usr/include/x86_64-linux-gnu/openblas-openmp \
   bench/bench_simclr.c build/native/liblabelfree.a $(pkg-config --libs jansson libpng libtiff-4 zlib) \
   -ljpeg -L$BLAS -Wl,-rpath,$BLAS -lopenblas -lsqlite3 -fopenmp -lm -lpthread -o build/native/bench_simclr
for b in bench_mae bench_mlm; do
    cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude bench/$b.c build/native/liblabelfree.a \
       $(pkg-config --libs jansson libpng libtiff-4 zlib) -ljpeg -L$BLAS -Wl,-rpath,$BLAS -lopenblas \
       -lsqlite3 -fopenmp -lm -lpthread -o build/native/$b
done
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude bench/loader_bench.c build/native/liblabelfree.a \
   $(pkg-config --libs jansson libpng libtiff-4 zlib) -ljpeg -L$BLAS -Wl,-rpath,$BLAS -lopenblas \
   -lsqlite3 -fopenmp -lm -lpthread -o build/native/loader_bench
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
i=0
for cfg in "${CONFIGS[@]}"; do
    read -r arch stem size batch ebatch <<<"$cfg"
    args=(--arch "$arch" --stem "$stem" --image-size "$size" --batch-size "$batch"
          --embed-batch-size "$ebatch" --threads "$THREADS" --steps "$STEPS" --warmup "$WARMUP")
    for r in $(seq 1 "$REPEAT"); do
        echo "== $arch $stem ${size}x${size} batch $batch (embedding $ebatch), $THREADS threads, round $r of $REPEAT: labelfree" >&2
        ./build/native/bench_simclr "${args[@]}" --json "$TMP/lf$i.$r.json" >/dev/null
        echo "== labelfree, training with recomputed blocks (own process: its own peak RSS)" >&2
        ./build/native/bench_simclr "${args[@]}" --mode train --recompute 1 --sgemm 0 \
            --json "$TMP/lfrc$i.$r.json" >/dev/null
        echo "== PyTorch" >&2
        $PY bench/torch_simclr.py "${args[@]}" --json "$TMP/pt$i.$r.json" >/dev/null
    done
    i=$((i + 1))
done
# the transformers: each side REPEAT times, alternating; a training run with recomputed blocks
# in its own process for its peak RSS
if [ "$MODELS" != cnn ]; then
    common=(--threads "$THREADS" --steps "$STEPS" --warmup "$WARMUP")
    for r in $(seq 1 "$REPEAT"); do
        echo "== MAE ViT-Tiny/16 224x224 ${MAE_ARGS[*]}, round $r of $REPEAT: labelfree" >&2
        ./build/native/bench_mae "${MAE_ARGS[@]}" "${common[@]}" --json "$TMP/lfmae.$r.json" >/dev/null
        ./build/native/bench_mae "${MAE_ARGS[@]}" "${common[@]}" --mode train --recompute 1 \
            --json "$TMP/lfmaerc.$r.json" >/dev/null
        echo "== PyTorch" >&2
        $PY bench/torch_mae.py "${MAE_ARGS[@]}" "${common[@]}" --json "$TMP/ptmae.$r.json" >/dev/null
        echo "== masked-token transformer seq 128 ${MLM_ARGS[*]}, round $r of $REPEAT: labelfree" >&2
        ./build/native/bench_mlm "${MLM_ARGS[@]}" "${common[@]}" --json "$TMP/lfmlm.$r.json" >/dev/null
        ./build/native/bench_mlm "${MLM_ARGS[@]}" "${common[@]}" --mode train --recompute 1 \
            --json "$TMP/lfmlmrc.$r.json" >/dev/null
        echo "== PyTorch" >&2
        $PY bench/torch_mlm.py "${MLM_ARGS[@]}" "${common[@]}" --json "$TMP/ptmlm.$r.json" >/dev/null
    done
fi
# the data loader on one core: decode once (cached), SimCLR augmentation, 2 views, 96x96
LOADER_BATCHES=$([ "${QUICK:-0}" = 1 ] && echo 20 || echo 60)
echo "== loader, 1 thread: labelfree" >&2
./build/native/loader_bench data/wbc-sample/manifest.csv 1 96 "$LOADER_BATCHES" "$TMP/lfload.json" >/dev/null
echo "== PIL + torchvision" >&2
$PY bench/torch_loader.py data/wbc-sample/manifest.csv 96 "$LOADER_BATCHES" --json "$TMP/ptload.json" >/dev/null
$PY - "$TMP" "$i" "$OUT" "$REPEAT" "$MODELS" <<'PYEOF'
import json, os, sys, platform, subprocess, datetime
tmp, n, out, repeat, models = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]

def best(name):
    """one side's results over the rounds: the highest rates, the lowest times and memory"""
    runs = [json.load(open(f"{tmp}/{name}.{r}.json")) for r in range(1, repeat + 1)]
    b = dict(runs[0])
    for k, v in runs[0].items():
        if not isinstance(v, (int, float)) or isinstance(v, bool): continue
        vals = [x[k] for x in runs]
        if k.endswith("_per_s") or k.endswith("gflops"): b[k] = max(vals)
        elif k.endswith("_s") or k == "peak_rss_mb": b[k] = min(vals)
    if repeat > 1: b["rounds"] = runs
    return b

model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
rows, res = [], {"date": datetime.date.today().isoformat(), "cpu": model, "repeat": repeat, "runs": []}
for i in range(n):
    lf = best(f"lf{i}"); pt = best(f"pt{i}")
    # "% sgemm": against the faster of OpenBLAS's sgemm and labelfree's own kernel on 2048^3
    sg = max(lf["sgemm_gflops"], lf.get("own_sgemm_gflops", 0)); fw = lf["forward_gflop_per_image"]
    name = f'{lf["arch"]} {lf["stem"]} {lf["image_size"]}px b{lf["batch_size"]}'
    for what in ("train", "embed"):
        k = f"{what}_images_per_s"
        mult = 6 if what == "train" else 1  # training: 2 views x (forward + 2 backward products)
        a, b = lf[k], pt[k]
        label = what if what == "train" else f'embed b{lf.get("embed_batch_size", lf["batch_size"])}'
        rows.append((name, label, a, b, a / b, a * fw * mult, b * fw * mult, 100 * a * fw * mult / sg))
    rows.append((name, "peak RSS MB", lf["peak_rss_mb"], pt["peak_rss_mb"], lf["peak_rss_mb"] / pt["peak_rss_mb"], None, None, None))
    rc = best(f"lfrc{i}")
    a, b = rc["train_images_per_s"], pt["train_images_per_s"]
    rows.append((name, "train recomp", a, b, a / b, a * fw * 6, b * fw * 6, 100 * a * fw * 6 / sg))
    rows.append((name, "RSS recomp", rc["peak_rss_mb"], pt["peak_rss_mb"], rc["peak_rss_mb"] / pt["peak_rss_mb"], None, None, None))
    res["runs"].append({"labelfree": lf, "labelfree_recompute": rc, "pytorch": pt})
sg = None
if n:
    lf0 = res["runs"][0]["labelfree"]
    sg = max(lf0["sgemm_gflops"], lf0.get("own_sgemm_gflops", 0))
if models != "cnn":
    def rate_rows(name, lf, pt, rc, what, unit, gf_key):
        # labelfree / PyTorch with GFLOP/s from each side's own count (same formula)
        a, b = lf[f"{what}_{unit}_per_s"], pt[f"{what}_{unit}_per_s"]
        ga, gb = lf[f"{what}_gflops"], pt[f"{what}_gflops"]
        rows.append((name, what, a, b, a / b, ga, gb, 100 * ga / sg if sg else float("nan")))
    for key, name, unit, ev in (("mae", "MAE ViT-Ti/16 224px", "images", "embed"),
                                ("mlm", "masked tokens seq 128", "sequences", "infer")):
        lf, rc, pt = best(f"lf{key}"), best(f"lf{key}rc"), best(f"pt{key}")
        name = f'{name} b{lf["batch_size"]}'
        rate_rows(name, lf, pt, rc, "train", unit, "train_gflops")
        rate_rows(name, lf, pt, rc, ev, unit, f"{ev}_gflops")
        rows.append((name, "peak RSS MB", lf["peak_rss_mb"], pt["peak_rss_mb"], lf["peak_rss_mb"] / pt["peak_rss_mb"], None, None, None))
        a, b = rc[f"train_{unit}_per_s"], pt[f"train_{unit}_per_s"]
        rows.append((name, "train recomp", a, b, a / b, rc["train_gflops"], pt["train_gflops"],
                     100 * rc["train_gflops"] / sg if sg else float("nan")))
        rows.append((name, "RSS recomp", rc["peak_rss_mb"], pt["peak_rss_mb"], rc["peak_rss_mb"] / pt["peak_rss_mb"], None, None, None))
        res[key] = {"labelfree": lf, "labelfree_recompute": rc, "pytorch": pt}
la = json.load(open(f"{tmp}/lfload.json")); lb = json.load(open(f"{tmp}/ptload.json"))
rows.append((f"loader 96px 2 views 1 core", "images/s", la["images_per_s"], lb["images_per_s"],
             la["images_per_s"] / lb["images_per_s"], None, None, None))
res["loader"] = {"labelfree": la, "pil_torchvision": lb}
res["sgemm_gflops"] = sg
if n:
    lf = res["runs"][0]["labelfree"]
    print(f"{res['date']}  {model}  threads {lf['threads']}  sgemm 2048^3: OpenBLAS ({lf.get('blas_core', '?')} kernels) "
          f"{lf['sgemm_gflops']:.0f} GFLOP/s, labelfree AVX-512 {lf.get('own_sgemm_gflops', 0):.0f}  "
          f"convolution gemm {lf.get('conv_gemm', '?')}" +
          (f"  (each side's best of {repeat} alternating rounds)" if repeat > 1 else ""))
else:
    print(f"{res['date']}  {model}  (no sgemm reference without the CNN runs: % sgemm is nan)")
print(f"{'config':28} {'metric':12} {'labelfree':>10} {'PyTorch':>10} {'ratio':>6} {'lf GF/s':>8} {'pt GF/s':>8} {'% sgemm':>8}")
for r in rows:
    extra = "" if r[5] is None else f" {r[5]:8.1f} {r[6]:8.1f} {r[7]:7.0f}%"
    print(f"{r[0]:28} {r[1]:12} {r[2]:10.1f} {r[3]:10.1f} {r[4]:6.2f}{extra}")
json.dump(res, open(out, "w"), indent=1)
print(f"results: {out}")
PYEOF
