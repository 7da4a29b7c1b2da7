"""PyTorch twin of bench/profile.ts: per-layer, per-pass times of the DCGAN step's convolutions.

Same architecture (pytorch_dcgan.py's generator()/discriminator()), same input shapes, same
passes measured the same way: forward under no_grad; backward-data (only x requires grad) and
backward-filter (only w requires grad) timing only y.backward(dy); the BatchNorm + activation
after each convolution, forward + backward together; one warm-up, median of --repeats. Also
the whole training step as pytorch_dcgan.py times it. Prints one JSON object:

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 \
      bench/peers/pytorch_profile.py --threads 2 --image-size 64 --channels 3 --batch 64 --repeats 5
"""
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_dcgan import build_nets, config_parser, make_step  # noqa: E402

# Ops that only dispatch to the real kernel; what is left names PyTorch's implementation.
DISPATCH_ONLY = {"aten::conv2d", "aten::convolution", "aten::_convolution", "aten::conv_transpose2d"}


def median_ms(repeats, time_once):
    """One warm-up, then the median of `repeats` calls; time_once returns seconds."""
    time_once()
    return round(statistics.median(time_once() for _ in range(repeats)) * 1000, 3)


def post_label(post):
    names = {nn.BatchNorm2d: "bn", nn.LeakyReLU: "leakyrelu", nn.ReLU: "relu", nn.Tanh: "tanh"}
    return "+".join(names.get(type(m), type(m).__name__.lower()) for m in post)


def per_step_counts(net, position, has_post):
    """As in bench/profile.ts: D runs 3x with backward (dx 3x except its first layer, 1x; dW 2x, frozen in G's pass); G once (no dx for its first layer)."""
    if net == "D":
        counts = {"forward": 3, "backwardData": 1 if position == 0 else 3, "backwardFilter": 2}
    else:
        counts = {"forward": 1, "backwardData": 0 if position == 0 else 1, "backwardFilter": 1}
    if has_post:
        counts["bnAct"] = counts["forward"]
    return counts


def find_conv_sites(net_name, net, x):
    """Runs x through the net once (no grad) to learn the shape each convolution sees."""
    sites = []
    with torch.no_grad():
        for index, layer in enumerate(net):
            y = layer(x)
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
                sites.append({"net": net_name, "index": index, "position": len(sites), "conv": layer, "post": [],
                              "inShape": list(x.shape), "outShape": list(y.shape)})
            else:
                sites[-1]["post"].append(layer)
            x = y
    return sites


def implementation_ops(run, x, w):
    """aten ops (in call order) under one forward: PyTorch's kernel for this layer. Its backward is
    aten::convolution_backward, which calls the matching kernel directly, so the profiler shows no more there."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        with torch.no_grad():
            run(x, w)
    seen = []
    for event in prof.events():
        name = event.name
        if name.startswith("aten::") and name not in DISPATCH_ONLY and name not in seen and ("conv" in name or "mkldnn" in name or "mm" in name):
            seen.append(name)
    return " ".join(seen)


def profile_site(site, repeats):
    conv = site["conv"]
    stride, padding = conv.stride[0], conv.padding[0]
    transposed = isinstance(conv, nn.ConvTranspose2d)

    # The op alone, as the layer calls it (DCGAN's convolutions have no bias).
    def run(x, w):
        if transposed:
            return F.conv_transpose2d(x, w, None, stride, padding)
        return F.conv2d(x, w, None, stride, padding)

    x = torch.randn(site["inShape"])
    w = conv.weight.detach().clone()
    dy = torch.randn(site["outShape"])

    def forward_once():
        x.requires_grad_(False)
        w.requires_grad_(False)
        with torch.no_grad():
            t0 = time.perf_counter()
            run(x, w)
            return time.perf_counter() - t0

    def backward_once(input_needs_grad):
        def once():
            x.requires_grad_(input_needs_grad)
            w.requires_grad_(not input_needs_grad)
            y = run(x, w)
            t0 = time.perf_counter()
            y.backward(dy)
            elapsed = time.perf_counter() - t0
            x.grad = None  # as ours: every repetition creates a fresh leaf .grad
            w.grad = None
            return elapsed
        return once

    passes = {
        "forward": median_ms(repeats, forward_once),
        "backwardData": median_ms(repeats, backward_once(True)),
        "backwardFilter": median_ms(repeats, backward_once(False)),
    }
    x.requires_grad_(False)
    w.requires_grad_(False)
    implementation = implementation_ops(run, x, w)

    post = site["post"]
    if post:
        # The net's own modules (BatchNorm in training mode). An in-place activation straight on the
        # leaf input would be an error, so only that case runs out of place (D's first LeakyReLU).
        first_inplace = getattr(post[0], "inplace", False)
        if first_inplace:
            post[0].inplace = False
        h = torch.randn(site["outShape"]).requires_grad_(True)
        params = [p for m in post for p in m.parameters()]

        def post_once():
            t0 = time.perf_counter()
            out = h
            for m in post:
                out = m(out)
            out.backward(dy)
            elapsed = time.perf_counter() - t0
            for t in [h, *params]:
                t.grad = None
            return elapsed

        passes["bnAct"] = median_ms(repeats, post_once)
        if first_inplace:
            post[0].inplace = True

    return {
        "net": site["net"], "index": site["index"], "kind": "convT" if transposed else "conv",
        "inShape": site["inShape"], "outShape": site["outShape"], "weightShape": list(conv.weight.shape),
        "stride": stride, "padding": padding, "post": post_label(post), "passes": passes,
        "perStep": per_step_counts(site["net"], site["position"], bool(post)), "implementation": implementation,
    }


def step_ms(args, net_g, net_d, steps, warmup):
    """pytorch_dcgan.py's training step, median ms."""
    step = make_step(args, net_g, net_d)

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1000, 1)


def estimate_ms(layers, passes):
    return sum(layer["perStep"].get(p, 0) * layer["passes"].get(p, 0) for layer in layers for p in passes)


def main():
    parser = config_parser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--step-warmup", type=int, default=2)
    args = parser.parse_args()

    net_g, net_d = build_nets(args)
    sites = find_conv_sites("G", net_g, torch.randn(args.batch, args.nz, 1, 1))
    sites += find_conv_sites("D", net_d, torch.rand(args.batch, args.channels, args.image_size, args.image_size) * 2 - 1)

    layers = []
    for site in sites:
        print(f"pytorch_profile: {site['net']}.main.{site['index']} {site['inShape']} -> {site['outShape']}...", file=sys.stderr)
        layers.append(profile_site(site, args.repeats))
    print("pytorch_profile: whole training step...", file=sys.stderr)
    # Fresh nets, as ours (benchmarkTrainingStep builds its own): the profile above moved BN statistics.
    torch.manual_seed(0)
    step = step_ms(args, *build_nets(args), args.repeats, args.step_warmup)

    config = torch.__config__.show()
    print(json.dumps({
        "backend": "pytorch",
        "version": torch.__version__,
        "blas": config.split("BLAS_INFO=")[1].split(",")[0] if "BLAS_INFO=" in config else "unknown",
        "threads": torch.get_num_threads(),
        "config": {"imageSize": args.image_size, "channels": args.channels, "batch": args.batch, "nz": args.nz,
                   "ngf": args.ngf, "ndf": args.ndf, "projection": "conv", "repeats": args.repeats,
                   "stepWarmup": args.step_warmup},
        "layers": layers,
        "stepMs": step,
        "stepEstimateMs": round(estimate_ms(layers, ["forward", "backwardData", "backwardFilter", "bnAct"]), 1),
        "convEstimateMs": round(estimate_ms(layers, ["forward", "backwardData", "backwardFilter"]), 1),
        "note": "as bench/profile.ts: medians after one warm-up; forward under no_grad; backwardData/backwardFilter time only "
                "y.backward(dy) with only x / only w requiring grad; bnAct = following BatchNorm (training) + activation, "
                "forward + backward (D's first LeakyReLU out of place, the step runs it in place). implementation: the aten "
                "kernel of one forward under torch.profiler (its backward, aten::convolution_backward, uses the matching one).",
    }))


if __name__ == "__main__":
    main()
