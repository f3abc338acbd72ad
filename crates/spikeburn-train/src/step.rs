//! One optimiser step of backpropagation through time, on one device or data-parallel over
//! several, and the objective it minimises.
//!
//! ```text
//! out  = model.forward(x)            unrolled over T steps (the whole graph is recorded)
//! loss = L(out, y) + regularisers    e.g. Σ_t CE(U_out[t], y)
//! g    = ∂loss/∂θ                    one backward pass through all T steps (BPTT)
//! θ   ← Adam(θ, g, lr)
//! ```

use crate::config::{LossKind, TrainingConfig};
use burn::optim::{GradientsParams, ModuleOptimizer, MultiGradientsParams};
use burn::prelude::*;
use spikeburn_core::{SnnOutput, SpikingModel, loss, metrics};
use spikeburn_data::Batch;

/// The configured loss on a forward pass (without regularisers).
pub fn compute_loss(
    training: &TrainingConfig,
    out: &SnnOutput,
    targets: Tensor<1, Int>,
) -> Tensor<1> {
    let (spikes, membrane) = (out.spikes.clone(), out.membrane.clone());
    let lengths = out.lengths.as_ref();
    match training.loss {
        LossKind::CeMembrane => loss::ce_membrane(membrane, targets, lengths),
        LossKind::CeRate => loss::ce_rate(spikes, targets, lengths),
        LossKind::CeCount => loss::ce_count(spikes, targets, lengths),
        LossKind::MseCount => loss::mse_count(
            spikes,
            targets,
            training.correct_rate,
            training.incorrect_rate,
            lengths,
        ),
        LossKind::CeMaxMembrane => loss::ce_max_membrane(membrane, targets, lengths),
        LossKind::MseMembrane => loss::mse_membrane(membrane, targets, 1.0, 0.0, lengths),
        LossKind::CeTemporal => loss::ce_temporal(spikes, targets, lengths),
    }
}

/// The membrane read-out that matches the loss: the class of the largest maximum membrane
/// over time for `ce_max_membrane`, of the largest summed membrane otherwise.
pub fn predict_by_membrane(training: &TrainingConfig, out: &SnnOutput) -> Tensor<1, Int> {
    match training.loss {
        LossKind::CeMaxMembrane => {
            metrics::predict_by_max_membrane(out.membrane.clone(), out.lengths.as_ref())
        }
        _ => metrics::predict_by_membrane(out.membrane.clone(), out.lengths.as_ref()),
    }
}

/// The main read-out: by spike count for a spiking output layer, by
/// [`predict_by_membrane`] for a non-spiking one (whose "spikes" are its potential).
pub fn predict(training: &TrainingConfig, out: &SnnOutput) -> Tensor<1, Int> {
    if out.spiking {
        metrics::predict_by_spike_count(out.spikes.clone(), out.lengths.as_ref())
    } else {
        predict_by_membrane(training, out)
    }
}

/// The training objective: the loss plus the spike-rate regularisers of `training` (L1 and L2
/// over every neuron layer, the target rate over the hidden ones).
pub fn objective(training: &TrainingConfig, out: &SnnOutput, targets: Tensor<1, Int>) -> Tensor<1> {
    let mut total = compute_loss(training, out, targets);
    let hidden = out.layer_spikes.len().saturating_sub(1);
    let lengths = out.lengths.as_ref();
    for (i, spikes) in out.layer_spikes.iter().enumerate() {
        if training.rate_l1 > 0.0 {
            total = total + loss::l1_rate(spikes.clone(), lengths) * training.rate_l1;
        }
        if training.rate_l2 > 0.0 {
            total = total + loss::l2_rate(spikes.clone(), lengths) * training.rate_l2;
        }
        if training.rate_target_weight > 0.0 && i < hidden {
            total = total
                + loss::target_rate(spikes.clone(), training.rate_target, lengths)
                    * training.rate_target_weight;
        }
    }
    total
}

/// The Adam optimiser of `training` (`adam_beta1`, `adam_beta2`, `adam_epsilon`): burn's
/// update, in one pass per parameter on the CPU backends ([`crate::optim::Adam`]).
pub fn adam(training: &TrainingConfig) -> ModuleOptimizer {
    ModuleOptimizer::from(crate::optim::Adam::new(
        training.adam_beta1,
        training.adam_beta2,
        training.adam_epsilon,
    ))
}

/// One training step on a batch: forward over all time steps, the configured loss (over each
/// sample's valid steps when the batch carries [`Batch::lengths`]), backward through time, an
/// optimiser update at `training.lr`. Returns the updated model, the loss before the update,
/// and the forward pass for metrics (output spikes, membrane and rates; its `layer_spikes`
/// are emptied before the backward pass, to free their memory).
pub fn train_step<M: SpikingModel>(
    model: M,
    optim: &mut ModuleOptimizer,
    training: &TrainingConfig,
    batch: Batch,
) -> (M, f32, SnnOutput) {
    train_step_at(model, optim, training, training.lr, batch)
}

/// [`train_step`] with the learning rate `lr` (the schedule's rate for this step).
pub fn train_step_at<M: SpikingModel>(
    model: M,
    optim: &mut ModuleOptimizer,
    training: &TrainingConfig,
    lr: f64,
    batch: Batch,
) -> (M, f32, SnnOutput) {
    let mut out = model.forward(batch.input).with_lengths(batch.lengths);
    let loss = objective(training, &out, batch.targets);
    // The layers' spikes have served the loss (its regularisers); the metrics read the output
    // layer and the rates. Dropped before the backward pass, a hidden layer's `[T, B, N]`
    // spikes are freed where no operation keeps them (a dense layer keeps a sparse input as
    // its non-zeros, the checkpointed dense + LIF operation as bits).
    out.layer_spikes.clear();
    let value = loss.clone().into_scalar::<f32>();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    (optim.step(lr, model, grads), value, out)
}

/// One data-parallel training step over `devices` (autodiff devices; `model` lives on the
/// first). The batch is split into contiguous shards, one per device; each device runs a
/// replica of the model (`fork`) on its shard, with the shard's loss scaled by its share of the
/// batch, so that the gradients summed over the devices (burn's `MultiGradientsParams`, each
/// parameter accumulated on one device) are those of the whole batch: exactly for the losses
/// and the L1 regulariser, which are means over samples; batch norm and the L2 and target-rate
/// regularisers see each shard's own statistics, as in data-parallel PyTorch without
/// synchronised batch norm. Returns the model (back on the first device), the batch loss and
/// the forward pass gathered on the first device (detached, for metrics).
pub fn train_step_parallel<M: SpikingModel>(
    model: M,
    optim: &mut ModuleOptimizer,
    training: &TrainingConfig,
    lr: f64,
    batch: Batch,
    devices: &[Device],
) -> (M, f32, SnnOutput) {
    let Batch {
        input,
        targets,
        lengths,
    } = batch;
    let batch = input.batch_size();
    let shards = devices.len().min(batch).max(1);
    let main = input.device();
    let mut grads = MultiGradientsParams::default();
    let mut loss_total = 0.0f32;
    let mut outs = Vec::with_capacity(shards);
    for (i, device) in devices.iter().take(shards).enumerate() {
        let (start, end) = (batch * i / shards, batch * (i + 1) / shards);
        let share = (end - start) as f32 / batch as f32;
        let replica = model.clone().fork(device);
        let x = input.slice_batch(start..end).to_device(device);
        let y = targets.clone().slice(start..end).to_device(device);
        // The losses read the shard's lengths; its rates are not recomputed, since with
        // padding the gathered output's rates are (below).
        let mut out = replica.forward(x);
        out.lengths = lengths.as_ref().map(|l| l.slice(start..end));
        let loss = objective(training, &out, y) * share;
        loss_total += loss.clone().into_scalar::<f32>();
        let shard_grads = GradientsParams::from_grads(loss.backward(), &replica);
        grads.grads.push((shard_grads, device.clone().inner()));
        outs.push((out, share));
    }
    let model = optim.step_multi(lr, model, grads).fork(&main);
    let gather = |parts: Vec<Tensor<3>>| {
        Tensor::cat(
            parts
                .into_iter()
                .map(|t| t.detach().to_device(&main))
                .collect(),
            1,
        )
    };
    let layers = outs.first().map_or(0, |(o, _)| o.layer_spikes.len());
    let spiking = outs.first().is_none_or(|(o, _)| o.spiking);
    let out = SnnOutput {
        spikes: gather(outs.iter().map(|(o, _)| o.spikes.clone()).collect()),
        membrane: gather(outs.iter().map(|(o, _)| o.membrane.clone()).collect()),
        // Without padding, the share-weighted mean of the shards' rates; with it,
        // `with_lengths` below takes the means over the valid steps instead.
        spike_rates: match lengths {
            Some(_) => Vec::new(),
            None => (0..layers)
                .map(|l| {
                    outs.iter()
                        .map(|(o, share)| {
                            o.spike_rates[l].clone().detach().to_device(&main) * *share
                        })
                        .reduce(|a, b| a + b)
                        .unwrap_or_else(|| Tensor::zeros([1], &main))
                })
                .collect(),
        },
        layer_spikes: (0..layers)
            .map(|l| {
                gather(
                    outs.iter()
                        .map(|(o, _)| o.layer_spikes[l].clone())
                        .collect(),
                )
            })
            .collect(),
        spiking,
        lengths: None,
    };
    let out = out.with_lengths(lengths);
    (model, loss_total, out)
}
