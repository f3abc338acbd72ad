//! snnTorch's tutorial 5 (a 784-1000-10 network of leaky integrate-and-fire neurons trained
//! on MNIST by backpropagation through time) written in code: a `#[derive(Module)]` struct
//! of burn layers and spikeburn neurons, trained by the project's loop (`fit`) with progress,
//! metrics, checkpoints and evaluation. The same network as `spikeburn train --preset
//! mnist-mlp`, and the same accuracy (one epoch, about 93 %).
//!
//! `cargo run --release --example tutorial5 [-- OUT_DIR]` (default `runs/tutorial5`).

use spikeburn::core::layers::linear_over_time;
use spikeburn::prelude::*;

/// Time steps the image is presented for.
const STEPS: usize = 25;

#[derive(Module, Debug)]
struct Net {
    fc1: Linear,
    lif1: Lif,
    fc2: Linear,
    lif2: Lif,
}

impl Net {
    fn new(device: &Device) -> Self {
        let lif = LifConfig::new().with_beta(0.95); // snn.Leaky(beta=0.95)
        Net {
            fc1: LinearConfig::new(784, 1000).init(device),
            lif1: lif.init(1000, device),
            fc2: LinearConfig::new(1000, 10).init(device),
            lif2: lif.init(10, device),
        }
    }
}

impl SpikingModel for Net {
    fn forward(&self, input: ModelInput) -> SnnOutput {
        let spk1 = match input {
            // The image is the same at every step: fc1 runs once, lif1 integrates it T times.
            ModelInput::Static(x) => {
                let cur1 = self.fc1.forward(x); // [B, 1000]
                self.lif1.forward_constant(cur1, STEPS, false).spikes
            }
            ModelInput::Sequence(x) => self.lif1.forward(linear_over_time(&self.fc1, x)),
        }; // [T, B, 1000]
        let out = self
            .lif2
            .forward_with_membrane(linear_over_time(&self.fc2, spk1.clone()));
        SnnOutput::from_layers(vec![spk1, out.spikes], out.membrane.expect("kept"))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    spikeburn::train::runtime::tune_allocator();
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "runs/tutorial5".into());
    let mnist = DatasetKind::Mnist;
    let (train, test) = ImageDataset::load_train_test(mnist, &mnist.default_dir())?;
    // One epoch of Adam (lr 5e-4, batch 128) on the cross-entropy of the output membrane.
    let settings = TrainingConfig::default();
    let net = Net::new(&Device::flex());
    let mut console = Console::default();
    let outcome = fit(net, &train, &test, &settings, out.as_ref(), &mut console)?;
    let last = outcome.epochs.last().expect("one epoch");
    println!(
        "test accuracy {:.2}%, run folder {out}",
        100.0 * last.test_accuracy
    );
    Ok(())
}
