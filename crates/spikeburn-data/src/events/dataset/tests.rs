use super::*;
use crate::events::{EventSample, EventTransform};
use rand::Rng;
use spikeburn_core::ModelInput;

fn set() -> EventSet {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let sensor = Sensor {
        width: 6,
        height: 5,
        polarities: 2,
    };
    let samples = (0..9)
        .map(|i| {
            let mut events: Vec<Event> = (0..40)
                .map(|_| Event {
                    t: rng.random_range(0..1000),
                    x: rng.random_range(0..6),
                    y: rng.random_range(0..5),
                    p: rng.random_range(0..2),
                })
                .collect();
            events.sort();
            EventSample {
                events,
                label: i % 3,
            }
        })
        .collect();
    EventSet {
        sensor,
        num_classes: 3,
        samples,
    }
}

fn values(batch: Batch) -> Vec<f32> {
    match batch.input {
        ModelInput::Sequence(x) => x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap(),
        ModelInput::Static(_) => panic!("event batches are sequences"),
    }
}

#[test]
fn batches_are_the_frames_of_each_sample_time_major() {
    let config = EventsConfig {
        frames: ToFrame::TimeBins { bins: 4 },
        ..Default::default()
    };
    let source = set();
    let data = EventDataset::new(source.clone(), &config).expect("valid");
    let got = values(data.batch(&[2, 7], &Device::flex()));
    // Independently: each sample's dense frames [T, C·H·W], interleaved as [T, B, F].
    let f = source.sensor.size();
    let a = config
        .frames
        .to_dense(&source.samples[2].events, source.sensor);
    let b = config
        .frames
        .to_dense(&source.samples[7].events, source.sensor);
    let mut expected = Vec::new();
    for t in 0..4 {
        expected.extend_from_slice(&a[t * f..(t + 1) * f]);
        expected.extend_from_slice(&b[t * f..(t + 1) * f]);
    }
    assert_eq!(got, expected);
    assert_eq!(got.iter().sum::<f32>(), 80.0);
}

#[test]
fn augmentation_repeats_with_the_stream_and_skipping_keeps_it_in_step() {
    let config = EventsConfig {
        frames: ToFrame::TimeBins { bins: 4 },
        augment: vec![
            EventTransform::DropEvent { p: 0.5 },
            EventTransform::SpatialJitter { std: 1.0 },
        ],
        ..Default::default()
    };
    let data = EventDataset::new(set(), &config).expect("valid");
    let device = Device::flex();
    let run = |skip_first: bool| {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        if skip_first {
            data.skip_batch(&[0, 1, 2], &mut rng);
        } else {
            data.train_batch(&[0, 1, 2], &mut rng, &device);
        }
        values(data.train_batch(&[4, 5], &mut rng, &device))
    };
    assert_eq!(
        run(false),
        run(true),
        "skip_batch draws what train_batch draws"
    );
    let augmented = run(false);
    let plain = values(data.batch(&[4, 5], &device));
    assert_ne!(augmented, plain, "augmentation changes the batch");
    assert!(
        augmented.iter().sum::<f32>() < plain.iter().sum::<f32>(),
        "events were dropped"
    );
}

#[test]
fn the_cache_round_trips_and_refuses_another_key() {
    let config = EventsConfig {
        frames: ToFrame::EventBins { bins: 3 },
        ..Default::default()
    };
    let data = EventDataset::new(set(), &config).expect("valid");
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = FrameCache::new(dir.path());
    let path = cache.store("key one", data.frames()).expect("store");
    assert!(path.exists());
    assert_eq!(cache.load("key one").as_ref(), Some(data.frames()));
    assert_eq!(cache.load("key two"), None);
    // A corrupt file is a miss, not an error or a panic.
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() - 3]).expect("write");
    assert_eq!(cache.load("key one"), None);
}
