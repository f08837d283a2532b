#!/bin/bash
# The three Fashion-MNIST training benchmarks as parallel processes on one GPU (~9 min on one
# H200), with a progress line per job every 30 s and a hard deadline; whatever finished is kept
# (quant_fmnist also saves partial results after each stage). Quantization waits for the
# accuracy run's dynamic network and fine-tunes it (float baseline, 8/8, 4/4 in parallel).
#
#   bash benchmarks/fmnist_gpu.sh                      # full run, data from Debian's package
#   DATA=/path/to/fashion-mnist DEADLINE=3600 bash benchmarks/fmnist_gpu.sh
#   DEV=cpu bash benchmarks/fmnist_gpu.sh quick        # smoke run on a CPU (~3 min on 2 cores)
#
# Then: python benchmarks/accuracy_fmnist.py --merge benchmarks/results/acc_part_{dynamic,ind_*}.json
#       python benchmarks/run_all.py --render
set -u
MODE=${1:-full}
export PYTHONPATH=$PWD/src:${PYTHONPATH:-} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${THREADS:-2} \
  MKL_NUM_THREADS=${THREADS:-2} MPLBACKEND=Agg
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
DEV=${DEV:-cuda}
DEADLINE=${DEADLINE:-525}  # seconds; every job is stopped then
PY=${PY:-python3}
LOGS=${LOGS:-benchmarks/results/fmnist_gpu_logs}
RUNS=${RUNS:-benchmarks/results/fmnist_gpu_runs}
EACC=${EACC:-10}; EQAT=${EQAT:-3}; ES=${ES:-6}  # epochs: accuracy, QAT, search
R=benchmarks/results
mkdir -p "$LOGS" "$RUNS"
if [ "$MODE" = quant-chain ]; then  # internal: the quantization job, once acc_dyn is done
  while [ ! -f "$RUNS/acc_dyn.done" ]; do sleep 5; done
  CK=$RUNS/acc/dynamic/checkpoint
  [ -f "$CK/meta.json" ] || { echo "no float checkpoint in $CK (acc_dyn failed)"; exit 1; }
  QQ="$PY benchmarks/quant_fmnist.py --device $DEV --data-dir $DATA --float-checkpoint $CK \
    --qat-epochs $EQAT ${2:-}"
  $QQ --bits none --name quant_part_base > "$LOGS/quant_base.log" 2>&1 &
  $QQ --bits 8/8 --no-baseline --name quant_part_w8a8 > "$LOGS/quant_w8a8.log" 2>&1 &
  $QQ --bits 4/4 --no-baseline --name quant_part_w4a4 > "$LOGS/quant_w4a4.log" 2>&1 &
  wait
  $PY benchmarks/quant_fmnist.py --merge $R/quant_part_base.json $R/quant_part_w8a8.json \
    $R/quant_part_w4a4.json --name quant_fmnist${2:+_quick}
  exit $?
fi
T0=$(date +%s)
echo "start $(date -u +%T) mode=$MODE device=$DEV deadline=${DEADLINE}s data=$DATA"
if [ "$MODE" = quick ]; then Q=--quick; else Q=; fi
pids=()
run() {  # run NAME CMD...: in the background, stopped at the deadline, log in $LOGS/NAME.log
  local name=$1; shift
  local left=$((DEADLINE - ($(date +%s) - T0)))
  ( timeout -k 5 $left "$@" > "$LOGS/$name.log" 2>&1; echo "EXIT $?" >> "$LOGS/$name.log" ) &
  pids+=($!)
}
ACC="$PY benchmarks/accuracy_fmnist.py --device $DEV --data-dir $DATA --epochs $EACC \
  --batch-size 256 --lr 0.2 --runs-dir $RUNS/acc $Q"
rm -f "$RUNS/acc_dyn.done"
run acc_dyn bash -c "$ACC --only dynamic --out $R/acc_part_dynamic.json; \
  rc=\$?; touch $RUNS/acc_dyn.done; exit \$rc"
for w in 0.25 0.5 0.75 1.0; do
  run acc_ind_$w $ACC --only individual --widths $w --out $R/acc_part_ind_$w.json
done
# quantization starts from the accuracy run's dynamic network: float fine-tune baseline, 8/8
# and 4/4 QAT as three parallel processes, merged into quant_fmnist.json
run quant bash "$0" quant-chain $Q
run search $PY benchmarks/search_fmnist.py --device $DEV --data-dir $DATA --epochs $ES \
  --runs-dir $RUNS/search $Q
while :; do
  alive=0; for p in "${pids[@]}"; do kill -0 $p 2>/dev/null && alive=$((alive + 1)); done
  echo "== $(($(date +%s) - T0)) s, $alive jobs running"
  for f in "$LOGS"/*.log; do printf '  %-12s %s\n' "$(basename $f .log)" \
    "$(grep -v '^\s*$' $f | tail -1 | cut -c1-120)"; done
  [ $alive -eq 0 ] && break
  sleep 30
done
wait
echo "done in $(($(date +%s) - T0)) s; logs in $LOGS"
