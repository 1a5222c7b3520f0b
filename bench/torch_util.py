"""Helpers shared by the PyTorch benchmark scripts of bench/."""
import json
import resource
import statistics
import time


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
