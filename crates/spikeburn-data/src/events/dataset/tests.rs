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

#[test]
fn variable_length_frames_are_padded_per_batch_and_carry_the_lengths() {
    // Time windows of 100 µs: sample lengths follow each recording's span.
    let sensor = Sensor {
        width: 2,
        height: 1,
        polarities: 1,
    };
    let at = |t: u64, x: u16| Event { t, x, y: 0, p: 0 };
    let samples = vec![
        // Spans 0..=250 µs: frames 0, 1, 2 → 3 steps.
        EventSample {
            events: vec![at(0, 0), at(120, 1), at(250, 1)],
            label: 1,
        },
        // One event: 1 step.
        EventSample {
            events: vec![at(40, 1)],
            label: 0,
        },
        // Spans 900 µs: 10 frames, cut to steps = 6.
        EventSample {
            events: vec![at(0, 1), at(450, 0), at(900, 0)],
            label: 1,
        },
    ];
    let source = EventSet {
        sensor,
        num_classes: 2,
        samples,
    };
    let config = EventsConfig {
        frames: ToFrame::TimeWindow { window_us: 100 },
        steps: Some(6),
        variable_length: true,
        ..Default::default()
    };
    let data = EventDataset::new(source, &config).expect("valid");
    let device = Device::flex();
    let batch = data.batch(&[1, 0], &device);
    assert_eq!(
        batch.lengths.as_ref().map(|l| l.as_slice().to_vec()),
        Some(vec![1, 3])
    );
    // [T = 3, B = 2, F = 2]: sample 1 (one event at x = 1, t = 0), then sample 0.
    assert_eq!(
        values(batch),
        [
            0.0, 1.0, 1.0, 0.0, // t = 0
            0.0, 0.0, 0.0, 1.0, // t = 1: sample 1 padded
            0.0, 0.0, 0.0, 1.0, // t = 2
        ]
    );
    let batch = data.batch(&[2], &device);
    assert_eq!(
        batch.lengths.as_ref().map(|l| l.as_slice().to_vec()),
        Some(vec![6])
    );
    // Event at 450 µs lands in frame 4; the one at 900 µs is past the 6 steps.
    assert_eq!(
        values(batch),
        [0., 1., 0., 0., 0., 0., 0., 0., 1., 0., 0., 0.]
    );
    // Fixed length (the default): every batch has the 6 steps and no lengths.
    let fixed = EventsConfig {
        variable_length: false,
        ..config
    };
    let data = EventDataset::new(
        EventSet {
            sensor,
            num_classes: 2,
            samples: vec![EventSample {
                events: vec![at(40, 1)],
                label: 0,
            }],
        },
        &fixed,
    )
    .expect("valid");
    let batch = data.batch(&[0], &device);
    assert!(batch.lengths.is_none());
    assert_eq!(batch.input.steps(), Some(6));
}
