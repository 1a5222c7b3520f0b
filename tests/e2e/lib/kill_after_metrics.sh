# Sourced by the e2e scripts that test resuming (tests/e2e/*.sh run as tests; this folder not).
# kill_after_metrics FILE N CMD...: runs CMD in the background and SIGKILLs it once FILE (its
# metrics.jsonl) has N lines; fails when the run ended before that.
kill_after_metrics() {
    local file=$1 want=$2; shift 2
    "$@" &
    local p=$!
    for _ in $(seq 1 600); do
        [ "$(cat "$file" 2>/dev/null | wc -l)" -ge "$want" ] && break
        sleep 0.05
    done
    kill -9 $p 2>/dev/null || { echo "run finished before it could be killed"; return 1; }
    wait $p 2>/dev/null || true
}
