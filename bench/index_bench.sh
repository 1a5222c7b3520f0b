#!/usr/bin/env bash
# labelfree's index vs faiss (python3-faiss), side by side, at 10^4, 10^5, 10^6 vectors (d = 256).
# Output: build/bench/index_bench.log. Needs ~4 GB of memory at 10^6; minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j2 VARIANT=native lib
LIBS="$(pkg-config --libs jansson libpng libtiff-4 zlib libmicrohttpd) -ljpeg -L/usr/lib/x86_64-linux-gnu/openblas-openmp -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -lsqlite3 -fopenmp -lm -lpthread"
cc -O3 -march=native -fopenmp -Iinclude -Isrc -o build/index_bench bench/index_bench.c build/native/liblabelfree.a $LIBS
mkdir -p build/bench
{
for n in ${SIZES:-10000 100000 1000000}; do
    nq=1000; [ "$n" -ge 1000000 ] && nq=500
    ./build/index_bench "$n" 256 "$nq"
    /usr/bin/python3 -u bench/faiss_bench.py "$n" 256 "$nq" 2>&1 | grep -v WARNING
done
} | tee build/bench/index_bench.log
