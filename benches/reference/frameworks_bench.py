#!/usr/bin/env python3
"""Reference timings of two SNN workloads in four Python SNN frameworks.

Frameworks: snnTorch, SpikingJelly, Norse (all on PyTorch, CPU) and Spyx (JAX, CPU).

Workloads
---------
``train_step``  snnTorch tutorial-5 MLP: Linear(784, 1000) -> LIF -> Linear(1000, 10) -> LIF,
                T = 25 steps, batch 128, a random static image batch [128, 784] (uniform
                0..1) fed at every step, loss = sum over steps of cross-entropy on the output
                membrane, Adam lr 5e-4. Timed: forward + backward + optimizer step.
``lif_layer``   Open Neuromorphic benchmark shape: Linear(N, N) -> LIF over a random input
                [T = 100, B = 16, N] (uniform 0..1); forward over all T steps, then backward
                of sum(output spikes) (no optimizer). N in {512, 2048, 8192}.

Every result line also has ``peak_mib``, the worker process's resident high-water mark at the
end of the case (each framework runs in its own process, so one ``lif_layer`` size and length per
call measures that case's peak memory; ``compare.sh`` does so at T = 100, 500, 1000).

Times are in ms per iteration: median (and mean, min) over ``--steps`` timed iterations
after ``--warmup`` untimed ones (for Spyx the warm-up includes the jit compilation, and
every timed call ends with ``block_until_ready()``).

By default each framework runs in its own child process (same interpreter, this same
file with a hidden ``--_worker`` flag), so that one framework's thread pools, imports or
a crash cannot disturb the next; a framework that cannot be imported or run yields
``"ok": false`` lines and the run goes on.

Examples (from the repo root):

    ~/.cache/spikeburn/venv/bin/python benches/reference/frameworks_bench.py --json
    ~/.cache/spikeburn/venv/bin/python benches/reference/frameworks_bench.py \\
        --workload lif_layer --frameworks snntorch,spyx --sizes 512 --steps 3 --json
    ~/.cache/spikeburn/venv/bin/python benches/reference/frameworks_bench.py --gemm-peak --json

See benches/reference/README.md for the parameter mapping used in each framework.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

FRAMEWORKS = ("snntorch", "spikingjelly", "norse", "spyx")
WORKLOADS = ("train_step", "lif_layer")

# Workload constants (the train_step shape is fixed by snnTorch tutorial 5).
BETA = 0.95
THRESHOLD = 1.0
ATAN_ALPHA = 2.0
LR = 5e-4
TRAIN_IN, TRAIN_HIDDEN, TRAIN_OUT = 784, 1000, 10


# --------------------------------------------------------------------------- CLI

def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Time SNN workloads in snnTorch, SpikingJelly, Norse and Spyx (CPU).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--workload", choices=WORKLOADS + ("all",), default=None,
                   help="which workload(s); default 'all', or none when only --gemm-peak is given")
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                   help="comma-separated subset of " + ",".join(FRAMEWORKS))
    p.add_argument("--steps", type=int, default=None,
                   help="timed iterations (default 10 for train_step, 5 for lif_layer)")
    p.add_argument("--warmup", type=int, default=3, help="untimed warm-up iterations")
    p.add_argument("--sizes", default="512,2048,8192", help="lif_layer sizes N")
    p.add_argument("--timesteps", type=int, default=100, help="lif_layer time steps T")
    p.add_argument("--lif-batch", type=int, default=16, help="lif_layer batch B")
    p.add_argument("--train-timesteps", type=int, default=25, help="train_step time steps T")
    p.add_argument("--train-batch", type=int, default=128, help="train_step batch B")
    p.add_argument("--threads", type=int, default=2,
                   help="torch intra-/inter-op threads; XLA CPU threads for Spyx (see README)")
    p.add_argument("--gemm-peak", action="store_true",
                   help="also measure float32 GEMM GFLOP/s with torch (2048^3 and 4096^3)")
    p.add_argument("--json", action="store_true", help="one JSON object per result line")
    p.add_argument("--timeout", type=float, default=0,
                   help="seconds allowed per framework child process (0 = no limit)")
    p.add_argument("--in-process", action="store_true",
                   help="run every framework in this process instead of one child each")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--_worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.workload is None:
        args.workload = None if args.gemm_peak else "all"
    args.workloads = [] if args.workload is None else (
        list(WORKLOADS) if args.workload == "all" else [args.workload])
    args.framework_list = [f.strip().lower() for f in args.frameworks.split(",") if f.strip()]
    unknown = [f for f in args.framework_list if f not in FRAMEWORKS]
    if unknown:
        p.error(f"unknown framework(s) {unknown}; choose from {','.join(FRAMEWORKS)}")
    args.size_list = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.threads < 1:
        p.error("--threads must be >= 1")
    return args


def steps_for(args, workload):
    if args.steps is not None:
        return args.steps
    return 10 if workload == "train_step" else 5


def configs(args):
    """(workload, n, t, b) tuples in run order."""
    out = []
    for w in args.workloads:
        if w == "train_step":
            out.append((w, TRAIN_HIDDEN, args.train_timesteps, args.train_batch))
        else:
            for n in args.size_list:
                out.append((w, n, args.timesteps, args.lif_batch))
    return out


# --------------------------------------------------------------------------- timing

def time_loop(fn, steps, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def result_line(framework, workload, n, t, b, times, args, extra):
    rec = {
        "framework": framework, "workload": workload, "n": n, "t": t, "b": b,
        "median_ms": round(statistics.median(times), 4),
        "mean_ms": round(statistics.fmean(times), 4),
        "ok": True,
        "min_ms": round(min(times), 4),
        "steps": len(times), "warmup": args.warmup, "threads": args.threads,
        # The process's resident high-water mark so far (Linux: KiB), in MiB.
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    rec.update(extra)
    return rec


def error_line(framework, workload, n, t, b, err):
    rec = {"framework": framework, "ok": False, "error": err}
    if workload is not None:
        rec.update({"workload": workload, "n": n, "t": t, "b": b})
    return rec


def emit(rec):
    print(json.dumps(rec), flush=True)


# --------------------------------------------------------------------------- torch helpers

def torch_setup(threads, seed):
    import torch
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # already set (in-process mode, second framework)
        pass
    torch.manual_seed(seed)
    return torch


def train_data_torch(torch, b):
    x = torch.rand(b, TRAIN_IN)
    y = torch.randint(0, TRAIN_OUT, (b,))
    return x, y


def membrane_ce_step(torch, F, net, t, b):
    """A training step of `net` (whose forward gives the output membrane, [T, B, TRAIN_OUT]) on a
    fixed random batch of `b`: Adam at LR on the cross-entropy of each step's membrane, summed
    over the `t` steps (snnTorch tutorial 5's loss). Returns the step function, which gives the loss."""
    opt = torch.optim.Adam(net.parameters(), lr=LR, betas=(0.9, 0.999))
    x, y = train_data_torch(torch, b)

    def step():
        mem_rec = net(x)
        loss = torch.zeros((), dtype=torch.float32)
        for s in range(t):
            loss = loss + F.cross_entropy(mem_rec[s], y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss
    return step


# --------------------------------------------------------------------------- snnTorch

def build_snntorch(workload, n, t, b, args):
    torch = torch_setup(args.threads, args.seed)
    import torch.nn as nn
    import torch.nn.functional as F
    import snntorch as snn
    from snntorch import surrogate

    def leaky():
        return snn.Leaky(beta=BETA, threshold=THRESHOLD, reset_mechanism="subtract",
                         spike_grad=surrogate.atan(alpha=ATAN_ALPHA))

    info = {"version": snn.__version__, "backend": f"torch {torch.__version__}",
            "impl": "snn.Leaky, per-step Python loop (Linear applied per step)"}

    if workload == "train_step":
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(TRAIN_IN, TRAIN_HIDDEN)
                self.lif1 = leaky()
                self.fc2 = nn.Linear(TRAIN_HIDDEN, TRAIN_OUT)
                self.lif2 = leaky()

            def forward(self, x):
                mem1 = self.lif1.init_leaky()
                mem2 = self.lif2.init_leaky()
                mem2_rec = []
                for _ in range(t):
                    spk1, mem1 = self.lif1(self.fc1(x), mem1)
                    _spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
                    mem2_rec.append(mem2)
                return torch.stack(mem2_rec)

        return membrane_ce_step(torch, F, Net(), t, b), info

    fc = nn.Linear(n, n)
    lif = leaky()
    x = torch.rand(t, b, n)

    def step():
        fc.zero_grad(set_to_none=True)
        mem = lif.init_leaky()
        spk_rec = []
        for s in range(t):
            spk, mem = lif(fc(x[s]), mem)
            spk_rec.append(spk)
        out = torch.stack(spk_rec).sum()
        out.backward()
        return out
    return step, info


# --------------------------------------------------------------------------- SpikingJelly

def build_spikingjelly(workload, n, t, b, args):
    import inspect
    torch = torch_setup(args.threads, args.seed)
    import torch.nn as nn
    import torch.nn.functional as F
    import spikingjelly
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    tau = 1.0 / (1.0 - BETA)  # 20.0: with decay_input=False, v <- v * (1 - 1/tau) + x
    lif_kwargs = dict(tau=float(tau), decay_input=False, v_threshold=THRESHOLD, v_reset=None,
                      surrogate_function=surrogate.ATan(alpha=ATAN_ALPHA), detach_reset=True,
                      step_mode="m")
    # SpikingJelly <= 0.0.0.0.14 selects the kernel with backend=...; 2.x has no such argument
    # and picks its implementation from the tensor's device (CPU: its own torch op).
    has_backend = "backend" in inspect.signature(neuron.LIFNode.__init__).parameters
    if has_backend:
        lif_kwargs["backend"] = "torch"

    def lif(**extra):
        return neuron.LIFNode(**lif_kwargs, **extra)

    version = getattr(spikingjelly, "__version__", None)
    if version is None:
        from importlib.metadata import version as _v
        version = _v("spikingjelly")
    info = {"version": version, "backend": f"torch {torch.__version__}",
            "impl": ("neuron.LIFNode(tau=20, decay_input=False, v_reset=None, detach_reset=True,"
                     " ATan), step_mode='m', layer.Linear(step_mode='m')"
                     + (", backend='torch'" if has_backend else ", CPU default kernel"))}

    if workload == "train_step":
        net = nn.Sequential(
            layer.Linear(TRAIN_IN, TRAIN_HIDDEN, step_mode="m"), lif(),
            layer.Linear(TRAIN_HIDDEN, TRAIN_OUT, step_mode="m"), lif(store_v_seq=True))
        opt = torch.optim.Adam(net.parameters(), lr=LR, betas=(0.9, 0.999))
        x, y = train_data_torch(torch, b)
        y_seq = y.repeat(t)  # matches v_seq.flatten(0, 1): time-major

        def step():
            functional.reset_net(net)
            net(x.unsqueeze(0).repeat(t, 1, 1))  # static image at every step: [T, B, 784]
            v_seq = net[3].v_seq  # output membrane (after reset), [T, B, 10]
            # sum over steps of the per-step mean CE == T * mean over all (T*B) rows
            loss = F.cross_entropy(v_seq.flatten(0, 1), y_seq) * t
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss
        return step, info

    fc = layer.Linear(n, n, step_mode="m")
    node = lif()
    x = torch.rand(t, b, n)

    def step():
        fc.zero_grad(set_to_none=True)
        functional.reset_net(node)
        out = node(fc(x)).sum()
        out.backward()
        return out
    return step, info


# --------------------------------------------------------------------------- Norse

def build_norse(workload, n, t, b, args):
    torch = torch_setup(args.threads, args.seed)
    import torch.nn as nn
    import torch.nn.functional as F
    import norse
    import norse.torch as norse_torch
    from norse.torch.functional.lif_box import LIFBoxParameters, lif_box_feed_forward_step
    from norse.torch.functional.reset import reset_subtract
    from norse.torch.module.snn import SNN

    dt = 1e-3
    # Euler step of dv/dt = tau_mem_inv * (v_leak - v + x):  v <- (1 - dt*tau_mem_inv) v + dt*tau_mem_inv x
    # dt * tau_mem_inv = 1 - beta = 0.05  ->  per-step decay 0.95 (input scaled by 0.05).
    p = LIFBoxParameters(
        tau_mem_inv=torch.as_tensor((1.0 - BETA) / dt),  # 50 / s
        v_leak=torch.as_tensor(0.0),
        v_th=torch.as_tensor(THRESHOLD),
        v_reset=torch.as_tensor(0.0),
        method="super",  # Norse has no arctan surrogate; SuperSpike is its default
        alpha=torch.as_tensor(100.0),
        reset_method=reset_subtract,
    )
    version = getattr(norse, "__version__", None)
    if version is None:
        from importlib.metadata import version as _v
        version = _v("norse")
    info = {"version": version, "backend": f"torch {torch.__version__}",
            "impl": "LIFBox (tau_mem_inv=50, dt=1e-3 -> decay 0.95, v_th=1, reset_subtract,"
                    " SuperSpike alpha=100)"}

    if workload == "train_step":
        info["impl"] += ", LIFBoxCell per-step loop"

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(TRAIN_IN, TRAIN_HIDDEN)
                self.lif1 = norse_torch.LIFBoxCell(p, dt=dt)
                self.fc2 = nn.Linear(TRAIN_HIDDEN, TRAIN_OUT)
                self.lif2 = norse_torch.LIFBoxCell(p, dt=dt)

            def forward(self, x):
                s1 = s2 = None
                mem_rec = []
                for _ in range(t):
                    z1, s1 = self.lif1(self.fc1(x), s1)
                    _z2, s2 = self.lif2(self.fc2(z1), s2)
                    mem_rec.append(s2.v)
                return torch.stack(mem_rec)

        return membrane_ce_step(torch, F, Net(), t, b), info

    info["impl"] += ", Linear on [T,B,N] then norse SNN(lif_box_feed_forward_step) over T"
    fc = nn.Linear(n, n)
    cell = norse_torch.LIFBoxCell(p, dt=dt)
    lif = SNN(lif_box_feed_forward_step, cell.initial_state, p, dt=dt)
    x = torch.rand(t, b, n)

    def step():
        fc.zero_grad(set_to_none=True)
        spikes, _state = lif(fc(x))
        out = spikes.sum()
        out.backward()
        return out
    return step, info


# --------------------------------------------------------------------------- Spyx (JAX)

_JAX_THREAD_NOTE = None  # set by the first Spyx build in this process


def configure_jax_threads(threads):
    """Must run before jax is imported. Returns a note on what was done."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in flags:
        # 'intra_op_parallelism_threads=N' is the historical spelling; current XLA has no
        # flag for the CPU thread count (the token is ignored), so the count is enforced
        # below by the CPU affinity, which XLA's thread pools size themselves from.
        flags = (flags + f" --xla_cpu_multi_thread_eigen=true"
                 f" intra_op_parallelism_threads={threads}").strip()
        os.environ["XLA_FLAGS"] = flags
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    note = f"XLA_FLAGS='{os.environ['XLA_FLAGS']}'"
    try:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > threads:
            os.sched_setaffinity(0, cpus[:threads])
            note += f", pinned to CPUs {cpus[:threads]}"
        else:
            note += f", {len(cpus)} CPUs available (no pinning needed)"
    except (AttributeError, OSError) as e:
        note += f", could not pin CPUs ({e})"
    return note


def build_spyx(workload, n, t, b, args):
    global _JAX_THREAD_NOTE
    if _JAX_THREAD_NOTE is None:
        _JAX_THREAD_NOTE = (configure_jax_threads(args.threads) if "jax" not in sys.modules
                            else "jax was imported first: thread settings not applied")
    thread_note = _JAX_THREAD_NOTE
    import jax
    import jax.numpy as jnp
    import optax
    import spyx
    from flax import nnx

    act = spyx.axn.arctan(k=ATAN_ALPHA)
    rngs = nnx.Rngs(args.seed)
    key = jax.random.PRNGKey(args.seed)
    info = {"version": spyx.__version__, "backend": f"jax {jax.__version__} (CPU, jit)",
            "threads_note": thread_note}

    if workload == "train_step":
        info["impl"] = ("spyx.nn.LIF(beta=0.95, arctan k=2) + nnx.Linear in one jax.lax.scan"
                        " over the [T,B,784] repeated input; optax.adam; whole step jitted")

        class Net(nnx.Module):
            def __init__(self):
                self.fc1 = nnx.Linear(TRAIN_IN, TRAIN_HIDDEN, rngs=rngs)
                self.lif1 = spyx.nn.LIF((TRAIN_HIDDEN,), beta=BETA, threshold=THRESHOLD,
                                        activation=act, rngs=rngs)
                self.fc2 = nnx.Linear(TRAIN_HIDDEN, TRAIN_OUT, rngs=rngs)
                self.lif2 = spyx.nn.LIF((TRAIN_OUT,), beta=BETA, threshold=THRESHOLD,
                                        activation=act, rngs=rngs)

            def __call__(self, x_seq):
                bsz = x_seq.shape[1]

                def body(carry, x_t):
                    v1, v2 = carry
                    s1, v1 = self.lif1(self.fc1(x_t), v1)
                    _s2, v2 = self.lif2(self.fc2(s1), v2)
                    return (v1, v2), v2

                init = (self.lif1.initial_state(bsz), self.lif2.initial_state(bsz))
                _, mem_rec = jax.lax.scan(body, init, x_seq)
                return mem_rec  # [T, B, 10] output membrane

        net = Net()
        graphdef, params = nnx.split(net, nnx.Param)
        tx = optax.adam(LR, b1=0.9, b2=0.999)
        opt_state = tx.init(params)
        kx, ky = jax.random.split(key)
        x = jax.random.uniform(kx, (b, TRAIN_IN), dtype=jnp.float32)
        y = jax.random.randint(ky, (b,), 0, TRAIN_OUT)

        def loss_fn(prm, x, y):
            model = nnx.merge(graphdef, prm)
            x_seq = jnp.broadcast_to(x, (t,) + x.shape)
            mem_rec = model(x_seq)
            ce = optax.softmax_cross_entropy_with_integer_labels(mem_rec, y[None, :])
            return ce.mean(axis=1).sum()  # sum over steps of per-step mean CE

        @jax.jit
        def train_step(prm, opt_state, x, y):
            loss, grads = jax.value_and_grad(loss_fn)(prm, x, y)
            updates, opt_state = tx.update(grads, opt_state, prm)
            prm = optax.apply_updates(prm, updates)
            return prm, opt_state, loss

        state = {"params": params, "opt": opt_state}

        def step():
            prm, ost, loss = train_step(state["params"], state["opt"], x, y)
            jax.block_until_ready((prm, ost, loss))
            state["params"], state["opt"] = prm, ost
            return loss
        return step, info

    info["impl"] = ("nnx.Linear on [T,B,N] then spyx.nn.run(spyx.nn.LIF(beta=0.95, arctan k=2))"
                    " (jax.lax.scan); jit(value_and_grad)")

    class Layer(nnx.Module):
        def __init__(self):
            self.fc = nnx.Linear(n, n, rngs=rngs)
            self.lif = spyx.nn.LIF((n,), beta=BETA, threshold=THRESHOLD, activation=act,
                                   rngs=rngs)

        def __call__(self, x_seq):
            spikes, _v = spyx.nn.run(self.lif, self.fc(x_seq))
            return spikes

    model = Layer()
    graphdef, params = nnx.split(model, nnx.Param)
    x = jax.random.uniform(key, (t, b, n), dtype=jnp.float32)

    def f(prm, x):
        return nnx.merge(graphdef, prm)(x).sum()

    fwd_bwd = jax.jit(jax.value_and_grad(f))

    def step():
        out = fwd_bwd(params, x)
        jax.block_until_ready(out)
        return out
    return step, info


BUILDERS = {
    "snntorch": build_snntorch,
    "spikingjelly": build_spikingjelly,
    "norse": build_norse,
    "spyx": build_spyx,
}


# --------------------------------------------------------------------------- GEMM peak

def best_gflops(mm, make, reps_by_n=((2048, 5), (4096, 3))):
    """Best float32 GFLOP/s of mm(a, b) over square sizes (one warm-up product each)."""
    by_n = {}
    for n, reps in reps_by_n:
        a, b = make(n), make(n)
        mm(a, b)  # warm-up
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            mm(a, b)
            best = min(best, time.perf_counter() - t0)
        by_n[str(n)] = round(2.0 * n ** 3 / best / 1e9, 2)
    return by_n


def gemm_peak(args):
    """The machine's float32 GEMM peak: the best of torch (MKL on x86 wheels) and numpy (the
    OpenBLAS in its wheel), both at args.threads threads."""
    torch = torch_setup(args.threads, args.seed)
    by_library = {}
    c = {}

    def torch_mm(a, b):
        n = a.shape[0]
        if n not in c:
            c[n] = torch.empty(n, n)
        torch.mm(a, b, out=c[n])

    by_library[f"torch {torch.__version__}"] = best_gflops(torch_mm, lambda n: torch.randn(n, n))
    try:
        import numpy as np
        try:
            from threadpoolctl import threadpool_limits
            limits = threadpool_limits(limits=args.threads, user_api="blas")
        except ImportError:
            limits = None
        rng = np.random.default_rng(args.seed)
        by_library[f"numpy {np.__version__}"] = best_gflops(
            np.matmul, lambda n: rng.standard_normal((n, n), dtype=np.float32))
        del limits
    except ImportError:
        pass
    best_library = max(by_library, key=lambda k: max(by_library[k].values()))
    return {"workload": "gemm_peak", "gflops": max(by_library[best_library].values()),
            "library": best_library, "by_library": by_library, "dtype": "float32",
            "threads": args.threads, "ok": True}


# --------------------------------------------------------------------------- worker / parent

def run_framework(framework, args, out=emit):
    """Runs every config for one framework in this process, passing one record each to out."""
    for (workload, n, t, b) in configs(args):
        try:
            step, info = BUILDERS[framework](workload, n, t, b, args)
            times = time_loop(step, steps_for(args, workload), args.warmup)
            out(result_line(framework, workload, n, t, b, times, args, info))
        except Exception as e:  # noqa: BLE001 - report and go on
            traceback.print_exc(file=sys.stderr)
            out(error_line(framework, workload, n, t, b, f"{type(e).__name__}: {e}"))


def worker_main(args):
    if args._worker == "gemm":
        try:
            emit(gemm_peak(args))
        except Exception as e:  # noqa: BLE001
            traceback.print_exc(file=sys.stderr)
            emit({"workload": "gemm_peak", "ok": False, "error": f"{type(e).__name__}: {e}"})
        return 0
    run_framework(args._worker, args)
    return 0


def child_argv(args, worker):
    argv = [sys.executable, os.path.abspath(__file__), "--_worker", worker,
            "--warmup", str(args.warmup), "--sizes", ",".join(map(str, args.size_list)),
            "--timesteps", str(args.timesteps), "--lif-batch", str(args.lif_batch),
            "--train-timesteps", str(args.train_timesteps),
            "--train-batch", str(args.train_batch), "--threads", str(args.threads),
            "--seed", str(args.seed), "--frameworks", worker if worker in FRAMEWORKS else "snntorch"]
    if args.workload is not None:
        argv += ["--workload", args.workload]
    if args.steps is not None:
        argv += ["--steps", str(args.steps)]
    if worker == "gemm":
        argv += ["--gemm-peak"]
    return argv


def run_child(args, worker, expected, on_line):
    """Runs one worker process; relays its JSON lines; fills in failures for the missing."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(args.threads)
    env.setdefault("PYTHONUNBUFFERED", "1")
    got = []
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(child_argv(args, worker), stdout=subprocess.PIPE, stderr=err,
                                text=True, env=env)

        def reader():
            for line in proc.stdout:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                got.append(rec)
                on_line(rec)

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        why = None
        try:
            rc = proc.wait(timeout=args.timeout if args.timeout > 0 else None)
            if rc != 0:
                why = f"worker exited with status {rc}"
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            why = f"timed out after {args.timeout:g} s"
        th.join(timeout=10)
        err.seek(0)
        tail = err.read()[-1500:].strip()

    done = {(r.get("workload"), r.get("n")) for r in got}
    missing = [c for c in expected if (c[0], c[1]) not in done]
    if missing and why is None:
        why = "worker produced no result"
    if why is not None and tail:
        print(f"[{worker}] stderr tail:\n{tail}", file=sys.stderr)
    for (workload, n, t, b) in missing:
        if worker == "gemm":
            on_line({"workload": "gemm_peak", "ok": False, "error": f"{why}: {tail[-300:]}"})
        else:
            on_line(error_line(worker, workload, n, t, b, f"{why}: {tail[-300:]}"))


def format_human(rec):
    if rec.get("workload") == "gemm_peak":
        if rec.get("ok"):
            return (f"gemm_peak: {rec['gflops']:.1f} GFLOP/s float32 ({rec['library']}; "
                    f"{rec['by_library']}), {rec['threads']} threads")
        return f"gemm_peak: FAILED: {rec.get('error')}"
    label = f"{rec['framework']:<13} {rec.get('workload', '-'):<11} n={rec.get('n', '-')!s:<5} " \
            f"t={rec.get('t', '-')!s:<4} b={rec.get('b', '-')!s:<4}"
    if rec.get("ok"):
        return (f"{label} median {rec['median_ms']:10.2f} ms  mean {rec['mean_ms']:10.2f} ms  "
                f"({rec.get('version', '?')}, {rec.get('backend', '?')})")
    return f"{label} FAILED: {rec.get('error')}"


def main(argv=None):
    args = parse_args(argv)
    if args._worker:
        return worker_main(args)

    results = []

    def on_line(rec):
        results.append(rec)
        print(json.dumps(rec) if args.json else format_human(rec), flush=True)

    if args.gemm_peak:
        if args.in_process:
            try:
                on_line(gemm_peak(args))
            except Exception as e:  # noqa: BLE001
                on_line({"workload": "gemm_peak", "ok": False, "error": f"{type(e).__name__}: {e}"})
        else:
            run_child(args, "gemm", [("gemm_peak", None, None, None)], on_line)

    expected = configs(args)
    if expected:
        for fw in args.framework_list:
            if args.in_process:
                run_framework(fw, args, on_line)
            else:
                run_child(args, fw, expected, on_line)

    if not args.json and results:
        ok = sum(1 for r in results if r.get("ok"))
        print(f"{ok} ok, {len(results) - ok} failed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
