"""PyTorch peer for `npm run bench:quality`: trains pytorch/examples' DCGAN (dcgan/main.py) on
exactly the images our trainer reads, and saves the generator for `dcgan eval`.

The model is the one of pytorch_dcgan.py (its `generator` / `discriminator` builders, wrapped
in a module whose Sequential is called `main`, so the state dict keys are pytorch/examples'
`main.0.weight`, … and `dcgan eval --checkpoint netG.pth` reads them). As in pytorch/examples:
  - weights_init: conv weights N(0, 0.02), BatchNorm weight N(1, 0.02) and bias 0;
  - Adam lr 2e-4, betas (0.5, 0.999), for both networks; BCE with real label 1, fake label 0;
  - each step: D on the real batch, backward; G(z), D on fake.detach(), backward; optD.step();
    then D(fake) with real labels, backward; optG.step() — the order of main.py's loop;
  - each epoch a fresh shuffle (from a torch.Generator seeded with --seed) and batches of 64
    WITHOUT dropping the last partial batch (DataLoader's default, which main.py keeps): an
    epoch of 60 000 images is 938 steps, the last of 32 images. (Ours drops it: 937 steps.)
One difference of form, not of maths: D ends without the Sigmoid and the loss is
BCEWithLogitsLoss instead of Sigmoid + BCELoss (the same function, computed stably — as ours).

The data file (written by bench/quality.ts) is raw little-endian float32 [N, C, S, S] in
[-1, 1]: our loader's output (IDX bytes resized to S×S by our bilinear resize, then
v / 127.5 - 1), so both sides see the same numbers; the resize makes them non-integer, which
is why the file holds floats rather than bytes. Its shape comes from --count/--channels/--size
or the `<data-file>.json` written next to it.

The clock: `train_seconds` sums each step from taking its batch to after optG.step() (and the
loss .item() calls main.py makes to log). `--save-at-seconds S` also saves netG as
netG_at.pth after the first step at which that clock reaches S (for the equal-wall-time
comparison); `--max-steps K` stops after K steps.

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 \\
      bench/peers/pytorch_dcgan_train.py --data-file work/fashion-mnist-32x1.f32 --epochs 3 --seed 1 --threads 2 --out work/peer-1

Prints one JSON object (also written to <out>/result.json).
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn

from pytorch_dcgan import Net, discriminator, examples_step, generator

# pytorch/examples' weights_init, kept once beside the example models.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "pytorch"))
from dcgan_models import weights_init  # noqa: E402


def load_images(args):
    shape = None
    meta_file = args.data_file + ".json"
    if args.count is None and os.path.exists(meta_file):
        with open(meta_file) as f:
            meta = json.load(f)
        shape = (meta["count"], meta["channels"], meta["size"], meta["size"])
    elif args.count is not None:
        shape = (args.count, args.channels, args.size, args.size)
    else:
        raise SystemExit(f"{args.data_file}: no {meta_file}; pass --count, --channels and --size")
    expected = math.prod(shape) * 4
    actual = os.path.getsize(args.data_file)
    if actual != expected:
        raise SystemExit(f"{args.data_file}: {actual} bytes, expected {expected} for float32 {list(shape)}")
    with open(args.data_file, "rb") as f:
        data = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    return data.view(shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-file", required=True)
    parser.add_argument("--count", type=int)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=None, help="passes over the data (default 3; with --max-steps: as many as it takes)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--nz", type=int, default=100)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--ndf", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--beta1", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save-at-seconds", type=float, default=None)
    parser.add_argument("--log-every", type=int, default=200, help="a progress line on stderr every this many steps (0: none)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    process_start = time.perf_counter()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images = load_images(args)
    n, channels, size = images.shape[0], images.shape[1], images.shape[2]
    os.makedirs(args.out, exist_ok=True)

    net_g = Net(generator(size, channels, args.nz, args.ngf))
    net_g.apply(weights_init)
    net_d = Net(discriminator(size, channels, args.ndf))
    net_d.apply(weights_init)
    criterion = nn.BCEWithLogitsLoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
    order = torch.Generator().manual_seed(args.seed)

    batches_per_epoch = math.ceil(n / args.batch)
    if args.epochs is None:
        args.epochs = 3 if args.max_steps is None else math.ceil(args.max_steps / batches_per_epoch)
    total = args.epochs * batches_per_epoch if args.max_steps is None else min(args.max_steps, args.epochs * batches_per_epoch)
    step = 0
    train_seconds = 0.0
    times = []  # the clock after each step
    saved_at = None
    last = {}
    for epoch in range(args.epochs):
        if step >= total:
            break
        perm = torch.randperm(n, generator=order)
        for i in range(batches_per_epoch):
            if step >= total:
                break
            t0 = time.perf_counter()
            real = images[perm[i * args.batch:(i + 1) * args.batch]]
            noise = torch.randn(real.size(0), args.nz, 1, 1)
            last = {"epoch": epoch, **examples_step(net_g, net_d, opt_g, opt_d, criterion, real, noise)}
            train_seconds += time.perf_counter() - t0
            step += 1
            times.append(round(train_seconds, 4))
            if args.log_every > 0 and (step % args.log_every == 0 or step == total):
                print(f"pytorch seed {args.seed}: step {step}/{total}, {train_seconds:.0f} s, lossD {last['lossD']:.3f} lossG {last['lossG']:.3f}", file=sys.stderr, flush=True)
            if args.save_at_seconds is not None and saved_at is None and train_seconds >= args.save_at_seconds:
                torch.save(net_g.state_dict(), os.path.join(args.out, "netG_at.pth"))
                saved_at = {"seconds": args.save_at_seconds, "step": step, "train_seconds": train_seconds, "file": "netG_at.pth"}

    torch.save(net_g.state_dict(), os.path.join(args.out, "netG.pth"))
    with open(os.path.join(args.out, "times.json"), "w") as f:
        json.dump(times, f)
    result = {
        "peer": "pytorch",
        "version": torch.__version__,
        "threads": args.threads,
        "seed": args.seed,
        "images": n,
        "batch": args.batch,
        "batches_per_epoch": batches_per_epoch,
        "epochs": args.epochs,
        "steps": step,
        "train_seconds": round(train_seconds, 3),
        "process_seconds": round(time.perf_counter() - process_start, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "save_at": saved_at,
        **last,
    }
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump(result, f)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
