"""Continue training a dcgan-ts DCGAN in PyTorch with DistributedDataParallel, on many
processes and machines, and hand the result back to dcgan-ts.

    dcgan export --checkpoint runs/<run> --format pytorch --out netG.pth --netD netD.pth
    torchrun --nproc_per_node 2 examples/pytorch/ddp_train.py --netG netG.pth --netD netD.pth \\
        --data ./my-photos --steps 1000 --out-dir ddp-out
    dcgan import ddp-out/netG.pth --netD ddp-out/netD.pth --out ddp.safetensors

Models are pytorch/examples' Generator / Discriminator (dcgan_models.py) with the sizes from
`<netG>.json` (written by dcgan export) or read off the tensor shapes. The loop is
pytorch/examples' dcgan/main.py (BCE, Adam(lr, beta1, 0.999), D on real then on detached
fake, then G through D). Backend: nccl when CUDA is available, else gloo (CPU); each process
trains on its own shard (DistributedSampler) or, with `--data random`, on its own random
images (for smoke tests). BatchNorm statistics stay per process (broadcast_buffers=False:
buffers broadcast in place clash with the several D passes per step); they are averaged
over the processes before saving. Rank 0 writes netG.pth / netD.pth (plain state dicts,
torch.save zip format, no `module.` prefix) and netG.pth.json into --out-dir.

Multi-machine: torchrun --nnodes N --node_rank R --master_addr HOST --master_port PORT ...
"""

import argparse
import datetime
import faulthandler
import json
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dcgan_models import Discriminator, Generator, hidden_blocks  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--netG", required=True, help="generator state dict (.pth) from dcgan export")
    p.add_argument("--netD", required=True, help="discriminator state dict (.pth) from dcgan export")
    p.add_argument("--config", help="sizes JSON (default: <netG>.json if it exists, else read off the shapes)")
    p.add_argument("--data", default="random", help="'random' (random images, for tests) or an image folder (needs torchvision)")
    p.add_argument("--steps", type=int, default=100, help="training steps (one D and one G update each)")
    p.add_argument("--batch-size", type=int, default=64, help="images per process per step")
    p.add_argument("--lr", type=float, default=0.0002)
    p.add_argument("--beta1", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", default="ddp-out")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--timeout", type=float, default=1800, help="seconds a collective may wait before failing (default 1800)")
    p.add_argument("--watchdog", type=float, default=0, help="print every thread's stack to stderr if the process is still running after this many seconds (0: off)")
    return p.parse_args()


def strip_module(sd):
    if sd and all(k.startswith("module.") for k in sd):
        return {k[len("module."):]: v for k, v in sd.items()}
    return sd


def sizes_from_shapes(g, d):
    """nz, ngf, ndf, nc, image_size from the shapes of pytorch/examples-style state dicts."""
    def convs(sd):
        return [v for k, v in sorted(((int(k.split(".")[1]), v) for k, v in sd.items() if k.startswith("main.") and k.endswith(".weight") and v.dim() == 4))]
    gw, dw = convs(g), convs(d)
    if len(gw) < 2 or len(dw) < 2:
        raise SystemExit("ddp_train.py: the state dicts are not pytorch/examples-style DCGANs (no main.N.weight convolutions)")
    return {"nz": gw[0].shape[0], "ngf": gw[-1].shape[0], "ndf": dw[0].shape[0], "nc": gw[-1].shape[1], "image_size": 2 ** (len(gw) - 2 + 3)}


def load_sizes(args, g, d):
    path = args.config or args.netG + ".json"
    if os.path.exists(path):
        with open(path) as f:
            meta = json.load(f)
        if meta.get("config", {}).get("projection", "conv") != "conv":
            raise SystemExit("ddp_train.py: the model uses the linear projection; pytorch/examples' Generator starts with a ConvTranspose2d (export a --projection conv model)")
        return meta["pytorch"]
    return sizes_from_shapes(g, d)


def batches(args, sizes, rank, world, device):
    """An endless iterator of image batches in [-1, 1], this process's shard."""
    n, nc, s = args.batch_size, sizes["nc"], sizes["image_size"]
    if args.data == "random":
        gen = torch.Generator().manual_seed(args.seed * 1000 + rank)
        while True:
            yield (torch.rand(n, nc, s, s, generator=gen) * 2 - 1).to(device)
    try:
        import torchvision.datasets as dset
        import torchvision.transforms as T
    except ImportError:
        raise SystemExit("ddp_train.py: --data DIR needs torchvision (or use --data random)")
    tf = [T.Resize(s), T.CenterCrop(s)] + ([T.Grayscale(1)] if nc == 1 else []) + [T.ToTensor(), T.Normalize([0.5] * nc, [0.5] * nc)]
    ds = dset.ImageFolder(root=args.data, transform=T.Compose(tf))
    sampler = torch.utils.data.distributed.DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = torch.utils.data.DataLoader(ds, batch_size=n, sampler=sampler, drop_last=True)
    epoch = 0
    while True:
        sampler.set_epoch(epoch)
        for x, _ in loader:
            yield x.to(device)
        epoch += 1


def average_buffers(module, world):
    """Averages BatchNorm running statistics over the processes (counters are equal already)."""
    for name, b in module.named_buffers():
        if b.is_floating_point():
            dist.all_reduce(b, op=dist.ReduceOp.SUM)
            b /= world


def main():
    args = parse_args()
    if args.watchdog > 0:
        faulthandler.dump_traceback_later(args.watchdog, exit=False)
    use_cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(seconds=args.timeout))
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    torch.manual_seed(args.seed * 1000 + rank)

    g_sd = strip_module(torch.load(args.netG, map_location="cpu", weights_only=True))
    d_sd = strip_module(torch.load(args.netD, map_location="cpu", weights_only=True))
    sizes = load_sizes(args, g_sd, d_sd)
    hidden_blocks(sizes["image_size"])
    netG = Generator(sizes["nz"], sizes["ngf"], sizes["nc"], sizes["image_size"])
    netD = Discriminator(sizes["ndf"], sizes["nc"], sizes["image_size"])
    netG.load_state_dict(g_sd, strict=True)
    netD.load_state_dict(d_sd, strict=True)
    netG.to(device).train()
    netD.to(device).train()
    ids = [local] if use_cuda else None
    ddpG = DDP(netG, device_ids=ids, broadcast_buffers=False)
    ddpD = DDP(netD, device_ids=ids, broadcast_buffers=False)
    optG = torch.optim.Adam(ddpG.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
    optD = torch.optim.Adam(ddpD.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
    bce = nn.BCELoss()
    data = batches(args, sizes, rank, world, device)
    start = time.time()
    for step in range(1, args.steps + 1):
        real = next(data)
        n = real.size(0)
        ones = torch.ones(n, device=device)
        zeros = torch.zeros(n, device=device)
        ddpD.zero_grad()
        errD_real = bce(ddpD(real), ones)
        errD_real.backward()
        fake = ddpG(torch.randn(n, sizes["nz"], 1, 1, device=device))
        errD_fake = bce(ddpD(fake.detach()), zeros)
        errD_fake.backward()
        optD.step()
        ddpG.zero_grad()
        errG = bce(ddpD(fake), ones)
        errG.backward()
        optG.step()
        if rank == 0 and (step % args.log_every == 0 or step == args.steps):
            print("[%d/%d] Loss_D %.4f Loss_G %.4f (%d processes, %.1fs)" % (step, args.steps, (errD_real + errD_fake).item(), errG.item(), world, time.time() - start), flush=True)

    average_buffers(netG, world)
    average_buffers(netD, world)
    if rank == 0:
        os.makedirs(args.out_dir, exist_ok=True)
        g_path = os.path.join(args.out_dir, "netG.pth")
        d_path = os.path.join(args.out_dir, "netD.pth")
        torch.save({k: v.cpu() for k, v in netG.state_dict().items()}, g_path)
        torch.save({k: v.cpu() for k, v in netD.state_dict().items()}, d_path)
        with open(g_path + ".json", "w") as f:
            json.dump({"format": "ddp_train.py", "netG": "netG.pth", "netD": "netD.pth", "pytorch": sizes, "steps": args.steps, "processes": world, "lr": args.lr, "beta1": args.beta1, "batch_size_per_process": args.batch_size}, f, indent=2)
        print("wrote %s and %s" % (g_path, d_path), flush=True)
    # Free the DDP wrappers while their process group lives: with torch 1.13 + gloo, a DDP
    # reducer destroyed after destroy_process_group() now and then hangs the process at exit.
    del ddpG, ddpD, optG, optD
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
