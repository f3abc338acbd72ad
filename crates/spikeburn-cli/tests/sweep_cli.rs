//! `spikeburn sweep` end to end: a tiny grid with its curves and table, and the Slurm script
//! that shards a sweep over array tasks and merges the shards into what one run gives.

mod common;
use common::*;

#[test]
fn sweep_and_plot_curves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let with = |extra: &[&str]| {
        let mut v = vec!["sweep".to_string()];
        v.extend(tiny_sweep_args("sw"));
        v.extend(extra.iter().map(|s| s.to_string()));
        spikeburn(&v.iter().map(String::as_str).collect::<Vec<_>>(), d)
    };

    let o = with(&["--grid", "no_such_key=1,2"]);
    assert_clean_failure(&o, "no_such_key");
    let o = with(&["--grid", "lr=0.001,fast"]);
    assert_clean_failure(&o, "training.lr");
    assert!(
        !d.join("sw").exists(),
        "a failed sweep left its directory behind"
    );

    let o = with(&[
        "--grid",
        "surrogate=fast_sigmoid,sigmoid",
        "--format",
        "svg",
    ]);
    assert!(o.status.success(), "sweep failed: {}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("results.csv") && stdout.contains("summary.csv"),
        "{stdout}"
    );
    assert!(d.join("sw/test_accuracy_vs_surrogate.svg").is_file());
    let run = d.join("sw/runs/surrogate=sigmoid/seed-42");
    assert!(run.join("run.json").is_file());

    let o = spikeburn(
        &["plot", "curves", "--run", run.to_str().expect("utf-8")],
        d,
    );
    assert!(o.status.success(), "plot failed: {}", stderr(&o));
    assert!(run.join("curves.svg").is_file() && run.join("curves.png").is_file());
    let o = spikeburn(&["plot", "curves", "--run", "not-a-run"], d);
    assert_clean_failure(&o, "not-a-run");
}

/// The options of a sweep of tiny runs on the shipped MNIST into `out` (no grid).
fn tiny_sweep_args(out: &str) -> Vec<String> {
    let data_dir = format!("data.dir={}", mnist());
    let sets = [
        data_dir.as_str(),
        "limit_train=256",
        "limit_test=100",
        "hidden=[32]",
        "num_steps=5",
        "batch_size=64",
    ];
    let mut v: Vec<String> = sets
        .iter()
        .flat_map(|s| ["--set", s])
        .map(String::from)
        .collect();
    v.extend(["--out".to_string(), out.to_string()]);
    v
}

/// Whether a column of a sweep table holds a timing, which differs between runs.
fn is_timing(column: &str) -> bool {
    column.contains("wall_seconds") || column.contains("step_ms")
}

/// `scripts/slurm-sweep.sh` under a stand-in `sbatch` that runs each job at once (array tasks
/// one after the other, with Slurm's variables): its four shards and its report job give the
/// tables of one `spikeburn sweep` of the same grid.
#[test]
fn slurm_script_shards_a_sweep_and_merges_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let sweep_args = |out: &str| -> Vec<String> {
        let mut v = tiny_sweep_args(out);
        v.extend(["--grid", "beta=0.8,0.95", "--seeds", "2", "--format", "svg"].map(String::from));
        v
    };
    let mut whole = vec!["sweep".to_string()];
    whole.extend(sweep_args("whole"));
    let whole: Vec<&str> = whole.iter().map(String::as_str).collect();
    let o = spikeburn(&whole, d);
    assert!(o.status.success(), "sweep failed: {}", stderr(&o));

    let sbatch = d.join("sbatch");
    std::fs::write(
        &sbatch,
        r#"#!/usr/bin/env bash
set -e
echo "sbatch $*" >> "$SBATCH_LOG"
array=""
while [[ $1 == --* ]]; do case $1 in --array=*) array=${1#--array=} ;; esac; shift; done
script=$1; shift
if [[ -n $array ]]; then
    n=${array#1-}
    for i in $(seq 1 "$n"); do
        SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=$n bash "$script" "$@" >> "$SBATCH_LOG" 2>&1
    done
else
    bash "$script" "$@" >> "$SBATCH_LOG" 2>&1
fi
echo "$RANDOM;cluster"
"#,
    )
    .expect("write sbatch");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(&sbatch, mode).expect("chmod sbatch");
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/slurm-sweep.sh");
    let log = d.join("sbatch.log");
    let o = Command::new("bash")
        .arg(&script)
        .arg("4")
        .args(sweep_args("sharded"))
        .current_dir(d)
        .env("SPIKEBURN", env!("CARGO_BIN_EXE_spikeburn"))
        .env("SBATCH", &sbatch)
        .env("SBATCH_LOG", &log)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .expect("run slurm-sweep.sh");
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        o.status.success(),
        "slurm-sweep.sh failed: {}\n{log_text}",
        stderr(&o)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("(4 shards)"), "{stdout}");
    assert!(log_text.contains("--array=1-4"), "{log_text}");
    assert!(log_text.contains("--dependency=afterok:"), "{log_text}");
    for i in 1..=4 {
        assert!(
            log_text.contains(&format!("shard {i}/4 done: 1 run (1 trained now")),
            "{log_text}"
        );
    }
    let submitted = log_text.lines().filter(|l| l.starts_with("sbatch "));
    assert_eq!(submitted.clone().count(), 2, "{log_text}");
    assert!(
        submitted.clone().all(|l| !l.contains("--shard")),
        "{log_text}"
    );
    let table = |p: std::path::PathBuf| -> Vec<String> {
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        // Drop the timing columns (wall_seconds…, step_ms…).
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
        let keep: Vec<usize> = (0..rows[0].len())
            .filter(|&c| !is_timing(rows[0][c]))
            .collect();
        rows.iter()
            .map(|r| keep.iter().map(|&c| r[c]).collect::<Vec<_>>().join(","))
            .collect()
    };
    for t in ["results.csv", "summary.csv"] {
        assert_eq!(
            table(d.join("whole").join(t)),
            table(d.join("sharded").join(t)),
            "{t}"
        );
    }
    assert!(d.join("sharded/test_accuracy_vs_beta.svg").is_file());

    let o = Command::new("bash")
        .arg(&script)
        .args(["0", "--out", "x"])
        .current_dir(d)
        .output()
        .expect("run slurm-sweep.sh");
    assert!(
        !o.status.success() && stderr(&o).contains("usage:"),
        "{}",
        stderr(&o)
    );
}
