//! Crash safety and exact resume: a run interrupted after any epoch and resumed gives, bit for
//! bit, the weights and metrics of an uninterrupted run, also with every random stream in use
//! (rate encoding, dropout, a stochastic neuron layer, shift augmentation); a checkpoint
//! whose write fails leaves the previous one current and loadable; stale checkpoint folders
//! are removed; hostile configurations are refused before a run folder exists.

mod common;
use common::shipped_mnist;

use burn::prelude::*;
use spikeburn_train::checkpoint;
use spikeburn_train::trainer::load_run_model;
use spikeburn_train::{ExperimentConfig, Silent, TrainError, read_metrics, resume, train};
use std::path::{Path, PathBuf};

/// A small network that draws from every random stream a run has.
const STOCHASTIC: &str = r#"
[data]
limit_train = 512
limit_test = 200

[model]
input = [784]
num_steps = 8
encoder = { kind = "rate", gain = 1.0 }
layers = [
    { type = "linear", size = 96 }, { type = "neuron" },
    { type = "dropout", prob = 0.2 },
    { type = "linear", size = 48 }, { type = "neuron", neuron = { kind = "stochastic", noise = 0.3 } },
    { type = "linear", size = 10 }, { type = "neuron" },
]

[training]
epochs = 3
batch_size = 64
lr = 2e-3
augment_shift = 2
"#;

fn config(epochs: usize) -> ExperimentConfig {
    let mut c =
        ExperimentConfig::from_toml(STOCHASTIC, Path::new("stochastic.toml")).expect("config");
    c.data.dir = Some(shipped_mnist());
    c.training.epochs = epochs;
    c
}

/// Every parameter of the run's saved model, as bits.
fn weight_bits(run: &Path) -> Vec<u32> {
    let config = spikeburn_train::load_run_config(run).expect("config");
    let model = load_run_model(run, &config, &Device::flex()).expect("model");
    model
        .linears()
        .into_iter()
        .flat_map(|l| {
            let mut v = l.weight.val().into_data().try_to_vec::<f32>().expect("f32");
            if let Some(b) = &l.bias {
                v.extend(b.val().into_data().try_to_vec::<f32>().expect("f32"));
            }
            v
        })
        .map(f32::to_bits)
        .collect()
}

/// Test accuracies and losses of every epoch, as bits.
fn metric_bits(run: &Path) -> Vec<[u64; 3]> {
    read_metrics(run)
        .expect("metrics")
        .iter()
        .map(|r| {
            [
                r.train_loss.to_bits(),
                r.test_loss.to_bits(),
                r.test_accuracy.to_bits(),
            ]
        })
        .collect()
}

/// Asserts that two runs have the same metrics and weights, bit for bit; `what` names the case.
fn assert_same_run(run: &Path, straight: &Path, what: &str) {
    assert_eq!(metric_bits(run), metric_bits(straight), "{what}metrics");
    assert_eq!(weight_bits(run), weight_bits(straight), "{what}weights");
}

/// Trains `config` without interruption into `dir/straight`, the reference for the resumed runs.
fn straight_run(dir: &Path, config: &ExperimentConfig) -> PathBuf {
    let straight = dir.join("straight");
    train(config, &straight, &mut Silent).expect("straight run");
    straight
}

/// The run's current checkpoint, which must exist.
fn current_checkpoint(run: &Path) -> checkpoint::CheckpointInfo {
    checkpoint::read_info(run)
        .expect("read")
        .expect("checkpoint")
}

#[test]
fn resume_after_each_epoch_equals_the_straight_run_with_every_random_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let straight = straight_run(dir.path(), &config(3));

    // Interrupted after epoch 1 and again after epoch 2.
    let pieces = dir.path().join("pieces");
    train(&config(1), &pieces, &mut Silent).expect("epoch 1");
    resume(&pieces, Some(2), &mut Silent).expect("epoch 2");
    resume(&pieces, Some(3), &mut Silent).expect("epoch 3");

    assert_same_run(&pieces, &straight, "");
    let info = current_checkpoint(&pieces);
    assert_eq!(info.epochs_done, 3);
    // Encoder, dropout and the stochastic layer, each having drawn (2 × 8 train + 4 test
    // batches of 64/50 … ) passes: positions that are not all zero.
    assert_eq!(info.streams.len(), 3, "{:?}", info.streams);
    assert!(info.streams.iter().all(|&p| p > 0), "{:?}", info.streams);
}

/// Fault injection: the next checkpoint's temporary folder cannot be created (a file stands
/// in its place). The run ends with an error naming it, the previous checkpoint stays current
/// and loadable, and once the fault is gone, resuming gives the straight run exactly.
#[test]
fn a_failed_checkpoint_write_keeps_the_previous_one_and_resume_is_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let straight = straight_run(dir.path(), &config(2));

    let run = dir.path().join("faulty");
    train(&config(1), &run, &mut Silent).expect("epoch 1");
    let blocker = run.join(".checkpoint-2.tmp");
    std::fs::write(&blocker, b"not a folder").expect("blocker");
    let err = resume(&run, Some(2), &mut Silent).expect_err("the checkpoint write must fail");
    assert!(
        matches!(&err, TrainError::Io { path, .. } if path == &blocker),
        "{err}"
    );
    let info = current_checkpoint(&run);
    assert_eq!((info.epochs_done, info.dir.as_str()), (1, "checkpoint-1"));
    assert!(run.join("checkpoint-1/model.bpk").is_file());

    std::fs::remove_file(&blocker).expect("remove blocker");
    resume(&run, Some(2), &mut Silent).expect("resume after the fault");
    assert_same_run(&run, &straight, "");
}

/// Checkpoint folders left behind by a crash (renamed but never made current, or never
/// renamed) are removed with the next checkpoint; only the current one stays.
#[test]
fn stale_checkpoint_folders_are_pruned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let mut c = config(1);
    c.data.limit_train = 128;
    c.data.limit_test = 64;
    train(&c, &run, &mut Silent).expect("epoch 1");
    for stale in ["checkpoint-7", ".checkpoint-3.tmp"] {
        std::fs::create_dir_all(run.join(stale)).expect("stale folder");
    }
    std::fs::create_dir_all(run.join("checkpoint-notes")).expect("user folder");
    resume(&run, Some(2), &mut Silent).expect("epoch 2");
    let mut names: Vec<String> = std::fs::read_dir(&run)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("checkpoint-"))
        .collect();
    names.sort();
    assert_eq!(names, ["checkpoint-2", "checkpoint-notes"]);
}

/// Hostile sizes are refused by the memory estimate before the run folder is created.
#[test]
fn configurations_that_cannot_fit_in_memory_are_refused_with_the_estimate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(1);
    c.model.layers.clear();
    c.model.hidden = vec![2_000_000_000];
    let run = dir.path().join("huge");
    let err = train(&c, &run, &mut Silent).expect_err("cannot fit");
    let text = err.to_string();
    assert!(
        text.contains("GiB") && text.contains("layer sizes"),
        "{text}"
    );
    assert!(!run.exists());

    // The estimate against a hand count for the 784-1000-10 MLP at T = 25, B = 128:
    // 795,010 parameters × 16 bytes; activations 4 bytes × (128 × 784 input + 25 × 128 ×
    // (1000 + 5·1000 + 10 + 5·10)).
    let mlp = ExperimentConfig::preset("mnist-mlp").expect("preset");
    let e = mlp.model.memory_estimate(128).expect("estimate");
    assert_eq!(e.parameters, 795_010.0);
    assert_eq!(e.weight_bytes, 795_010.0 * 16.0);
    let activations = 4.0 * (128.0 * 784.0 + 25.0 * 128.0 * (6000.0 + 60.0));
    assert_eq!(e.activation_bytes, activations);
    assert!(mlp.check_memory(Some(1e9)).is_ok());
    let refused = mlp
        .check_memory(Some(50e6))
        .expect_err("50 MB is too little");
    assert_eq!(refused.field, "model");
}

/// Progress that crashes (panics) at the `n`-th training step of the run, as a kill would
/// stop it: whatever was written by then stays, nothing after it happens.
struct CrashAt(usize);

impl spikeburn_train::Progress for CrashAt {
    fn begin(&mut self, _: &str, _: usize) {}
    fn update(&mut self, _: usize, status: &str) {
        // Training updates carry the running loss; evaluation's do not.
        if status.starts_with("loss") {
            self.0 -= 1;
            assert!(self.0 > 0, "injected crash");
        }
    }
    fn end(&mut self) {}
    fn note(&mut self, _: &str) {}
}

/// Checkpoints within an epoch (every 3 steps): a run crashed in the middle of epoch 1 or of
/// epoch 2 and resumed from its latest checkpoint (`checkpoint-0-3`, `checkpoint-1-3`) gives
/// the straight run's weights and metrics bit for bit.
#[test]
fn resume_from_a_checkpoint_within_an_epoch_is_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(2);
    c.training.checkpoint_every = 3;
    let straight = straight_run(dir.path(), &c);
    // 512 images in batches of 64: 8 steps per epoch. Step 5 of epoch 1 is the run's 5th,
    // step 5 of epoch 2 its 13th.
    for (crash_at, latest) in [(5, "checkpoint-0-3"), (13, "checkpoint-1-3")] {
        let run = dir.path().join(format!("crash-{crash_at}"));
        let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            train(&c, &run, &mut CrashAt(crash_at))
        }));
        assert!(crashed.is_err(), "the injected crash did not happen");
        assert_eq!(current_checkpoint(&run).dir, latest);
        resume(&run, None, &mut Silent).expect("resume");
        assert_same_run(&run, &straight, &format!("crash at {crash_at}: "));
    }
}
