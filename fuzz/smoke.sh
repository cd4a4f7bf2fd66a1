#!/usr/bin/env bash
# Builds every fuzz target and runs each for a short while from its committed seeds: what CI
# does (.ci/run). A crash, a timeout or a leak fails the run; its input is left in
# fuzz/artifacts/<target>/ and printed.
#
# FUZZ_SECONDS (default 10) per target, FUZZ_JOBS (default 2) targets at a time. A quick build
# (unoptimised, no sanitizer) keeps a cold CI run near four minutes on two cores; the long runs
# described in fuzz/README.md use optimised builds with AddressSanitizer.
set -euo pipefail

cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-10}
jobs=${FUZZ_JOBS:-2}

# mail-parser 0.11.9 has a `debug_assert!(false)` that input reaches (src/parsers/message.rs,
# "Invalid part ID"); release builds, which the gateway ships, skip it. Overflow checks stay on.
export RUSTFLAGS="${RUSTFLAGS:-} -Cdebug-assertions=off -Coverflow-checks=on"
build=(--dev --sanitizer none)

dictionary() {
    case "$1" in
        command_framing | sequence_search) echo "-dict=dict/imap.dict" ;;
        mime_structure | append_compose) echo "-dict=dict/mime.dict" ;;
    esac
}

started=$SECONDS
cargo +nightly fuzz build "${build[@]}"
echo "fuzz: targets built in $((SECONDS - started)) s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mapfile -t targets < <(cargo +nightly fuzz list)

run() {
    local target=$1
    mkdir -p "$work/$target"
    # New inputs go to the scratch directory; the committed seeds are only read.
    # shellcheck disable=SC2046
    cargo +nightly fuzz run "${build[@]}" "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -seed=1 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 $(dictionary "$target") >"$work/$target.log" 2>&1
}

failed=()
for ((i = 0; i < ${#targets[@]}; i += jobs)); do
    pids=()
    for target in "${targets[@]:i:jobs}"; do
        run "$target" &
        pids+=("$!:$target")
    done
    for entry in "${pids[@]}"; do
        target=${entry#*:}
        if wait "${entry%%:*}"; then
            runs=$(grep -a '^stat::number_of_executed_units' "$work/$target.log" | awk '{print $2}' || true)
            echo "fuzz: $target: ${runs:-?} executions in ${seconds} s, no crash"
        else
            failed+=("$target")
            echo "fuzz: $target FAILED:" >&2
            grep -a -v '^#' "$work/$target.log" | tail -n 60 >&2
        fi
    done
done

echo "fuzz: done in $((SECONDS - started)) s"
if ((${#failed[@]})); then
    echo "fuzz: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
