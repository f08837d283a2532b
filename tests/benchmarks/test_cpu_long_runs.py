"""benchmarks/cpu_long_runs.sh, dry (PY=echo): each job runs its benchmark for its seed with the
validation-chosen recipes and run dirs under $RUNS; merge calls every benchmark (or the named
ones) on both seeds."""

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def dry(tmp_path, *args, jobs="search1 prec0 papers1 nope"):
    env = dict(os.environ, PY="echo", RUNS=str(tmp_path), JOBS=jobs)
    return subprocess.run(["bash", "benchmarks/cpu_long_runs.sh", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_each_job_is_one_benchmark_for_one_seed(tmp_path):
    r = dry(tmp_path)
    assert r.returncode == 0, r.stderr
    log = {j: (tmp_path / "logs" / f"{j}.log").read_text().split()
           for j in ("search1", "prec0", "papers1", "nope")}
    assert log["search1"][0] == "benchmarks/search_fmnist.py"
    assert log["search1"][log["search1"].index("--seeds") + 1] == "1"
    assert log["search1"][log["search1"].index("--runs-dir") + 1] == f"{tmp_path}/search"
    assert "benchmarks/results/sandwich_ablation.json" in log["prec0"]
    assert log["prec0"][log["prec0"].index("--out") + 1] == f"{tmp_path}/precision_seed0.json"
    assert log["papers1"][log["papers1"].index("--epochs") + 1] == "6"
    assert log["nope"] == ["unknown", "job", "nope"]
    assert "nope exit 2" in r.stdout and "search1 exit 0" in r.stdout


def test_merge_calls_every_benchmark_on_both_seeds(tmp_path):
    lines = dry(tmp_path, "merge").stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == ["benchmarks/search_fmnist.py",
                                               "benchmarks/precision_fmnist.py",
                                               "benchmarks/search_papers_fmnist.py"]
    assert all("--seeds 0,1" in ln for ln in lines)


def test_merge_of_named_benchmarks_only(tmp_path):
    lines = dry(tmp_path, "merge", "prec").stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == ["benchmarks/precision_fmnist.py"]
    bad = dry(tmp_path, "merge", "nope")
    assert bad.returncode == 2 and "unknown benchmark nope" in bad.stderr


def test_args_reach_every_job(tmp_path):
    env = dict(os.environ, PY="echo", RUNS=str(tmp_path), JOBS="prec0 prec1",
               ARGS="--dedicated 4/4")
    r = subprocess.run(["bash", "benchmarks/cpu_long_runs.sh"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for j in ("prec0", "prec1"):
        log = (tmp_path / "logs" / f"{j}.log").read_text().split()
        assert log[-2:] == ["--dedicated", "4/4"]
    assert "args: --dedicated 4/4" in r.stdout


def test_status_reads_the_runs_folder(tmp_path):
    lines = dry(tmp_path, "status").stdout.split()
    assert lines == ["benchmarks/run_status.py", str(tmp_path)]
