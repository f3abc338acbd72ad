//! The host side shared by the CPU kernels (burn-flex, burn-ndarray; which devices they run on
//! is [`super::on_cpu`]): tensors read to and written from host buffers.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

use burn::backend::ndarray::NdArrayTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, NdArray, read_sync};
use burn::prelude::*;
use std::borrow::Cow;

/// A tensor's data on the host as `f32`, without a copy where the backend can hand over its
/// buffer (burn-flex does for a uniquely owned contiguous tensor).
#[derive(Clone, Debug)]
pub(crate) struct Host(TensorData);

impl Host {
    pub(crate) fn new<B: Backend>(t: FloatTensor<B>) -> Self {
        let data = read_sync(B::float_into_data(t)).expect("reading a CPU tensor cannot fail");
        Self(data.convert::<f32>())
    }

    /// No data (a placeholder for a buffer no longer needed).
    pub(crate) fn empty() -> Self {
        Self(TensorData::new(Vec::<f32>::new(), [0]))
    }

    pub(crate) fn dims(&self) -> Vec<usize> {
        self.0.shape().to_vec()
    }

    pub(crate) fn values(&self) -> &[f32] {
        self.0
            .as_slice::<f32>()
            .expect("converted to f32 in Host::new")
    }

    /// The values, to overwrite in place (no copy: the buffer is this value's own).
    pub(crate) fn values_mut(&mut self) -> &mut [f32] {
        self.0
            .as_mut_slice::<f32>()
            .expect("converted to f32 in Host::new")
    }

    /// The buffer as a tensor of `B` on `device`, of this value's shape (no copy on the CPU
    /// backends).
    pub(crate) fn into_tensor<B: Backend>(self, device: &B::Device) -> FloatTensor<B> {
        B::float_from_data(self.0, device)
    }

    /// The values as an owned buffer: no copy where the backend allocated the buffer as a
    /// `Vec<f32>` would be (burn-flex aligns some of its buffers to more than 4 bytes, which
    /// costs a copy here; [`values_mut`](Self::values_mut) never copies).
    pub(crate) fn into_values(self) -> Vec<f32> {
        self.0
            .try_into_vec::<f32>()
            .expect("converted to f32 in Host::new")
    }
}

/// A host buffer as a tensor of `B` on `device`.
pub(crate) fn from_host<B: Backend>(
    values: Vec<f32>,
    dims: &[usize],
    device: &B::Device,
) -> FloatTensor<B> {
    B::float_from_data(TensorData::new(values, dims.to_vec()), device)
}

/// A CPU backend whose float tensors can be read in place: the hand-written CPU operations
/// read the backend's own buffer, without the copy of `into_data` (for the weight of a
/// `Linear(8192, 8192)`, 256 MB per pass), and keep tensors shared with the autodiff graph
/// without copying them.
pub trait HostBuffer: Backend {
    /// The values of `t`, row-major `f32`: borrowed where the tensor's buffer already is
    /// that, else a copy.
    fn values(t: &FloatTensor<Self>) -> Cow<'_, [f32]>;
}

impl HostBuffer for Flex {
    fn values(t: &FloatTensor<Self>) -> Cow<'_, [f32]> {
        match t.as_slice::<f32>() {
            Some(values) => Cow::Borrowed(values),
            None => Cow::Owned(Host::new::<Self>(t.clone()).into_values()),
        }
    }
}

impl HostBuffer for NdArray {
    fn values(t: &FloatTensor<Self>) -> Cow<'_, [f32]> {
        if let NdArrayTensor::F32(storage) = t
            && let Some(values) = storage.view().to_slice()
        {
            return Cow::Borrowed(values);
        }
        Cow::Owned(Host::new::<Self>(t.clone()).into_values())
    }
}
