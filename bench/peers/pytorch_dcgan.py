"""PyTorch peer for `npm run bench`: the same DCGAN training step, same architecture and batch.

Prints one JSON object. Run it the way the benchmark does (PyTorch at its best here: the
OpenMP OpenBLAS, not Debian's default reference BLAS, which is ~9x slower on transposed convs):

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 \
      bench/peers/pytorch_dcgan.py --image-size 64 --channels 3 --batch 64 --threads 2
"""
import argparse
import json
import math
import resource
import statistics
import time

import torch
import torch.nn as nn


def generator(image_size, channels, nz, ngf):
    blocks = int(math.log2(image_size)) - 3
    mult = 2 ** blocks
    layers = [nn.ConvTranspose2d(nz, ngf * mult, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * mult), nn.ReLU(True)]
    for _ in range(blocks):
        layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * mult // 2), nn.ReLU(True)]
        mult //= 2
    layers += [nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def discriminator(image_size, channels, ndf):
    blocks = int(math.log2(image_size)) - 3
    layers = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    mult = 1
    for _ in range(blocks):
        layers += [nn.Conv2d(ndf * mult, ndf * mult * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * mult * 2), nn.LeakyReLU(0.2, inplace=True)]
        mult *= 2
    layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 0, bias=False)]
    return nn.Sequential(*layers)


class Net(nn.Module):
    """pytorch/examples' Generator / Discriminator: one Sequential called `main`."""

    def __init__(self, main):
        super().__init__()
        self.main = main

    def forward(self, x):
        return self.main(x)


def examples_step(net_g, net_d, opt_g, opt_d, criterion, real, noise):
    """One step of pytorch/examples' dcgan loop: D on the real batch, G(z), D on fake.detach(),
    optD.step(); then D(fake) with real labels through the updated D, optG.step(). Returns the
    losses and D's mean outputs, as main.py logs them."""
    net_d.zero_grad()
    label = torch.full((real.size(0),), 1.0, dtype=real.dtype)
    output = net_d(real).view(-1)
    err_d_real = criterion(output, label)
    err_d_real.backward()
    d_x = torch.sigmoid(output).mean().item()
    fake = net_g(noise)
    label.fill_(0.0)
    output = net_d(fake.detach()).view(-1)
    err_d_fake = criterion(output, label)
    err_d_fake.backward()
    d_g_z1 = torch.sigmoid(output).mean().item()
    err_d = err_d_real + err_d_fake
    opt_d.step()
    net_g.zero_grad()
    label.fill_(1.0)
    output = net_d(fake).view(-1)
    err_g = criterion(output, label)
    err_g.backward()
    d_g_z2 = torch.sigmoid(output).mean().item()
    opt_g.step()
    return {"lossD": err_d.item(), "lossG": err_g.item(), "D_x": d_x, "D_G_z1": d_g_z1, "D_G_z2": d_g_z2}


def make_step(args, net_g, net_d):
    """One training step of pytorch/examples' dcgan loop (D on real, D on detached fake, G), with its optimizers,
    and D frozen while G's loss is back-propagated (unless --examples-as-is)."""
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    criterion = nn.BCEWithLogitsLoss()
    real = torch.rand(args.batch, args.channels, args.image_size, args.image_size) * 2 - 1
    ones = torch.ones(args.batch)
    zeros = torch.zeros(args.batch)

    def step():
        net_d.zero_grad()
        err_real = criterion(net_d(real).view(-1), ones)
        err_real.backward()
        noise = torch.randn(args.batch, args.nz, 1, 1)
        fake = net_g(noise)
        err_fake = criterion(net_d(fake.detach()).view(-1), zeros)
        err_fake.backward()
        opt_d.step()
        net_g.zero_grad()
        # D frozen for G's backward, as our step does (src/train/step.ts): pytorch/examples
        # computes D's weight gradients here only to discard them; --examples-as-is keeps that.
        if not args.examples_as_is:
            net_d.requires_grad_(False)
        err_g = criterion(net_d(fake).view(-1), ones)
        err_g.backward()
        net_d.requires_grad_(True)
        opt_g.step()

    return step


def config_parser():
    """The flags every peer script shares: the model and batch, and the thread count."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--nz", type=int, default=100)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--ndf", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--examples-as-is", action="store_true",
                        help="compute D's weight gradients in G's pass, as pytorch/examples does (and then discards them)")
    return parser


def build_nets(args):
    """Sets the threads and the seed, then builds (G, D) as pytorch/examples does."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    return generator(args.image_size, args.channels, args.nz, args.ngf), discriminator(args.image_size, args.channels, args.ndf)


def runtime_blas():
    """The BLAS this process really runs: torch's build info says "generic" (Debian builds it against
    the reference BLAS interface), while LD_LIBRARY_PATH swaps in OpenBLAS, whose kernel family
    (blasCore) is its choice for this CPU or OPENBLAS_CORETYPE's."""
    import ctypes
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if "blas" in line and line.split()[-1].startswith("/")})
    for path in paths:
        lib = ctypes.CDLL(path)
        if hasattr(lib, "openblas_get_corename"):
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return {"blas": lib.openblas_get_config().decode(), "blasCore": lib.openblas_get_corename().decode()}
    return {"blas": ", ".join(paths) or "unknown", "blasCore": None}


def main():
    parser = config_parser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--warmup-seconds", type=float, default=0.0,
                        help="after --warmup steps, keep warming up until this many seconds have passed")
    parser.add_argument("--max-warmup", type=int, default=200, help="but run no more warm-up steps than this")
    args = parser.parse_args()

    net_g, net_d = build_nets(args)
    step = make_step(args, net_g, net_d)

    # The same rule as ours (src/bench/training-step.ts, warmupDone).
    warmup_start = time.perf_counter()
    warmup_steps = 0
    max_warmup = max(args.warmup, args.max_warmup)
    while not (warmup_steps >= args.warmup
               and (time.perf_counter() - warmup_start >= args.warmup_seconds or warmup_steps >= max_warmup)):
        step()
        warmup_steps += 1
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)

    noise = torch.randn(args.batch, args.nz, 1, 1)
    net_g.eval()
    infer = []
    with torch.no_grad():
        net_g(noise)
        for _ in range(args.steps):
            t0 = time.perf_counter()
            net_g(noise)
            infer.append(time.perf_counter() - t0)

    step_ms = statistics.median(times) * 1000
    infer_ms = statistics.median(infer) * 1000
    print(json.dumps({
        "peer": "pytorch",
        "version": torch.__version__,
        **runtime_blas(),
        "threads": args.threads,
        "imageSize": args.image_size,
        "channels": args.channels,
        "batch": args.batch,
        "stepMs": round(step_ms, 1),
        "imagesPerSec": round(args.batch / (step_ms / 1000), 1),
        "inferenceMs": round(infer_ms, 1),
        "inferenceImagesPerSec": round(args.batch / (infer_ms / 1000), 1),
        "warmupSteps": warmup_steps,
        "peakRssMiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
