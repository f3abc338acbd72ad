//! Batching: shift augmentation translates each image by a bounded, seeded offset.

use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use spikeburn_data::{
    ImageDataset, batches, make_augmented_batch, make_batch, make_shifted_batch, num_batches,
    skip_augmentation,
};

fn dataset() -> ImageDataset {
    // Four 6×5 images with distinct pixel values (1..=255).
    let (rows, cols, n) = (6, 5, 4);
    let pixels = (0..n * rows * cols).map(|i| (i % 255 + 1) as u8).collect();
    ImageDataset {
        pixels,
        labels: vec![0, 1, 2, 3],
        rows,
        cols,
        num_classes: 4,
    }
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32")
}

/// The image `src` translated by `(dy, dx)`, zero-filled.
fn translated(src: &[f32], rows: usize, cols: usize, dy: isize, dx: isize) -> Vec<f32> {
    let mut out = vec![0.0; rows * cols];
    for r in 0..rows as isize {
        for c in 0..cols as isize {
            let (sr, sc) = (r - dy, c - dx);
            if (0..rows as isize).contains(&sr) && (0..cols as isize).contains(&sc) {
                out[r as usize * cols + c as usize] = src[sr as usize * cols + sc as usize];
            }
        }
    }
    out
}

#[test]
fn shifted_batches_are_bounded_translations_and_seeded() {
    let data = dataset();
    let dev = Device::flex();
    let indices = [3, 0, 2, 1];
    let plain = values(make_batch(&data, &indices, &dev).images);
    let size = data.image_size();
    for max_shift in [0usize, 1, 2] {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let batch = make_shifted_batch(&data, &indices, max_shift, &mut rng, &dev);
        let shifted = values(batch.images);
        let labels = batch
            .targets
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("i64");
        assert_eq!(labels, vec![3, 0, 2, 1]);
        let k = max_shift as isize;
        let mut moved = 0;
        for (img, src) in shifted.chunks(size).zip(plain.chunks(size)) {
            let offset = (-k..=k)
                .flat_map(|dy| (-k..=k).map(move |dx| (dy, dx)))
                .find(|&(dy, dx)| translated(src, data.rows, data.cols, dy, dx) == img);
            let (dy, dx) = offset.unwrap_or_else(|| {
                panic!("max_shift {max_shift}: an image is no translation within range")
            });
            moved += usize::from((dy, dx) != (0, 0));
        }
        if max_shift == 0 {
            assert_eq!(shifted, plain);
        } else {
            assert!(moved > 0, "max_shift {max_shift}: no image moved");
        }
        // The same seed gives the same batch.
        let mut again = ChaCha8Rng::seed_from_u64(7);
        let repeat = make_shifted_batch(&data, &indices, max_shift, &mut again, &dev);
        assert_eq!(values(repeat.images), shifted);
    }
}

#[test]
fn flipped_batches_mirror_some_images_and_leave_the_rest() {
    let data = dataset();
    let dev = Device::flex();
    let indices = [3, 0, 2, 1, 3, 0, 2, 1, 3, 0, 2, 1];
    let plain = values(make_batch(&data, &indices, &dev).images);
    let size = data.image_size();
    let mirror = |img: &[f32]| -> Vec<f32> {
        img.chunks(data.cols)
            .flat_map(|row| row.iter().rev().copied())
            .collect()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let flipped = values(make_augmented_batch(&data, &indices, 0, true, &mut rng, &dev).images);
    let mut mirrored = 0;
    for (img, src) in flipped.chunks(size).zip(plain.chunks(size)) {
        if img != src {
            assert_eq!(
                img,
                mirror(src),
                "an image is neither itself nor its mirror"
            );
            mirrored += 1;
        }
    }
    assert!(
        mirrored > 0 && mirrored < indices.len(),
        "{mirrored} of {} mirrored",
        indices.len()
    );
    // Without flips the batch is the shifted batch of the same seed.
    let mut a = ChaCha8Rng::seed_from_u64(5);
    let mut b = ChaCha8Rng::seed_from_u64(5);
    assert_eq!(
        values(make_augmented_batch(&data, &indices, 2, false, &mut a, &dev).images),
        values(make_shifted_batch(&data, &indices, 2, &mut b, &dev).images)
    );
}

/// `skip_augmentation` leaves the generator where building the augmented batch leaves it: the
/// next draw of both is the same, and differs from a generator that skipped one image fewer.
#[test]
fn skipping_the_augmentation_of_a_batch_reaches_the_same_stream_position() {
    use rand::Rng;
    let data = dataset();
    let dev = Device::flex();
    let indices = [1, 2, 3];
    for (max_shift, flip) in [(2, false), (1, true), (0, true)] {
        let mut built = ChaCha8Rng::seed_from_u64(3);
        make_augmented_batch(&data, &indices, max_shift, flip, &mut built, &dev);
        let mut skipped = ChaCha8Rng::seed_from_u64(3);
        skip_augmentation(indices.len(), max_shift, flip, &mut skipped);
        let mut short = ChaCha8Rng::seed_from_u64(3);
        skip_augmentation(indices.len() - 1, max_shift, flip, &mut short);
        let next = built.random::<u64>();
        assert_eq!(
            next,
            skipped.random::<u64>(),
            "shift {max_shift}, flip {flip}"
        );
        assert_ne!(
            next,
            short.random::<u64>(),
            "shift {max_shift}, flip {flip}"
        );
    }
}

/// Ten samples in batches of three, counted by hand: three full batches and a last one of
/// one sample, which `drop_last` leaves out.
#[test]
fn batches_and_their_count_follow_drop_last() {
    assert_eq!(num_batches(10, 3, true), 3);
    assert_eq!(num_batches(10, 3, false), 4);
    assert_eq!(num_batches(9, 3, true), 3);
    assert_eq!(num_batches(9, 3, false), 3);
    assert_eq!(num_batches(2, 3, true), 0);
    assert_eq!(num_batches(2, 3, false), 1);
    assert_eq!(num_batches(7, 1, true), 7);

    let data = dataset();
    let dev = Device::flex();
    let order = [3, 1, 0, 2, 3];
    let labels = |drop_last| -> Vec<Vec<i64>> {
        batches(&data, &order, 2, drop_last, &dev)
            .map(|b| {
                b.targets
                    .into_data()
                    .convert::<i64>()
                    .try_into_vec::<i64>()
                    .expect("i64")
            })
            .collect()
    };
    assert_eq!(labels(true), vec![vec![3, 1], vec![0, 2]]);
    assert_eq!(labels(false), vec![vec![3, 1], vec![0, 2], vec![3]]);
    assert_eq!(labels(true).len(), num_batches(order.len(), 2, true));
    assert_eq!(labels(false).len(), num_batches(order.len(), 2, false));
}
