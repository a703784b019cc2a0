#!/bin/sh
# Side-by-side runs of the system Mesa (GL) and an unpacked Mesa (GL and Vulkan/lavapipe),
# alternating configurations within each round so that machine load hits all of them alike.
# Per run: the adapter proof (bench/mesa/adapter_info.ts), the matmul operand-path cases at 512³
# and 1024³ (bench/matmul_bench.ts) and the InfoNCE step (bench/train_bench.ts), each with
# `uptime` before it. Logs go to $OUT_DIR/<round>-<config>-<what>.txt.
#   MESA_ROOT=/work/mesa25/root ROUNDS=2 OUT_DIR=/tmp/mesa-compare sh bench/mesa/compare.sh
# CONFIGS (default "system-gl mesa-gl mesa-vulkan") and WHAT (default "matmul infonce") narrow it.
set -u
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-2}
OUT_DIR=${OUT_DIR:-/tmp/mesa-compare}
CONFIGS=${CONFIGS:-"system-gl mesa-gl mesa-vulkan"}
WHAT=${WHAT:-"matmul infonce"}
DENO=${DENO:-"npx -y deno@2.9.6"}
MATMUL_FILTER='/^(buffer|texture) (medium|large) A·B (512×512×512|1024×1024×1024)/'
mkdir -p "$OUT_DIR"

run_in() { # config, command...: runs the command in a subshell with that configuration's driver
  config=$1
  shift
  (
    case $config in
      system-gl) export DENO_WEBGPU_BACKEND=gl ;;
      mesa-gl) MESA_BACKEND=gl && . bench/mesa/env.sh ;;
      mesa-vulkan) MESA_BACKEND=vulkan && . bench/mesa/env.sh ;;
      *) echo "unknown configuration $config" >&2 && exit 2 ;;
    esac
    "$@"
  )
}

for round in $(seq 1 "$ROUNDS"); do
  for config in $CONFIGS; do
    prefix="$OUT_DIR/$round-$config"
    run_in "$config" $DENO run -A bench/mesa/adapter_info.ts >"$prefix-adapter.txt" 2>&1
    for what in $WHAT; do
      {
        echo "uptime before: $(uptime)"
        if [ "$what" = matmul ]; then
          run_in "$config" $DENO bench -A bench/matmul_bench.ts --filter "$MATMUL_FILTER"
        else
          run_in "$config" $DENO bench -A bench/train_bench.ts --filter "/AdamW/"
        fi
        echo "uptime after: $(uptime)"
      } >"$prefix-$what.txt" 2>&1
      echo "$(date -u +%H:%M:%S) round $round $config $what: $(tail -n 1 "$prefix-$what.txt")"
    done
  done
done
