"""PyTorch .pth fixtures for dcgan-ts's import/export tests (test/io-torch.test.ts).

Writes to test/golden/fixtures/torch/:
  g32.pth, d32.pth          pytorch/examples-style DCGAN, 32x32x1 (nz 8, ngf 4, ndf 4), BatchNorm
                            statistics after 3 training steps on random data
  g64.pth, d64.pth          the same at 64x64x3 (nz 8, ngf 2, ndf 2): pytorch/examples' layers
  g32_dataparallel.pth      g32 saved from an nn.DataParallel wrapper (keys start with `module.`)
  g32_noncontiguous.pth     g32 with a transposed (non-contiguous) weight, a tensor at a storage
                            offset and two tensors sharing one storage
  g32_float16.pth, g32_bfloat16.pth, g32_float64.pth   g32 with its floating tensors converted
  g32_legacy.pth            g32 in the legacy (non-zip) format (_use_new_zipfile_serialization=False)
  g32_deflated.pth          g32's zip rewritten with deflated entries and the newer records
                            (byteorder, .format_version, .storage_alignment, .data/serialization_id)
  outputs.json              config of each pair, a fixed z, G's eval-mode images and D's eval-mode
                            logits (before the Sigmoid) on those images
  ours_g32_resaved.pth      ours_g32.pth (written by dcgan-ts: test/golden/make_ours_pth.ts) loaded
                            with torch.load(weights_only=True) into Generator with load_state_dict
                            (strict), then saved again with torch.save

Run from the repository root, after `node --import tsx test/golden/make_ours_pth.ts`:

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 test/golden/make_torch_checkpoints.py

Deterministic (one thread, fixed seeds) except g32_legacy.pth, whose storage keys are memory
addresses; generated with PyTorch 1.13 CPU.
"""

import base64
import collections
import json
import os
import sys
import zipfile

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "pytorch"))
from dcgan_models import Discriminator, Generator, weights_init  # noqa: E402

torch.set_num_threads(1)
OUT = os.path.join(HERE, "fixtures", "torch")


def enc(t):
    """{"shape", "f32le"}: the float32 values, little-endian, in base64 (compact and exact)."""
    a = t.detach().cpu().numpy().astype("<f4")
    return {"shape": list(a.shape), "f32le": base64.b64encode(a.tobytes()).decode("ascii")}


def save(obj, name, **kw):
    path = os.path.join(OUT, name)
    torch.save(obj, path, **kw)
    print("wrote %-28s %8d bytes" % (name, os.path.getsize(path)))


def train_pair(seed, nz, ngf, ndf, nc, size, steps=3, batch=8):
    torch.manual_seed(seed)
    netG = Generator(nz, ngf, nc, size)
    netD = Discriminator(ndf, nc, size)
    netG.apply(weights_init)
    netD.apply(weights_init)
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCELoss()
    for _ in range(steps):
        real = torch.rand(batch, nc, size, size) * 2 - 1
        netD.zero_grad()
        errD_real = bce(netD(real), torch.ones(batch))
        errD_real.backward()
        fake = netG(torch.randn(batch, nz, 1, 1))
        errD_fake = bce(netD(fake.detach()), torch.zeros(batch))
        errD_fake.backward()
        optD.step()
        netG.zero_grad()
        errG = bce(netD(fake), torch.ones(batch))
        errG.backward()
        optG.step()
    netG.eval()
    netD.eval()
    return netG, netD


def outputs(netG, netD, nz, seed, n):
    torch.manual_seed(seed)
    z = torch.randn(n, nz)
    with torch.no_grad():
        images = netG(z.view(n, nz, 1, 1))
        logits = netD.main[:-1](images).view(-1)
    return {"z": enc(z), "images": enc(images), "d_logits": enc(logits)}


def main():
    os.makedirs(OUT, exist_ok=True)
    result = {"torch_version": torch.__version__}
    pairs = {
        "32": dict(seed=1, nz=8, ngf=4, ndf=4, nc=1, size=32),
        "64": dict(seed=2, nz=8, ngf=2, ndf=2, nc=3, size=64),
    }
    nets = {}
    for key, p in pairs.items():
        netG, netD = train_pair(p["seed"], p["nz"], p["ngf"], p["ndf"], p["nc"], p["size"])
        nets[key] = (netG, netD)
        save(netG.state_dict(), "g%s.pth" % key)
        save(netD.state_dict(), "d%s.pth" % key)
        result[key] = {
            "config": {"imageSize": p["size"], "channels": p["nc"], "nz": p["nz"], "ngf": p["ngf"], "ndf": p["ndf"], "projection": "conv"},
            **outputs(netG, netD, p["nz"], 100 + int(key), 4 if key == "32" else 2),
        }

    netG = nets["32"][0]
    sd = netG.state_dict()

    # DataParallel: the state dict's keys gain `module.`.
    save(nn.DataParallel(netG).state_dict(), "g32_dataparallel.pth")

    # Non-contiguous, offset and shared storages, with the same values.
    odd = collections.OrderedDict((k, v.clone()) for k, v in sd.items())
    w = sd["main.3.weight"]  # [16, 8, 4, 4]
    odd["main.3.weight"] = w.permute(1, 0, 3, 2).contiguous().permute(1, 0, 3, 2)
    assert not odd["main.3.weight"].is_contiguous()
    bn_w = sd["main.1.weight"]
    padded = torch.cat([torch.full((5,), 7.0), bn_w, torch.full((3,), 9.0)])
    odd["main.1.weight"] = padded[5 : 5 + bn_w.numel()]
    mean, var = sd["main.4.running_mean"], sd["main.4.running_var"]
    both = torch.cat([mean, var])
    odd["main.4.running_mean"] = both[: mean.numel()]
    odd["main.4.running_var"] = both[mean.numel() :]
    last = sd["main.9.weight"]  # [4, 1, 4, 4]: every other column of a wider tensor
    wide = torch.stack([last, torch.zeros_like(last)], dim=-1).reshape(4, 1, 4, 8)
    odd["main.9.weight"] = wide[..., ::2]
    assert not odd["main.9.weight"].is_contiguous()
    for k in sd:
        assert torch.equal(odd[k], sd[k]), k
    save(odd, "g32_noncontiguous.pth")

    for dtype, name in [(torch.float16, "float16"), (torch.bfloat16, "bfloat16"), (torch.float64, "float64")]:
        save(collections.OrderedDict((k, v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()), "g32_%s.pth" % name)

    save(sd, "g32_legacy.pth", _use_new_zipfile_serialization=False)

    # Deflated entries and the records newer releases write.
    src = zipfile.ZipFile(os.path.join(OUT, "g32.pth"))
    deflated = os.path.join(OUT, "g32_deflated.pth")
    records = [(info.filename, src.read(info.filename)) for info in src.infolist()]
    records += [
        ("g32/byteorder", b"little"),
        ("g32/.format_version", b"1"),
        ("g32/.storage_alignment", b"64"),
        ("g32/.data/serialization_id", b"0123456789012345678901234567890123456789"),
    ]
    with zipfile.ZipFile(deflated, "w") as z:
        for name, data in records:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    print("wrote %-28s %8d bytes" % ("g32_deflated.pth", os.path.getsize(deflated)))

    # Our writer -> torch.load(weights_only=True) -> load_state_dict -> torch.save.
    ours = os.path.join(OUT, "ours_g32.pth")
    if os.path.exists(ours):
        loaded = torch.load(ours, weights_only=True)
        g = Generator(8, 4, 1, 32)
        g.load_state_dict(loaded, strict=True)
        for k, v in loaded.items():
            assert torch.equal(g.state_dict()[k], v), k
        save(g.state_dict(), "ours_g32_resaved.pth")
    else:
        print("skipped the round trip: %s is missing (run test/golden/make_ours_pth.ts first)" % ours)

    path = os.path.join(OUT, "outputs.json")
    with open(path, "w") as f:
        json.dump(result, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print("wrote %-28s %8d bytes" % ("outputs.json", os.path.getsize(path)))


if __name__ == "__main__":
    main()
