#!/usr/bin/env bash
# Sets this machine up for the whole test suite (README: "Tests"), on Debian/Ubuntu as root:
#
#   fashion-mnist  Debian's dataset-fashion-mnist      (crates/spikeburn-data/tests/fashion_mnist.rs)
#   openblas       libopenblas-dev + pkg-config         (dense layers through OpenBLAS, tests/dense.rs)
#   wgpu           mesa-vulkan-drivers + libvulkan1     (software Vulkan, so the wgpu tests run without a GPU)
#   interop        a Python venv with tests/interop/requirements.txt
#                  (nir, h5py, safetensors, torch, snntorch, norse) at $SPIKEBURN_VENV,
#                  default ~/.cache/spikeburn/venv     (crates/spikeburn-nir/tests/*interop.rs)
#
# Idempotent: what is already there is left alone. Exits non-zero, naming what failed, when
# anything could not be set up: a test that needs it would be reported ignored (or fail under
# SPIKEBURN_REQUIRE=all, as .ci/run sets it), so a failed set-up is never silent.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
apt_updated=0
apt_install() { # PACKAGE…: install, running `apt-get update` once if the first try fails
    command -v apt-get >/dev/null 2>&1 || { echo "no apt-get: install $* by hand" >&2; return 1; }
    apt-get install -y -q "$@" >/dev/null 2>&1 && return 0
    if [ "$apt_updated" = 0 ]; then
        apt_updated=1
        apt-get update -q >/dev/null 2>&1
        apt-get install -y -q "$@" >/dev/null 2>&1 && return 0
    fi
    return 1
}

if [ -d /usr/share/datasets/fashion-mnist ]; then
    echo "fashion-mnist: present (/usr/share/datasets/fashion-mnist)"
else
    echo "fashion-mnist: installing dataset-fashion-mnist"
    apt_install dataset-fashion-mnist || failed+=("fashion-mnist (apt-get install dataset-fashion-mnist)")
fi

if pkg-config --exists openblas 2>/dev/null; then
    echo "openblas: present ($(pkg-config --modversion openblas))"
else
    echo "openblas: installing libopenblas-dev pkg-config"
    apt_install libopenblas-dev pkg-config || failed+=("openblas (apt-get install libopenblas-dev pkg-config)")
fi

vulkan_ready() {
    ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q libvulkan.so.1
}
if vulkan_ready; then
    echo "wgpu: a Vulkan driver is present"
else
    echo "wgpu: installing mesa-vulkan-drivers libvulkan1 (software Vulkan: llvmpipe)"
    apt_install mesa-vulkan-drivers libvulkan1 && vulkan_ready \
        || failed+=("wgpu (apt-get install mesa-vulkan-drivers libvulkan1)")
fi

venv="${SPIKEBURN_VENV:-$HOME/.cache/spikeburn/venv}"
interop_ready() {
    "$venv/bin/python" -c "import nir, h5py, numpy, safetensors, safetensors.torch, packaging, torch, snntorch, norse" >/dev/null 2>&1
}
if interop_ready; then
    echo "interop: venv ready ($venv)"
elif ! command -v python3 >/dev/null 2>&1; then
    failed+=("interop (no python3)")
else
    echo "interop: installing tests/interop/requirements.txt into $venv (torch: a few minutes)"
    { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } \
        && "$venv/bin/python" -m pip install -q -r tests/interop/requirements.txt \
        && interop_ready \
        || failed+=("interop (pip install -r tests/interop/requirements.txt into $venv)")
fi

if [ ${#failed[@]} -gt 0 ]; then
    printf 'test set-up incomplete: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "test set-up complete: every test can run here"
