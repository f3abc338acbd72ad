//! Shuffling and batching of an [`ImageDataset`] into tensors.

use crate::dataset::ImageDataset;
use burn::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// A batch ready for the network: images `[B, rows·cols]` scaled to `[0, 1]` (pixel / 255),
/// and class indices `[B]`.
#[derive(Clone, Debug)]
pub struct ImageBatch {
    /// Pixel intensities in `[0, 1]`, `[B, rows·cols]`.
    pub images: Tensor<2>,
    /// Class indices, `[B]`.
    pub targets: Tensor<1, Int>,
}

/// The order in which epoch `epoch` visits `len` samples: a permutation drawn from
/// ChaCha8 seeded with `seed`, on stream `epoch`. It depends on nothing but its arguments,
/// so an interrupted run resumes with exactly the order it would have had.
pub fn epoch_order(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch);
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut rng);
    order
}

/// Builds the batch of the samples `indices` on `device`.
pub fn make_batch(data: &ImageDataset, indices: &[usize], device: &Device) -> ImageBatch {
    let size = data.image_size();
    let mut pixels = Vec::with_capacity(indices.len() * size);
    let mut labels = Vec::with_capacity(indices.len());
    for &i in indices {
        pixels.extend(data.image(i).iter().map(|&p| f32::from(p) / 255.0));
        labels.push(i64::from(data.labels[i]));
    }
    let b = indices.len();
    ImageBatch {
        images: Tensor::from_data(TensorData::new(pixels, [b, size]), device),
        targets: Tensor::from_data(TensorData::new(labels, [b]), device),
    }
}

/// Builds the batch of the samples `indices` like [`make_batch`], each image translated by a
/// random offset `(dy, dx)` with `|dy|, |dx| ≤ max_shift` pixels (uniform, drawn from `rng`),
/// the uncovered border filled with zeros: the usual shift augmentation for digit images.
pub fn make_shifted_batch(
    data: &ImageDataset,
    indices: &[usize],
    max_shift: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> ImageBatch {
    make_augmented_batch(data, indices, max_shift, false, rng, device)
}

/// The random draws of one image's augmentation, in the order [`make_augmented_batch`] makes
/// them: the offset `(dy, dx)`, each uniform in `−max_shift ..= max_shift`, then, when `flip`,
/// whether it is mirrored (probability ½).
fn draw_augmentation(max_shift: usize, flip: bool, rng: &mut ChaCha8Rng) -> (isize, isize, bool) {
    use rand::Rng;
    let shift = max_shift as isize;
    let dy = rng.random_range(0..=2 * shift as i64) as isize - shift;
    let dx = rng.random_range(0..=2 * shift as i64) as isize - shift;
    (dy, dx, flip && rng.random_bool(0.5))
}

/// Advances `rng` past the augmentation of `images` images exactly as
/// [`make_augmented_batch`] would, without building the batch: how a run resumed in the
/// middle of an epoch reaches the position of the interrupted run's augmentation stream.
pub fn skip_augmentation(images: usize, max_shift: usize, flip: bool, rng: &mut ChaCha8Rng) {
    for _ in 0..images {
        draw_augmentation(max_shift, flip, rng);
    }
}

/// [`make_shifted_batch`] with, when `flip`, each image also mirrored left–right with
/// probability ½ (drawn from `rng` after its offset): the usual augmentation for clothing
/// images (Fashion-MNIST), not for digits. Without `flip` the draws, and so the batches, are
/// those of [`make_shifted_batch`].
pub fn make_augmented_batch(
    data: &ImageDataset,
    indices: &[usize],
    max_shift: usize,
    flip: bool,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> ImageBatch {
    let (rows, cols) = (data.rows, data.cols);
    let size = data.image_size();
    let mut pixels = vec![0.0f32; indices.len() * size];
    let mut labels = Vec::with_capacity(indices.len());
    for (out, &i) in pixels.chunks_exact_mut(size.max(1)).zip(indices) {
        let (dy, dx, mirrored) = draw_augmentation(max_shift, flip, rng);
        let image = data.image(i);
        // Channel-major images [C, rows, cols]: every channel moves the same way.
        for (plane_out, plane_in) in out
            .chunks_exact_mut((rows * cols).max(1))
            .zip(image.chunks_exact((rows * cols).max(1)))
        {
            for r in 0..rows as isize {
                let src_r = r - dy;
                if !(0..rows as isize).contains(&src_r) {
                    continue;
                }
                for c in 0..cols as isize {
                    // The mirror comes first, then the translation.
                    let src_c = c - dx;
                    if (0..cols as isize).contains(&src_c) {
                        let src_c = if mirrored {
                            cols - 1 - src_c as usize
                        } else {
                            src_c as usize
                        };
                        plane_out[(r as usize) * cols + c as usize] =
                            f32::from(plane_in[(src_r as usize) * cols + src_c]) / 255.0;
                    }
                }
            }
        }
        labels.push(i64::from(data.labels[i]));
    }
    let b = indices.len();
    ImageBatch {
        images: Tensor::from_data(TensorData::new(pixels, [b, size]), device),
        targets: Tensor::from_data(TensorData::new(labels, [b]), device),
    }
}

/// Iterates over `data` in batches of `batch_size` samples, in `order`. With `drop_last`,
/// a final incomplete batch is skipped (as for training); otherwise it is yielded.
pub fn batches<'a>(
    data: &'a ImageDataset,
    order: &'a [usize],
    batch_size: usize,
    drop_last: bool,
    device: &'a Device,
) -> impl Iterator<Item = ImageBatch> + 'a {
    order
        .chunks(batch_size.max(1))
        .filter(move |c| !drop_last || c.len() == batch_size)
        .map(move |c| make_batch(data, c, device))
}

/// Number of batches [`batches`] yields.
pub fn num_batches(len: usize, batch_size: usize, drop_last: bool) -> usize {
    let batch_size = batch_size.max(1);
    if drop_last {
        len / batch_size
    } else {
        len.div_ceil(batch_size)
    }
}
