"""Load spikeburn's safetensors export into the equivalent snnTorch network.

    load_safetensors_snntorch.py MODEL.safetensors [INPUT.json OUT.json]

Builds the layers listed in the `spikeburn_config` metadata (linear -> nn.Linear,
conv2d -> nn.Conv2d, avg_pool2d -> nn.AvgPool2d, flatten -> nn.Flatten, dropout -> identity,
neuron lif/if -> snn.Leaky, synaptic -> snn.Synaptic, recurrent -> snn.RLeaky, with the same
beta, threshold, alpha, recurrent weights and reset mechanism), loads the tensors `layers.{i}.*`, and, given INPUT.json
({"spikes": [T][B][F]}: the current into the first layer at each step), writes the output
spikes [T][B][N] to OUT.json.
"""
import json
import sys

import numpy as np
import snntorch as snn
import torch
from safetensors.torch import load_file
from safetensors import safe_open


def build(path):
    with safe_open(path, framework="pt") as f:
        config = json.loads(f.metadata()["spikeburn_config"])
    tensors = load_file(path)
    shape = list(config["input"])
    layers = config["layers"] or [
        l
        for size in config["hidden"] + [config["outputs"]]
        for l in ({"type": "linear", "size": size}, {"type": "neuron"})
    ]
    mods = []
    for i, layer in enumerate(layers):
        t = lambda k: tensors[f"layers.{i}.{k}"]
        kind = layer["type"]
        if kind == "linear":
            w = t("weight")
            m = torch.nn.Linear(w.shape[1], w.shape[0], bias=f"layers.{i}.bias" in tensors)
            m.weight.data = w
            if m.bias is not None:
                m.bias.data = t("bias")
            if len(shape) > 1:
                mods.append(torch.nn.Flatten())
            shape = [w.shape[0]]
        elif kind == "conv2d":
            w = t("weight")
            k = layer.get("kernel", 3)
            pad = layer.get("padding", k // 2)
            m = torch.nn.Conv2d(w.shape[1], w.shape[0], k, stride=layer.get("stride", 1),
                                padding=pad, bias=f"layers.{i}.bias" in tensors)
            m.weight.data = w
            if m.bias is not None:
                m.bias.data = t("bias")
        elif kind == "avg_pool2d":
            k = layer.get("kernel", 2)
            m = torch.nn.AvgPool2d(k, stride=layer.get("stride", k))
        elif kind == "flatten":
            m = torch.nn.Flatten()
        elif kind == "dropout":
            m = torch.nn.Identity()
        elif kind == "neuron":
            n = dict(config["neuron"])
            n.update(layer.get("neuron") or {})
            neuron_kind = n.get("kind", "lif")
            reset = n.get("reset", "subtract")
            beta = t("beta")
            if neuron_kind == "if":
                beta = torch.ones_like(beta)
            beta = beta.clamp(0, 1)
            args = dict(threshold=t("threshold"), reset_mechanism=reset, init_hidden=True)
            if neuron_kind in ("lif", "if"):
                m = snn.Leaky(beta=beta, **args)
            elif neuron_kind == "synaptic":
                m = snn.Synaptic(alpha=t("alpha").clamp(0, 1), beta=beta, **args)
            elif neuron_kind == "recurrent":
                # spikeburn's zero reset is RLeaky's with reset_delay=False (the default
                # reset_delay=True also drops the input of the step after a spike); the
                # subtract reset is the default one.
                args["reset_delay"] = reset != "zero"
                if f"layers.{i}.recurrent.V" in tensors:
                    m = snn.RLeaky(beta=beta, all_to_all=False, V=t("recurrent.V"), **args)
                else:
                    w = t("recurrent.weight")
                    m = snn.RLeaky(beta=beta, linear_features=w.shape[0], **args)
                    m.recurrent.weight.data = w
                    m.recurrent.bias.data = t("recurrent.bias")
            else:
                raise SystemExit(f"layer {i}: neuron kind {neuron_kind} not supported here")
        else:
            raise SystemExit(f"layer {i}: {kind} not supported here")
        mods.append(m)
    return torch.nn.Sequential(*mods), config


def main(argv):
    net, config = build(argv[0])
    print(net)
    if len(argv) < 3:
        return
    with open(argv[1]) as f:
        x = torch.tensor(np.array(json.load(f)["spikes"], dtype=np.float32))
    outs = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = x[t]
            if len(config["input"]) == 3:
                h = h.reshape(h.shape[0], *config["input"])
            outs.append(net(h))
    with open(argv[2], "w") as f:
        json.dump({"spikes": torch.stack(outs).numpy().tolist()}, f)


if __name__ == "__main__":
    main(sys.argv[1:])
