"""PyTorch's side of bench/paired-steps.ts: pytorch/examples' DCGAN step (BCE with logits, D on
real then on the detached fake, G through the updated D, Adam beta1 0.5), from the weights,
real batches and noise our trainer wrote into WORK/inputs.{f32,json}. Prints the losses and
D's mean outputs per step as one JSON array."""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_dcgan import Net, discriminator, examples_step, generator  # noqa: E402


def main():
    work = sys.argv[1]
    torch.set_num_threads(2)
    meta = json.load(open(os.path.join(work, "inputs.json")))
    data = np.fromfile(os.path.join(work, "inputs.f32"), dtype=np.float32)

    def get(name):
        entry = meta["index"][name]
        n = int(np.prod(entry["shape"])) if entry["shape"] else 1
        return torch.from_numpy(data[entry["offset"]:entry["offset"] + n].copy()).reshape(entry["shape"])

    net_g = Net(generator(meta["size"], meta["channels"], meta["nz"], meta["ngf"]))
    net_d = Net(discriminator(meta["size"], meta["channels"], meta["ndf"]))
    with torch.no_grad():
        for prefix, net in (("G.", net_g), ("D.", net_d)):
            for name, t in net.state_dict().items():
                t.copy_(get(prefix + name).to(t.dtype).reshape(t.shape))
    criterion = nn.BCEWithLogitsLoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=meta["lr"], betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=meta["lr"], betas=(0.5, 0.999))
    keys = ("lossD", "lossG", "D_x", "D_G_z1", "D_G_z2")
    out = []
    for i in range(meta["steps"]):
        r = examples_step(net_g, net_d, opt_g, opt_d, criterion, get(f"real.{i}"), get(f"noise.{i}"))
        out.append([r[k] for k in keys])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
