"""Simulate NIR graphs with snnTorch or Norse, for spikeburn's export/import interop tests.

    nir_sim.py describe GRAPH.nir OUT.json
        nir.read the graph; write {"types": {name: type}, "params": {name: {param: list}},
        "edges": [[src, dst]], "metadata": {...}} (test 1).
    nir_sim.py simulate GRAPH.nir INPUT.json OUT.json --framework snntorch|norse
        import the graph with snnTorch `import_from_nir` or Norse `from_nir` (dt from the
        graph's metadata/dt) and run it on INPUT's spikes (test 2).
    nir_sim.py make GRAPH.nir INPUT.json OUT.json --framework snntorch|norse
        build an Input-Affine-LIF-Affine-LIF-Output graph with the `nir` API in that
        framework's parameter convention, write it, and simulate it as above (test 3).

INPUT.json: {"spikes": [T][B][F]}; OUT.json: {"spikes": [T][B][N]}.
"""
import json
import sys

import numpy as np
import nir
import torch


def load_input(path):
    with open(path) as f:
        return torch.tensor(np.array(json.load(f)["spikes"], dtype=np.float32))


def meta_dt(graph, default):
    dt = (graph.metadata or {}).get("dt", default)
    return float(np.asarray(dt))


def simulate(graph, x, framework):
    outs = []
    with torch.no_grad():
        if framework == "snntorch":
            from snntorch.import_nir import import_from_nir

            net = import_from_nir(graph)
            for t in range(x.shape[0]):
                y = net(x[t])
                if isinstance(y, tuple):
                    y = y[0]
                outs.append(y)
        else:
            import norse.torch

            net = norse.torch.from_nir(graph, dt=meta_dt(graph, 1e-3))
            state = None
            for t in range(x.shape[0]):
                y, state = net(x[t], state)
                outs.append(y)
    return torch.stack(outs).numpy()


def make(framework, seed=7):
    rng = np.random.default_rng(seed)
    sizes = [20, 16, 5]
    nodes = {"input": nir.Input(input_type=np.array([20]))}
    edges = []
    prev = "input"
    if framework == "snntorch":
        dt, betas, scale = 1e-4, [0.9, 0.8], 1.0
    else:
        dt, betas, scale = 1e-3, [0.8, 0.7], 4.0
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        w = rng.uniform(-1, 1, (n_out, n_in)).astype(np.float32) * scale * 0.6
        b = rng.uniform(-0.1, 0.1, n_out).astype(np.float32) * scale
        tau = np.full(n_out, dt / (1 - betas[i]), dtype=np.float32)
        # snnTorch: r = tau/dt (input gain 1); Norse ignores r, its gain is dt/tau.
        r = tau / dt if framework == "snntorch" else np.ones(n_out, dtype=np.float32)
        nodes[f"fc{i}"] = nir.Affine(weight=w, bias=b)
        nodes[f"lif{i}"] = nir.LIF(
            tau=tau,
            r=r.astype(np.float32),
            v_leak=np.zeros(n_out, dtype=np.float32),
            v_threshold=np.full(n_out, 1.0 if i == 0 else 0.8, dtype=np.float32),
            v_reset=np.zeros(n_out, dtype=np.float32),
        )
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["output"] = nir.Output(output_type=np.array([sizes[-1]]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": dt})


def tolist(v):
    return np.asarray(v).tolist()


def main(argv):
    cmd = argv[0]
    framework = argv[argv.index("--framework") + 1] if "--framework" in argv else "snntorch"
    if cmd == "describe":
        g = nir.read(argv[1])
        out = {
            "types": {k: type(n).__name__ for k, n in g.nodes.items()},
            "params": {
                k: {p: tolist(v) for p, v in vars(n).items() if isinstance(v, np.ndarray)}
                for k, n in g.nodes.items()
            },
            "edges": [list(e) for e in g.edges],
            "metadata": {k: tolist(v) for k, v in (g.metadata or {}).items()},
        }
        with open(argv[2], "w") as f:
            json.dump(out, f)
        return
    if cmd == "simulate":
        g = nir.read(argv[1])
    elif cmd == "make":
        g = make(framework)
        nir.write(argv[1], g)
        g = nir.read(argv[1])
    else:
        raise SystemExit(f"unknown command {cmd}")
    spikes = simulate(g, load_input(argv[2]), framework)
    with open(argv[3], "w") as f:
        json.dump({"spikes": spikes.tolist()}, f)


if __name__ == "__main__":
    main(sys.argv[1:])
