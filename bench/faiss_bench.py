"""faiss (Debian python3-faiss) on the same kind of data as bench/index_bench.c: exact (IndexFlatIP)
and IVF-Flat (same nlist = 4 sqrt(n), same k-means sample of 64 nlist, 12 iterations... faiss
defaults otherwise), single-query latency p50/p99 (1 thread) and batch QPS (all threads),
recall@10 against faiss's exact search. Usage: /usr/bin/python3 bench/faiss_bench.py N D [nq]"""
import sys, time
import numpy as np
import faiss

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
d = int(sys.argv[2]) if len(sys.argv) > 2 else 256
nq = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
k = 10
nc = max(10, n // 1000)
rng = np.random.default_rng(1)
c = rng.standard_normal((nc, d), dtype=np.float32)
def gen(m, seed):
    r = np.random.default_rng(seed)
    x = np.empty((m, d), np.float32)
    for s in range(0, m, 100000):
        e = min(m, s + 100000)
        x[s:e] = c[r.integers(0, nc, e - s)] + 0.7 * r.standard_normal((e - s, d), dtype=np.float32)
    return x
x, q = gen(n, 10), gen(nq, 11)
faiss.normalize_L2(x); faiss.normalize_L2(q)
print(f"faiss {faiss.__version__}: n = {n}, d = {d}, {nq} queries, k = {k}, threads {faiss.omp_get_max_threads()}")
nthreads = faiss.omp_get_max_threads()

def run(name, index, ref=None):
    faiss.omp_set_num_threads(1)
    lat = []
    for i in range(min(nq, 300)):
        t0 = time.perf_counter(); index.search(q[i:i + 1], k); lat.append(time.perf_counter() - t0)
    lat.sort()
    faiss.omp_set_num_threads(nthreads)
    t0 = time.perf_counter(); _, I = index.search(q, k); el = time.perf_counter() - t0
    rec = 1.0 if ref is None else np.mean([len(set(a) & set(b)) / k for a, b in zip(I, ref)])
    print(f"  {name:22s} p50 {1e3 * lat[len(lat) // 2]:8.3f} ms  p99 {1e3 * lat[int(0.99 * (len(lat) - 1))]:8.3f} ms"
          f"  batch {nq / el:9.0f} QPS  recall@10 {rec:.4f}")
    return I

t0 = time.perf_counter(); flat = faiss.IndexFlatIP(d); flat.add(x); print(f"  flat build {time.perf_counter() - t0:.2f} s")
ref = run("exact (IndexFlatIP)", flat)
nlist = max(1, int(4 * np.sqrt(n)))
t0 = time.perf_counter()
ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
ivf.cp.niter = 12
ivf.cp.max_points_per_centroid = 64
ivf.cp.spherical = True
ivf.train(x); ivf.add(x)
print(f"  IVF build {time.perf_counter() - t0:.2f} s (nlist {nlist})")
for p in (8, 16, 32, 64):
    if p > nlist: break
    ivf.nprobe = p
    run(f"IVF nprobe {p}", ivf, ref)
