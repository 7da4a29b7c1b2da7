"""pytorch/examples' DCGAN Generator and Discriminator, parametrised by image size.

Layer for layer these are the `Generator` / `Discriminator` of pytorch/examples
`dcgan/main.py` (for image_size=64 exactly so), with the number of stride-2 blocks following
the image size (log2(image_size) - 3), as dcgan-ts builds its models: state dict names
(`main.0.weight`, `main.1.running_mean`, ...) and shapes match `dcgan export` / `dcgan import`.
"""

import math

import torch.nn as nn


def hidden_blocks(image_size):
    blocks = int(round(math.log2(image_size))) - 3
    if image_size < 16 or 2 ** (blocks + 3) != image_size:
        raise ValueError("image size must be a power of two >= 16, got %r" % (image_size,))
    return blocks


class Generator(nn.Module):
    def __init__(self, nz=100, ngf=64, nc=3, image_size=64):
        super().__init__()
        blocks = hidden_blocks(image_size)
        mult = 2 ** blocks
        layers = [nn.ConvTranspose2d(nz, ngf * mult, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * mult), nn.ReLU(True)]
        for _ in range(blocks):
            layers += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * mult // 2),
                nn.ReLU(True),
            ]
            mult //= 2
        layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self, ndf=64, nc=3, image_size=64):
        super().__init__()
        blocks = hidden_blocks(image_size)
        layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        mult = 1
        for _ in range(blocks):
            layers += [
                nn.Conv2d(ndf * mult, ndf * mult * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * mult * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            mult *= 2
        layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


def weights_init(m):
    """pytorch/examples' initialisation: conv weights N(0, 0.02), BatchNorm weight N(1, 0.02), bias 0."""
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)

