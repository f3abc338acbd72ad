//! `spikeburn compare RUN_A RUN_B`: whether two runs hold the same weights.
//!
//! burn's weight files (`model.bpk`) carry a random id per parameter, so two runs with equal
//! weights write files that differ in bytes and `cmp` cannot tell; this command compares the
//! values. Exit code 0 when every parameter is equal (within `--tolerance`), 1 otherwise, with
//! one line saying where they differ.

use anyhow::{Context, Result, bail};
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use clap::Args;
use spikeburn_train::trainer::{load_run_config, load_run_model};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
#[command(after_help = "\
Compares every learnable parameter (weights, biases, learnable decays and thresholds) of the
two runs' model.bpk, in module order. Prints `identical: …` and exits 0 when all are equal
(bit for bit with the default --tolerance 0), else one error line naming the first tensor
that differs, the number of differing values and the largest difference, and exits 1.")]
pub struct CompareArgs {
    /// The two run directories (each with config.toml and model.bpk).
    #[arg(value_name = "RUN", num_args = 2, required = true)]
    runs: Vec<PathBuf>,
    /// Largest absolute difference still counted as equal.
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    tolerance: f64,
}

/// Every float parameter's shape and values, in visiting order.
#[derive(Default)]
struct Collect(Vec<(Vec<usize>, Vec<f32>)>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let shape = value.dims().to_vec();
        let values = value
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        self.0.push((shape, values));
    }
}

fn parameters(run: &Path) -> Result<Vec<(Vec<usize>, Vec<f32>)>> {
    let config = load_run_config(run).with_context(|| format!("cannot read {}", run.display()))?;
    let model = load_run_model(run, &config, &Device::flex())
        .with_context(|| format!("cannot load the weights of {}", run.display()))?;
    let mut collect = Collect::default();
    model.visit(&mut collect);
    Ok(collect.0)
}

pub fn run(args: CompareArgs) -> Result<()> {
    let [a, b] = [&args.runs[0], &args.runs[1]];
    let (pa, pb) = (parameters(a)?, parameters(b)?);
    if pa.len() != pb.len() {
        bail!(
            "{} has {} parameter tensors, {} has {}: not the same network",
            a.display(),
            pa.len(),
            b.display(),
            pb.len()
        );
    }
    let (mut values, mut differing, mut largest) = (0usize, 0usize, 0.0f64);
    let mut first: Option<usize> = None;
    for (i, ((sa, va), (sb, vb))) in pa.iter().zip(&pb).enumerate() {
        if sa != sb {
            bail!("parameter tensor {i} has shape {sa:?} in one run and {sb:?} in the other");
        }
        values += va.len();
        for (x, y) in va.iter().zip(vb) {
            let d = (f64::from(*x) - f64::from(*y)).abs();
            let differs = if args.tolerance == 0.0 {
                x.to_bits() != y.to_bits()
            } else {
                d.is_nan() || d > args.tolerance
            };
            if differs {
                differing += 1;
                largest = largest.max(if d.is_nan() { f64::INFINITY } else { d });
                first.get_or_insert(i);
            }
        }
    }
    match first {
        None => {
            println!(
                "identical: {values} values in {} parameter tensors ({} and {})",
                pa.len(),
                a.display(),
                b.display()
            );
            Ok(())
        }
        Some(i) => bail!(
            "weights differ: {differing} of {values} values, largest difference {largest:.3e}, \
             first in parameter tensor {i} {:?} ({} vs {})",
            pa[i].0,
            a.display(),
            b.display()
        ),
    }
}
