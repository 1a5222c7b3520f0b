#!/usr/bin/env bash
# The whole test suite. Unit tests run in three builds: float32 (parity with PyTorch
# fixtures; a second time with LF_GEMM=blas, the convolutions' path without AVX-512, and
# the parity tests on one thread, the batch-parallel AVX-512 / Winograd path),
# float64 (finite-difference gradient checks), ASan+UBSan; then the end-to-end CLI tests in
# tests/e2e/*.sh. Ends with one line: 'N passed, N failed'.
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
# passive OpenMP waiting: spinning threads starve the loader threads on small machines
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
passed=0; failed=0; skipped=0
summ() { # reads 'N passed, N failed, N skipped' from a log
    local line; line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
    if [ -z "$line" ]; then failed=$((failed + 1)); echo "!! $2 did not finish (see above)"; return; fi
    passed=$((passed + $(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')))
    failed=$((failed + $(echo "$line" | sed -E 's/.*, ([0-9]+) failed.*/\1/')))
    skipped=$((skipped + $(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' | grep . || echo 0)))
}
mkdir -p build/logs
for v in default f64 asan; do
    echo "== unit tests, $v build"
    if ! make -s -j"$JOBS" VARIANT=$v tests cli > build/logs/build-$v.log 2>&1; then
        cat build/logs/build-$v.log; echo "!! $v build failed"; failed=$((failed + 1)); continue
    fi
    ASAN_OPTIONS=detect_leaks=1 LF_THREADS=2 ./build/$v/unit_tests 2>&1 | tee build/logs/unit-$v.log |
        grep -vE '^(ok|SKIP) ' ; summ build/logs/unit-$v.log "$v unit tests"
    if [ "$v" = default ]; then
        # the convolutions' BLAS path, which machines without AVX-512 take (seconds)
        echo "== unit tests, default build, LF_GEMM=blas"
        LF_GEMM=blas LF_THREADS=2 ./build/default/unit_tests 2>&1 | tee build/logs/unit-blas.log |
            grep -vE '^(ok|SKIP) ' ; summ build/logs/unit-blas.log "default unit tests with LF_GEMM=blas"
        # the PyTorch parity fixtures on one thread: their small batches then take the
        # batch-parallel AVX-512 path (Winograd for 3x3 stride-1 convolutions) that training
        # runs on, instead of the shared BLAS path that 2 threads give them (seconds)
        echo "== parity tests, default build, LF_THREADS=1"
        LF_THREADS=1 ./build/default/unit_tests parity 2>&1 | tee build/logs/unit-parity-t1.log |
            grep -vE '^(ok|SKIP) ' ; summ build/logs/unit-parity-t1.log "parity tests on one thread"
        # a team smaller than the threads asked for (OMP_THREAD_LIMIT; the thread-count test
        # asks for 2 and 3): the Winograd path must split its work by the team it got (under
        # a second)
        echo "== Winograd tests, default build, OMP_THREAD_LIMIT=1"
        OMP_THREAD_LIMIT=1 ./build/default/unit_tests winograd 2>&1 | tee build/logs/unit-wino-limit.log |
            grep -vE '^(ok|SKIP) ' ; summ build/logs/unit-wino-limit.log "Winograd tests, OMP_THREAD_LIMIT=1"
    fi
done
for t in tests/e2e/*.sh; do
    [ -e "$t" ] || continue
    echo "== e2e $(basename "$t")"
    if LF=./build/default/labelfree bash "$t" > build/logs/e2e.log 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1)); tail -30 build/logs/e2e.log; echo "!! $t failed"
    fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
