#!/usr/bin/env bash
# A `spikeburn sweep` over a Slurm cluster: one job-array task per shard, then one job that
# writes the tables and figures of the whole grid once every shard has succeeded.
#
#   scripts/slurm-sweep.sh SHARDS SWEEP-ARGUMENTS...
#
#   scripts/slurm-sweep.sh 8 --preset mnist-mlp --set epochs=5 \
#       --grid lr=1e-3,5e-4,2e-4 --grid beta=0.8,0.9,0.95 --seeds 3 --out /shared/sweeps/lr-beta
#
# SWEEP-ARGUMENTS are those of `spikeburn sweep` and must name an --out folder that every node
# reaches (a shared file system). The script checks the grid (`--dry-run`) on the submitting
# machine, then submits
#   1. `sbatch --array=1-SHARDS`: task I runs `spikeburn sweep SWEEP-ARGUMENTS --shard I/SHARDS`;
#   2. a job with `--dependency=afterok:ARRAY` that runs `spikeburn sweep SWEEP-ARGUMENTS
#      --report-only` (results.csv, summary.csv, figures).
# A task that fails or times out can be resubmitted as it was: finished runs are skipped and
# interrupted ones resume from their last checkpoint.
#
# Environment:
#   SPIKEBURN     the spikeburn binary (default: `spikeburn` on PATH; exported to the jobs)
#   SBATCH_ARGS   further sbatch options for every job, e.g. "--partition=cpu --time=04:00:00
#                 --cpus-per-task=8" (word-split)
#   SBATCH        the sbatch command (default: sbatch)
#
# Inside the jobs the script runs itself: with SLURM_ARRAY_TASK_ID set it trains that shard;
# with --report-only-job as first argument it merges.
set -euo pipefail

bin=${SPIKEBURN:-spikeburn}

if [[ -n "${SLURM_ARRAY_TASK_ID:-}" ]]; then
    count=${SLURM_ARRAY_TASK_COUNT:?SLURM_ARRAY_TASK_COUNT is not set}
    exec "$bin" sweep "$@" --shard "${SLURM_ARRAY_TASK_ID}/${count}"
fi
if [[ "${1:-}" == "--report-only-job" ]]; then
    shift
    exec "$bin" sweep "$@" --report-only
fi

if [[ $# -lt 2 || ! "$1" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 SHARDS SWEEP-ARGUMENTS...   (SHARDS: a number >= 1; see the comment at the top)" >&2
    exit 2
fi
shards=$1
shift
sbatch=${SBATCH:-sbatch}
read -r -a extra <<<"${SBATCH_ARGS:-}"

# Refuse a bad grid here rather than in SHARDS jobs on the cluster.
"$bin" sweep "$@" --dry-run >/dev/null

export SPIKEBURN="$bin"
array=$("$sbatch" --parsable --array="1-${shards}" --job-name=spikeburn-sweep "${extra[@]}" "$0" "$@")
array=${array%%;*}
report=$("$sbatch" --parsable --dependency="afterok:${array}" --job-name=spikeburn-sweep-report \
    "${extra[@]}" "$0" --report-only-job "$@")
report=${report%%;*}
echo "submitted job array ${array} (${shards} shards) and report job ${report} (after all succeed)"
