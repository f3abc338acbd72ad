"""Python side of spikeburn-nir's interop tests (crates/spikeburn-nir/tests/interop.rs).

Usage:
  nir_check.py read FILE          nir.read(FILE), print the graph as JSON
  nir_check.py write KIND FILE    build graph KIND (mlp | cuba | conv | recurrent) with the nir
                                  API, nir.write it to FILE (gzip, chunked), print it as JSON
  nir_check.py st-read FILE       safetensors.numpy.load_file(FILE), print tensors as JSON
  nir_check.py st-write FILE      safetensors.numpy.save_file of a few tensors, print them

Graph JSON: {"version": str|null, "edges": [[src, dst], ...], "metadata": {...},
             "nodes": {name: {"type": str, field: value, ..., "metadata": {...}}}}
with every array as {"shape": [...], "data": [flat values]} and scalars as 0-d arrays.
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402


def enc(v):
    if isinstance(v, dict):
        return {str(k): enc(x) for k, x in v.items()}
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf8")
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v) and v:
        return [enc(x) for x in v]
    if v is None:
        return None
    a = np.asarray(v)
    if a.dtype.kind in "OSU":
        return {"shape": list(a.shape), "data": [enc(x) for x in a.reshape(-1).tolist()]}
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    if a.dtype.kind in "iu":
        return {"shape": list(a.shape), "data": [int(x) for x in a.reshape(-1)]}
    return {"shape": list(a.shape), "data": [float(x) for x in a.reshape(-1)]}


def graph_json(g, version=None):
    nodes = {}
    for name, node in g.nodes.items():
        d = node.to_dict()
        if type(node).__name__ == "NIRGraph":
            d = graph_json(node)
            d["type"] = "NIRGraph"
        else:
            d = {k: enc(v) for k, v in d.items() if k not in ("input_type", "output_type")}
            # Flatten keeps its input shape in input_type; the file stores it under that name.
            if type(node).__name__ == "Flatten" and node.input_type is not None:
                it = node.input_type.get("input")
                if it is not None:
                    d["input_type"] = enc(np.asarray(it))
        nodes[name] = d
    return {
        "version": version,
        "edges": [[a, b] for a, b in g.edges],
        "metadata": enc(g.metadata or {}),
        "nodes": nodes,
    }


def rng_array(shape, seed):
    r = np.random.default_rng(seed)
    return r.standard_normal(shape).astype(np.float32)


def build(kind):
    import nir

    dt = 1e-4
    if kind == "mlp":
        beta1 = np.full(4, 0.9, np.float32)
        beta2 = np.array([0.8, 0.85, 0.95], np.float32)
        tau1 = dt / (1 - beta1)
        tau2 = dt / (1 - beta2)
        g = nir.NIRGraph.from_list(
            nir.Input(np.array([5])),
            nir.Affine(rng_array((4, 5), 1), rng_array((4,), 2)),
            nir.LIF(tau=tau1, r=tau1 / dt, v_leak=np.zeros(4, np.float32),
                    v_threshold=np.ones(4, np.float32), v_reset=np.zeros(4, np.float32)),
            nir.Affine(rng_array((3, 4), 3), rng_array((3,), 4)),
            nir.LIF(tau=tau2, r=tau2 / dt, v_leak=np.zeros(3, np.float32),
                    v_threshold=np.full(3, 0.5, np.float32), v_reset=np.zeros(3, np.float32)),
            nir.Output(np.array([3])),
        )
        g.metadata = {"dt": dt, "source": "nir_check.py"}
        return g
    if kind == "cuba":
        n = 6
        alpha, beta = 0.7, 0.9
        tau_syn = np.full(n, dt / (1 - alpha), np.float32)
        tau_mem = np.full(n, dt / (1 - beta), np.float32)
        return nir.NIRGraph.from_list(
            nir.Input(np.array([3])),
            nir.Linear(rng_array((n, 3), 5)),
            nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt,
                        v_leak=np.zeros(n, np.float32), v_threshold=np.ones(n, np.float32),
                        v_reset=np.zeros(n, np.float32), w_in=tau_syn / dt),
            nir.Affine(rng_array((2, n), 6), rng_array((2,), 7)),
            nir.LI(tau=np.full(2, 2e-3, np.float32), r=np.full(2, 20.0, np.float32),
                   v_leak=np.zeros(2, np.float32)),
            nir.Output(np.array([2])),
        )
    if kind == "conv":
        lif_shape = (4, 4, 4)
        tau = np.full(lif_shape, 2e-3, np.float32)
        return nir.NIRGraph.from_list(
            nir.Input(np.array([2, 8, 8])),
            nir.Conv2d(input_shape=(8, 8), weight=rng_array((4, 2, 3, 3), 8), stride=1,
                       padding=1, dilation=1, groups=1, bias=rng_array((4,), 9)),
            nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                          padding=np.array([0, 0])),
            nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(lif_shape, np.float32),
                    v_threshold=np.ones(lif_shape, np.float32),
                    v_reset=np.zeros(lif_shape, np.float32)),
            nir.Flatten(input_type={"input": np.array([4, 4, 4])}, start_dim=0, end_dim=-1),
            nir.Affine(rng_array((10, 64), 10), rng_array((10,), 11)),
            nir.IF(r=np.ones(10, np.float32), v_threshold=np.ones(10, np.float32),
                   v_reset=np.zeros(10, np.float32)),
            nir.Output(np.array([10])),
        )
    if kind == "recurrent":
        n = 4
        tau = np.full(n, 1e-3, np.float32)
        nodes = {
            "input": nir.Input(np.array([3])),
            "fc": nir.Affine(rng_array((n, 3), 12), rng_array((n,), 13)),
            "lif": nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(n, np.float32),
                           v_threshold=np.ones(n, np.float32), v_reset=np.zeros(n, np.float32)),
            "rec": nir.Linear(rng_array((n, n), 14)),
            "output": nir.Output(np.array([n])),
        }
        edges = [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"),
                 ("lif", "output")]
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": dt})
    raise SystemExit(f"unknown graph kind {kind!r}")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "read":
        import nir

        g = nir.read(argv[2])
        from nir.serialization import read_version

        out = graph_json(g, read_version(argv[2]))
    elif cmd == "write":
        import nir

        g = build(argv[2])
        nir.write(argv[3], g)
        out = graph_json(g, nir.version)
    elif cmd == "st-read":
        from safetensors.numpy import load_file

        out = {k: {"dtype": str(v.dtype), **enc(v)} for k, v in load_file(argv[2]).items()}
    elif cmd == "st-write":
        from safetensors.numpy import save_file

        tensors = {
            "layers.0.weight": rng_array((4, 5), 20),
            "layers.0.bias": rng_array((4,), 21),
            "beta": np.array(0.9, np.float32),
            "as_f64": np.arange(6, dtype=np.float64).reshape(2, 3) / 7,
        }
        save_file(tensors, argv[2], metadata={"format": "pt", "dt": "0.001"})
        out = {k: enc(v) for k, v in tensors.items()}
    else:
        raise SystemExit(__doc__)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
