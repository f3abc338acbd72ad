//! # spikeburn-research
//!
//! Tools for studying spiking networks, built on the training loop of spikeburn-train:
//!
//! - [`sweep`]: hyper-parameter grids over the experiment configuration, run (resumably,
//!   in shards across machines) and reported as CSV, markdown tables and figures.
//! - [`diagnose`]: per-layer gradient statistics, surrogate-gradient comparisons and spike
//!   activity of a trained or freshly initialised network.
//! - [`plot`]: training curves and spike activity of a run folder as figures.
//!
//! Figures are drawn by spikeburn-figures, which does not depend on burn.

#![warn(missing_docs)]

pub mod diagnose;
pub mod plot;
pub mod sweep;
