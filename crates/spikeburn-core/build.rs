//! Finds the system OpenBLAS for the `openblas` feature (dense layers on the CPU backends).
//!
//! With the feature on and `pkg-config` finding `openblas`, this links it and sets the cfg
//! `spikeburn_openblas`. Without it the build still succeeds: dense layers then use burn's
//! own matrix product, and a warning says how to get OpenBLAS.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(spikeburn_openblas)");
    println!("cargo::rerun-if-env-changed=SPIKEBURN_NO_OPENBLAS");
    if std::env::var_os("CARGO_FEATURE_OPENBLAS").is_none()
        || std::env::var_os("SPIKEBURN_NO_OPENBLAS").is_some()
    {
        return;
    }
    match pkg_config::Config::new()
        .atleast_version("0.3")
        .probe("openblas")
    {
        Ok(_) => println!("cargo::rustc-cfg=spikeburn_openblas"),
        Err(e) => println!(
            "cargo::warning=OpenBLAS not found ({}); dense layers use burn's matrix product. \
             Install it for faster CPU training (Debian/Ubuntu: apt-get install libopenblas-dev).",
            e.to_string().lines().next().unwrap_or("pkg-config failed")
        ),
    }
}
