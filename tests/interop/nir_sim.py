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
    nir_sim.py export GRAPH.nir INPUT.json OUT.json --recurrent all_to_all|one_to_one
        build a 20-16-5 snnTorch network Linear-RLeaky-Linear-Leaky, export it with
        snnTorch's own `export_to_nir`, write it, and run the snnTorch network itself on
        INPUT's spikes (test 3 with recurrence).

INPUT.json: {"spikes": [T][B][F]}; OUT.json: {"spikes": [T][B][N], "importer": str} (how the
graph was turned into snnTorch modules, for `simulate --framework snntorch`).
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


def recurrent_loops(graph):
    """{lif: w} for each LIF/CubaLIF whose output comes back to it through one Affine/Linear
    node w (the pattern snnTorch's export writes for RLeaky/RSynaptic)."""
    loops = {}
    for src, dst in graph.edges:
        if (dst, src) in graph.edges and isinstance(graph.nodes[dst], (nir.LIF, nir.CubaLIF)) \
                and isinstance(graph.nodes[src], (nir.Affine, nir.Linear)):
            loops[dst] = src
    return loops


def snntorch_modules(graph):
    """The graph as a sequence of snnTorch modules, converted node by node by snnTorch's own
    `import_nir._nir_to_snntorch_module` (each recurrent loop as the four-node subgraph
    snnTorch's importer builds, which becomes an RLeaky), run in chain order.

    Needed because snnTorch 1.0's `import_from_nir` (with nirtorch 2.x) does not simulate a
    recurrent graph correctly: it wraps each loop in a nested NIRGraph whose input edge goes
    into the recurrent weight instead of the LIF (`_create_rnn_subgraph`), and nirtorch's
    `nir_to_torch` then builds that subgraph node by node (Linear, then a plain Leaky) instead
    of the RLeaky `_nir_to_snntorch_module` makes of it. With snnTorch's own node names
    (`1.lif`) nirtorch fails outright (`'GraphModule' object has no attribute 'items'`); with
    spikeburn's (`layers.1`) it silently runs that other network. The subgraph is also named
    after the LIF's name up to the first '.', so two recurrent layers would collide. Only the
    executor is replaced here: the modules (RLeaky with reset_delay=False, Leaky, Linear) and
    their parameters are snnTorch's."""
    from snntorch.import_nir import _nir_to_snntorch_module

    loops = recurrent_loops(graph)
    on_loop = set(loops.values())
    (current,) = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    modules = []
    while True:
        nxt = [d for s, d in graph.edges if s == current and d not in on_loop]
        if not nxt:
            return modules
        (current,) = nxt
        node = graph.nodes[current]
        if current in loops:
            w = loops[current]
            n = int(np.asarray(graph.nodes[w].weight).shape[0])
            node = nir.NIRGraph(
                nodes={
                    "input": nir.Input(input_type=np.array([n])),
                    "lif": node,
                    "w_rec": graph.nodes[w],
                    "output": nir.Output(output_type=np.array([n])),
                },
                edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
            )
        if not isinstance(node, nir.Output):
            modules.append(_nir_to_snntorch_module(node, init_hidden=True))


def simulate(graph, x, framework):
    outs = []
    importer = framework
    with torch.no_grad():
        if framework == "snntorch":
            from snntorch.import_nir import import_from_nir

            if recurrent_loops(graph):
                # import_from_nir gets recurrent graphs wrong: see snntorch_modules.
                net = torch.nn.Sequential(*snntorch_modules(graph))
                importer = "snntorch.import_nir._nir_to_snntorch_module per node, in chain order"
            else:
                net = import_from_nir(graph)
                importer = "snntorch.import_nir.import_from_nir"
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
    return torch.stack(outs).numpy(), importer


def snntorch_rleaky(recurrent, seed=7):
    """20-16-5: Linear, RLeaky (all-to-all or one-to-one, β 0.9), Linear, Leaky (β 0.8).

    Zero reset and reset_delay=False: that is the RLeaky snnTorch's NIR importer builds and
    the one NIR's LIF describes. (With the default reset_delay=True, RLeaky's zero reset
    also drops the input of the step after a spike, U[t] = (1-R)(βU + X + V(S)); Leaky's does
    not.) The Leaky layer's β and θ are per-neuron tensors because snnTorch 1.0's exporter
    writes scalar ones with shape [], which fails its own type inference."""
    import snntorch as snn

    torch.manual_seed(seed)
    fc1 = torch.nn.Linear(20, 16)
    fc2 = torch.nn.Linear(16, 5)
    with torch.no_grad():
        fc1.weight.mul_(2.0)
        fc2.weight.mul_(3.0)
    common = dict(reset_mechanism="zero", reset_delay=False, init_hidden=True)
    if recurrent == "all_to_all":
        rlif = snn.RLeaky(beta=0.9, linear_features=16, **common)
        with torch.no_grad():
            rlif.recurrent.weight.uniform_(-0.5, 0.5)
            rlif.recurrent.bias.uniform_(-0.3, 0.3)
    else:
        v = torch.empty(16).uniform_(-0.8, 0.8)
        rlif = snn.RLeaky(beta=0.9, all_to_all=False, V=v, **common)
    lif = snn.Leaky(beta=torch.full((5,), 0.8), threshold=torch.ones(5), **common)
    return torch.nn.Sequential(fc1, rlif, fc2, lif)


def export_snntorch(path, x, recurrent):
    from snntorch.export_nir import export_to_nir

    net = snntorch_rleaky(recurrent)
    graph = export_to_nir(net, torch.zeros(1, 20), ignore_dims=[0])
    nir.write(path, graph)
    outs = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            outs.append(net(x[t]))
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
    if cmd == "export":
        recurrent = argv[argv.index("--recurrent") + 1] if "--recurrent" in argv else "all_to_all"
        spikes = export_snntorch(argv[1], load_input(argv[2]), recurrent)
        with open(argv[3], "w") as f:
            json.dump({"spikes": spikes.tolist(), "importer": "none"}, f)
        return
    if cmd == "simulate":
        g = nir.read(argv[1])
    elif cmd == "make":
        g = make(framework)
        nir.write(argv[1], g)
        g = nir.read(argv[1])
    else:
        raise SystemExit(f"unknown command {cmd}")
    spikes, importer = simulate(g, load_input(argv[2]), framework)
    with open(argv[3], "w") as f:
        json.dump({"spikes": spikes.tolist(), "importer": importer}, f)


if __name__ == "__main__":
    main(sys.argv[1:])
