#!/usr/bin/env bash
# Runs the fuzz targets one after another, niced, each for FUZZ_SECONDS
# (default 10): every target, or those named. New inputs go to
# fuzz/corpus-run/<target> (ignored by git); the committed seeds in
# fuzz/corpus/<target> are read, never written. A crash, a timeout or an
# out-of-memory stops the run with a non-zero status, the input saved under
# fuzz/artifacts/<target>. Ends with one line per target: seconds,
# executions, corpus size.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-10}
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo +nightly fuzz list); fi

nice cargo +nightly fuzz build

summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus-run/$t"
    log="corpus-run/$t.log"
    echo "== fuzz $t for ${seconds}s"
    if ! nice cargo +nightly fuzz run "$t" "corpus-run/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "error: fuzz target $t failed (input in fuzz/artifacts/$t)" >&2
        exit 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
    summary+=("$t: ${seconds}s, ${execs:-?} executions, corpus ${corpus:-?} (inputs/bytes), 0 crashes")
done
printf '%s\n' "${summary[@]}"
