#!/bin/bash
# The long Fashion-MNIST training benchmarks on a CPU machine, as a queue of jobs run SLOTS at a
# time (default 2, one thread each). Every job keeps its trainings under $RUNS: a finished one is
# reused, a killed one resumes from its last epoch's checkpoint (a search from its trajectory),
# so running this script again, in this session or a later one, continues where it stopped.
# Each job writes a one-seed scratch result under $RUNS; once every job of a benchmark has
# finished, `merge` writes benchmarks/results/<name>.json from the cached runs (seconds).
#
#   git clone /work/main /var/tmp/long && cd /var/tmp/long     # a clean clone: provenance
#   nohup bash benchmarks/cpu_long_runs.sh > /var/tmp/long.log 2>&1 &
#   JOBS="search0 search1" bash benchmarks/cpu_long_runs.sh     # only these jobs
#   bash benchmarks/cpu_long_runs.sh merge [prec ...]           # then: run_all.py --render
#   bash benchmarks/cpu_long_runs.sh status                     # each training's step, time left
#   JOBS="prec0 prec1" ARGS="--dedicated 4/4" bash benchmarks/cpu_long_runs.sh
#                                  # ARGS: passed to every job (here: the joint before the 2/2)
#
# Jobs: search<k> (search_fmnist, seed k, ES epochs), prec<k> (precision_fmnist, seed k),
# papers<k> (search_papers_fmnist, seed k, EP epochs), for k = 0 and 1. Recipes: the ones
# sandwich_ablation kept on validation. Measured on the 2-core machine: a 10-epoch dynamic
# ResNet-20 takes 45-80 min at one thread, depending on the load.
set -u
export PYTHONPATH=$PWD/src:${PYTHONPATH:-} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 \
  MKL_NUM_THREADS=1 MPLBACKEND=Agg
PY=${PY:-python3}
RUNS=${RUNS:-/var/tmp/dynpim_long_runs}
SLOTS=${SLOTS:-2}
ES=${ES:-6}; EP=${EP:-6}
JOBS=${JOBS:-search0 search1 prec0 prec1 papers0 papers1}
RECIPES=benchmarks/results/sandwich_ablation.json
mkdir -p "$RUNS/logs"

job() {  # job NAME [extra args]: one benchmark for one seed (or, with merge, every seed)
  local name=$1 seed=${1: -1}; shift
  case $name in
    search*) $PY benchmarks/search_fmnist.py --device cpu --epochs "$ES" --parallel no \
               --recipes $RECIPES --runs-dir "$RUNS/search" --seeds "$seed" \
               --out "search_fmnist_seed$seed" "$@" ;;
    prec*)   $PY benchmarks/precision_fmnist.py --device cpu --recipes $RECIPES \
               --runs-dir "$RUNS/prec" --seeds "$seed" --out "$RUNS/precision_seed$seed.json" \
               "$@" ;;
    papers*) $PY benchmarks/search_papers_fmnist.py --device cpu --epochs "$EP" --threads 1 \
               --runs-dir "$RUNS/papers" --seeds "$seed" --out "$RUNS/papers_seed$seed.json" \
               "$@" ;;
    *) echo "unknown job $name" >&2; return 2 ;;
  esac
}
export -f job
ARGS=${ARGS:-}
export PY RUNS ES EP RECIPES ARGS

if [ "${1:-}" = status ]; then  # reads the runs' files only: safe beside the running jobs
  exec $PY benchmarks/run_status.py "$RUNS"
fi
if [ "${1:-}" = merge ]; then  # every seed's cached runs into the committed result paths
  shift
  want=${*:-search prec papers}  # e.g. `merge prec`: only that benchmark
  rc=0
  for b in $want; do
    case $b in
      search) $PY benchmarks/search_fmnist.py --device cpu --epochs "$ES" --parallel no \
                --recipes $RECIPES --runs-dir "$RUNS/search" --seeds 0,1 || rc=$? ;;
      prec)   $PY benchmarks/precision_fmnist.py --device cpu --recipes $RECIPES \
                --runs-dir "$RUNS/prec" --seeds 0,1 || rc=$? ;;
      papers) $PY benchmarks/search_papers_fmnist.py --device cpu --epochs "$EP" --threads 1 \
                --runs-dir "$RUNS/papers" --seeds 0,1 || rc=$? ;;
      *) echo "unknown benchmark $b (search, prec, papers)" >&2; exit 2 ;;
    esac
  done
  exit $rc
fi
echo "start $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) jobs: $JOBS (slots $SLOTS)" \
  "${ARGS:+args: $ARGS}"
printf '%s\n' $JOBS | xargs -P "$SLOTS" -I{} bash -c \
  'echo "{} started $(date -u +%T)"; job {} $ARGS > "$RUNS/logs/{}.log" 2>&1; \
   echo "{} exit $? $(date -u +%T)"'
echo "done $(date -u +%FT%TZ)"
