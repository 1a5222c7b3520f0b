"""Helpers shared by the PyTorch benchmark scripts of bench/."""
import json
import resource
import statistics
import time


def add_common_args(ap, second_phase):
    """the options every whole-model script takes (as bench/bench_util.h's bench_common):
    --threads --steps --warmup --json, and --mode train | second_phase | both"""
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--mode", default="both", choices=["train", second_phase, "both"])
    ap.add_argument("--json", default=None)


def parse(ap, torch):
    """parsed options, with torch set to --threads threads and seeded (seed 0)"""
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    return a


def timed(fn, steps, warmup):
    """median seconds of `steps` calls of fn after `warmup` untimed ones"""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def emit(res, path):
    """adds the peak resident memory (getrusage) to res, prints it as one JSON line and writes
    the same line to path (if not None)"""
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = json.dumps(res)
    print(out)
    if path:
        with open(path, "w") as f:
            f.write(out + "\n")
