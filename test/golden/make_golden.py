"""Generate PyTorch reference fixtures ("golden" values) for the dcgan-ts tests.

The TypeScript test suite compares its own kernels, layers, losses, optimizers
and a short end-to-end DCGAN training run against the JSON files written here,
so the tests themselves never need PyTorch.  This script is committed so the
fixtures can be regenerated; it is deterministic (single thread, fixed seeds),
so re-running it reproduces byte-identical files.

Files written to test/golden/fixtures/:
  conv2d.json            F.conv2d forward + backward (gx, gw, gb)
  conv_transpose2d.json  F.conv_transpose2d forward + backward
  batch_norm2d.json      nn.BatchNorm2d: 3 train steps (running stats), grads, eval
  losses.json            BCEWithLogits / BCE, mean and sum, value + input grad
  activations.json       relu, leaky_relu(0.2), tanh, sigmoid forward + backward
  linear.json            F.linear forward + backward
  adam.json              torch.optim.Adam, 5 steps, 3 hyper-parameter sets
  sgd.json               torch.optim.SGD, 5 steps, 3 hyper-parameter sets
  dcgan32.json           3 training steps of a 32x32 single-channel DCGAN pair
                         initialised from an integer hash reproducible in TS

Tensor encoding: {"shape": [...], "data": [flat row-major floats]}.  Every
value is a float32 widened to a Python float, whose repr round-trips exactly
(parse as double, then Math.fround / Float32Array gives the original float32).

Run from the repository root:

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 test/golden/make_golden.py

(Generated with PyTorch 1.13 CPU and numpy 1.24.)
"""

import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


# --------------------------------------------------------------------------
# encoding helpers
# --------------------------------------------------------------------------

def to_f32_array(t):
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    return np.asarray(t).astype(np.float32)


def enc(t):
    """Tensor -> {"shape", "data"} with exact float32 values."""
    a = to_f32_array(t)
    # ndarray.tolist() on float32 gives Python floats equal to the float32s.
    return {"shape": list(a.shape), "data": a.ravel().tolist()}


def enc_scalar(t):
    return {"shape": [], "data": [f32(t)]}


def f32(v):
    """A single value as an exact float32-valued Python float."""
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().item()
    return float(np.float32(v))


def enc_or_null(t):
    """Encode a tensor, or None when it holds a non-finite value."""
    a = to_f32_array(t)
    if not np.all(np.isfinite(a)):
        return None
    return enc(a)


def write_json(name, obj):
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print("wrote %-24s %8d bytes" % (name, os.path.getsize(path)))


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float32)


# --------------------------------------------------------------------------
# conv2d
# --------------------------------------------------------------------------

def make_conv2d():
    # (N, C, H, W, Cout, k, stride, padding, bias)
    specs = [
        (2, 3, 7, 6, 4, 3, 1, 0, False),
        (2, 3, 7, 7, 4, 3, 2, 1, True),
        (3, 2, 8, 8, 5, 4, 2, 1, False),   # DCGAN-style downsampling
        (1, 2, 9, 7, 3, 5, 3, 2, True),
        (2, 1, 4, 4, 1, 3, 1, 0, False),
        (1, 4, 5, 5, 2, 1, 1, 0, True),
        (2, 3, 6, 6, 2, 3, 1, 2, False),   # padding larger than needed
        (2, 1, 32, 32, 2, 4, 2, 1, False),  # DCGAN first-layer geometry (small Cout)
    ]
    cases = []
    for ci, (n, c, h, w_, cout, k, s, p, bias) in enumerate(specs):
        torch.manual_seed(100 + ci)
        x = randn(n, c, h, w_).requires_grad_(True)
        w = (randn(cout, c, k, k) * 0.3).requires_grad_(True)
        b = randn(cout).requires_grad_(True) if bias else None
        y = F.conv2d(x, w, b, stride=s, padding=p)
        gy = randn(*y.shape)
        (y * gy).sum().backward()
        tensors = {"x": enc(x), "w": enc(w)}
        if bias:
            tensors["b"] = enc(b)
        tensors.update({"y": enc(y), "gy": enc(gy), "gx": enc(x.grad), "gw": enc(w.grad)})
        if bias:
            tensors["gb"] = enc(b.grad)
        name = "N%dC%dH%dW%d_Cout%d_k%d_s%d_p%d%s" % (
            n, c, h, w_, cout, k, s, p, "_bias" if bias else "")
        cases.append({
            "name": name,
            "params": {"stride": s, "padding": p, "bias": bias},
            "tensors": tensors,
        })
    write_json("conv2d.json", {"cases": cases})


# --------------------------------------------------------------------------
# conv_transpose2d
# --------------------------------------------------------------------------

def make_conv_transpose2d():
    # (N, Cin, H, W, Cout, k, stride, padding, output_padding, bias)
    specs = [
        (2, 3, 3, 4, 2, 3, 1, 0, 0, False),
        (2, 4, 4, 4, 3, 4, 2, 1, 0, False),  # DCGAN-style upsampling
        (2, 5, 1, 1, 4, 4, 1, 0, 0, False),  # z projection 1x1 -> 4x4
        (1, 2, 3, 3, 2, 3, 2, 1, 1, True),
        (2, 2, 2, 3, 3, 5, 3, 2, 2, True),
        (1, 1, 2, 2, 1, 3, 1, 0, 0, False),
    ]
    cases = []
    for ci, (n, cin, h, w_, cout, k, s, p, op, bias) in enumerate(specs):
        torch.manual_seed(200 + ci)
        x = randn(n, cin, h, w_).requires_grad_(True)
        w = (randn(cin, cout, k, k) * 0.3).requires_grad_(True)
        b = randn(cout).requires_grad_(True) if bias else None
        y = F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op)
        gy = randn(*y.shape)
        (y * gy).sum().backward()
        tensors = {"x": enc(x), "w": enc(w)}
        if bias:
            tensors["b"] = enc(b)
        tensors.update({"y": enc(y), "gy": enc(gy), "gx": enc(x.grad), "gw": enc(w.grad)})
        if bias:
            tensors["gb"] = enc(b.grad)
        name = "N%dCin%dH%dW%d_Cout%d_k%d_s%d_p%d_op%d%s" % (
            n, cin, h, w_, cout, k, s, p, op, "_bias" if bias else "")
        cases.append({
            "name": name,
            "params": {"stride": s, "padding": p, "output_padding": op, "bias": bias},
            "tensors": tensors,
        })
    write_json("conv_transpose2d.json", {"cases": cases})


# --------------------------------------------------------------------------
# batch_norm2d
# --------------------------------------------------------------------------

def make_batch_norm2d():
    specs = [(4, 3, 5, 5), (2, 4, 3, 2)]
    cases = []
    for ci, (n, c, h, w_) in enumerate(specs):
        torch.manual_seed(300 + ci)
        bn = nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)
        with torch.no_grad():
            bn.weight.copy_(1.0 + 0.1 * randn(c))
            bn.bias.copy_(0.1 * randn(c))
        case = {
            "name": "N%dC%dH%dW%d" % (n, c, h, w_),
            "params": {"eps": 1e-5, "momentum": 0.1},
            "tensors": {"weight": enc(bn.weight), "bias": enc(bn.bias)},
            "train_steps": [],
        }
        bn.train()
        nsteps = 3
        for step in range(nsteps):
            x = (randn(n, c, h, w_) * 2.0 + 0.5).requires_grad_(True)
            y = bn(x)
            case["train_steps"].append({
                "x": enc(x), "y": enc(y),
                "running_mean": enc(bn.running_mean),
                "running_var": enc(bn.running_var),
            })
            if step == nsteps - 1:
                gy = randn(*y.shape)
                bn.zero_grad()
                (y * gy).sum().backward()
                case["train_grad"] = {
                    "gy": enc(gy), "gx": enc(x.grad),
                    "gweight": enc(bn.weight.grad), "gbias": enc(bn.bias.grad),
                }
        case["num_batches_tracked"] = int(bn.num_batches_tracked.item())

        bn.eval()
        bn.weight.grad = None
        bn.bias.grad = None
        x = (randn(n, c, h, w_) * 2.0 + 0.5).requires_grad_(True)
        y = bn(x)
        gy = randn(*y.shape)
        (y * gy).sum().backward()
        case["eval"] = {
            "x": enc(x), "y": enc(y), "gy": enc(gy), "gx": enc(x.grad),
            "gweight": enc(bn.weight.grad), "gbias": enc(bn.bias.grad),
        }
        cases.append(case)
    write_json("batch_norm2d.json", {"cases": cases})


# --------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------

def loss_case(name, kind, reduction, x_val, t):
    x = x_val.clone().requires_grad_(True)
    if kind == "bce_with_logits":
        loss = F.binary_cross_entropy_with_logits(x, t, reduction=reduction)
    else:
        loss = F.binary_cross_entropy(x, t, reduction=reduction)
    loss.backward()
    lv = loss.detach().item()
    assert math.isfinite(lv), (name, lv)
    return {
        "name": name, "loss": kind, "reduction": reduction,
        "tensors": {
            "x": enc(x), "t": enc(t), "loss": enc_scalar(loss),
            "gx": enc_or_null(x.grad),
        },
    }


def make_losses():
    cases = []
    torch.manual_seed(400)
    # logits: randn*3 with some extreme entries
    x = randn(4, 5) * 3.0
    extremes = [30.0, -30.0, 80.0, -80.0, 0.0, 15.0, -15.0, 100.0]
    flat = x.view(-1)
    for i, v in enumerate(extremes):
        flat[i * 2 + 1] = v
    # targets: exact 0/1 mixed with soft labels
    t_choices = torch.tensor([0.0, 1.0, 0.9, 0.1, 0.3, 1.0, 0.0, 0.5])
    t = t_choices[torch.randint(0, len(t_choices), (4, 5))].clone()
    # make sure the extreme logits meet both exact targets
    tf = t.view(-1)
    tf[1], tf[3], tf[5], tf[7] = 0.0, 1.0, 1.0, 0.0   # +30 vs 0, -30 vs 1, +80 vs 1, -80 vs 0
    tf[15] = 0.0                                      # +100 vs 0 (large loss)
    for red in ("mean", "sum"):
        cases.append(loss_case("bce_with_logits_%s" % red, "bce_with_logits", red, x, t))

    # BCE on probabilities, including values very close to 0 and 1
    torch.manual_seed(401)
    p = torch.sigmoid(randn(4, 5) * 2.0)
    pf = p.view(-1)
    pf[0] = 1e-6
    pf[1] = 1.0 - 1e-6
    pf[2] = 1e-3
    pf[3] = 0.999
    t2 = t_choices[torch.randint(0, len(t_choices), (4, 5))].clone()
    t2f = t2.view(-1)
    t2f[0], t2f[1], t2f[2], t2f[3] = 1.0, 0.0, 0.0, 1.0
    for red in ("mean", "sum"):
        cases.append(loss_case("bce_%s" % red, "bce", red, p, t2))

    # BCE with exact 0 and 1 probabilities: PyTorch clamps log() at -100.
    torch.manual_seed(402)
    p3 = torch.sigmoid(randn(2, 4))
    t3 = torch.tensor([[0.0, 1.0, 1.0, 0.0], [0.5, 0.9, 0.3, 1.0]])
    p3f = p3.view(-1)
    p3f[0] = 0.0   # p=0, t=0 -> 0
    p3f[1] = 1.0   # p=1, t=1 -> 0
    p3f[2] = 0.0   # p=0, t=1 -> 100 (clamped)
    p3f[3] = 1.0   # p=1, t=0 -> 100 (clamped)
    p3f[4] = 0.0   # p=0, t=0.5 -> 50
    for red in ("mean", "sum"):
        cases.append(loss_case("bce_exact01_%s" % red, "bce", red, p3, t3))
    write_json("losses.json", {"cases": cases})


# --------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------

def make_activations():
    fns = [
        ("relu", {}, lambda v: F.relu(v)),
        ("leaky_relu", {"negative_slope": 0.2}, lambda v: F.leaky_relu(v, 0.2)),
        ("tanh", {}, torch.tanh),
        ("sigmoid", {}, torch.sigmoid),
    ]
    cases = []
    for ci, (name, params, fn) in enumerate(fns):
        torch.manual_seed(500 + ci)
        xv = randn(3, 7) * 3.0
        xv[xv == 0] = 0.5  # avoid the kink of relu / leaky_relu
        x = xv.requires_grad_(True)
        y = fn(x)
        gy = randn(*y.shape)
        (y * gy).sum().backward()
        case = {"name": name}
        if params:
            case["params"] = params
        case["tensors"] = {"x": enc(x), "y": enc(y), "gy": enc(gy), "gx": enc(x.grad)}
        cases.append(case)
    write_json("activations.json", {"cases": cases})


# --------------------------------------------------------------------------
# linear
# --------------------------------------------------------------------------

def make_linear():
    cases = []
    for ci, bias in enumerate((True, False)):
        torch.manual_seed(600 + ci)
        x = randn(5, 6).requires_grad_(True)
        w = randn(4, 6).requires_grad_(True)
        b = randn(4).requires_grad_(True) if bias else None
        y = F.linear(x, w, b)
        gy = randn(*y.shape)
        (y * gy).sum().backward()
        tensors = {"x": enc(x), "w": enc(w)}
        if bias:
            tensors["b"] = enc(b)
        tensors.update({"y": enc(y), "gy": enc(gy), "gx": enc(x.grad), "gw": enc(w.grad)})
        if bias:
            tensors["gb"] = enc(b.grad)
        cases.append({"name": "bias" if bias else "no_bias",
                      "params": {"bias": bias}, "tensors": tensors})
    write_json("linear.json", {"cases": cases})


# --------------------------------------------------------------------------
# optimizers
# --------------------------------------------------------------------------

OPT_SHAPES = [(3, 4), (5,)]
OPT_STEPS = 5


def varied_grad(shape):
    """randn scaled per element by 10**u, u uniform in [-4, 1): magnitudes 1e-4..10."""
    mag = torch.pow(torch.tensor(10.0), torch.rand(*shape) * 5.0 - 4.0)
    return randn(*shape) * mag


def run_optimizer(seed, make_opt):
    torch.manual_seed(seed)
    params = [randn(*s).requires_grad_(True) for s in OPT_SHAPES]
    initial = [enc(p) for p in params]
    grads = [[varied_grad(s) for s in OPT_SHAPES] for _ in range(OPT_STEPS)]
    opt = make_opt(params)
    params_after = []
    for step in range(OPT_STEPS):
        for p, g in zip(params, grads[step]):
            p.grad = g.clone()
        opt.step()
        params_after.append([enc(p) for p in params])
    return opt, params, {
        "initial": initial,
        "grads": [[enc(g) for g in gs] for gs in grads],
        "params_after": params_after,
    }


def make_adam():
    specs = [
        ("default", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)),
        ("dcgan", dict(lr=2e-4, betas=(0.5, 0.999), eps=1e-8, weight_decay=0.0)),
        ("weight_decay", dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)),
    ]
    cases = []
    for ci, (name, hp) in enumerate(specs):
        opt, params, rec = run_optimizer(
            700 + ci, lambda ps: torch.optim.Adam(ps, foreach=False, **hp))
        state_after = []
        for p in params:
            st = opt.state[p]
            state_after.append({"exp_avg": enc(st["exp_avg"]),
                                "exp_avg_sq": enc(st["exp_avg_sq"])})
        case = {
            "name": name,
            "hparams": {"lr": hp["lr"], "beta1": hp["betas"][0], "beta2": hp["betas"][1],
                        "eps": hp["eps"], "weight_decay": hp["weight_decay"]},
        }
        case.update(rec)
        case["state_after"] = state_after
        cases.append(case)
    write_json("adam.json", {"cases": cases})


def make_sgd():
    specs = [
        ("momentum", dict(lr=0.05, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False)),
        ("nesterov", dict(lr=0.05, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=True)),
        ("weight_decay", dict(lr=0.05, momentum=0.0, dampening=0.0, weight_decay=0.1, nesterov=False)),
    ]
    cases = []
    for ci, (name, hp) in enumerate(specs):
        opt, params, rec = run_optimizer(
            800 + ci, lambda ps: torch.optim.SGD(ps, foreach=False, **hp))
        state_after = []
        for p in params:
            buf = opt.state[p].get("momentum_buffer") if p in opt.state else None
            state_after.append({"momentum_buffer": enc(buf) if buf is not None else None})
        case = {"name": name, "hparams": dict(hp)}
        case.update(rec)
        case["state_after"] = state_after
        cases.append(case)
    write_json("sgd.json", {"cases": cases})


# --------------------------------------------------------------------------
# integer-hash initialisation (mirrored exactly by the TypeScript tests)
# --------------------------------------------------------------------------

M32 = 0xFFFFFFFF


def hash_u32(seed, i):
    h = (seed * 0x9E3779B1 + i * 0x85EBCA77 + 0x165667B1) & M32
    h ^= h >> 15
    h = (h * 0x2C1B3C6D) & M32
    h ^= h >> 12
    h = (h * 0x297A2D39) & M32
    h ^= h >> 15
    return h


def hash_uniform_scalar(seed, n, a):
    return np.array([(2.0 * (hash_u32(seed, i) / 4294967296.0) - 1.0) * a
                     for i in range(n)], dtype=np.float32)


def hash_u32_vec(seed, n):
    """Vectorised hash_u32 for i = 0..n-1 (all intermediates < 2**63)."""
    m = np.uint64(M32)
    i = np.arange(n, dtype=np.uint64)
    h = (np.uint64((seed * 0x9E3779B1) & M32) + i * np.uint64(0x85EBCA77)
         + np.uint64(0x165667B1)) & m
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x2C1B3C6D)) & m
    h ^= h >> np.uint64(12)
    h = (h * np.uint64(0x297A2D39)) & m
    h ^= h >> np.uint64(15)
    return h


def hash_uniform(seed, n, a):
    """float32 array of n values in [-a, a); identical to hash_uniform_scalar."""
    h = hash_u32_vec(seed, n).astype(np.float64)
    v = (2.0 * (h / 4294967296.0) - 1.0) * a
    return v.astype(np.float32)


def check_hash_vectorisation():
    a = 0.02 * math.sqrt(3.0)
    for seed, n, amp in [(1, 3000, a), (17, 2000, a), (1000, 2048, 1.0),
                         (2003, 1000, math.sqrt(3.0)), (123456789, 500, a)]:
        v = hash_uniform(seed, n, amp)
        s = hash_uniform_scalar(seed, n, amp)
        assert v.tobytes() == s.tobytes(), ("hash vectorisation mismatch", seed)
    # also check the raw u32 values at large indices
    hv = hash_u32_vec(5, 409600)
    for i in (0, 1, 2, 65535, 65536, 200001, 409599):
        assert int(hv[i]) == hash_u32(5, i)


# --------------------------------------------------------------------------
# DCGAN 32x32 end-to-end
# --------------------------------------------------------------------------

NZ = 100


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, 256, 4, 1, 0, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(True),
            nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(True),
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(True),
            nn.ConvTranspose2d(64, 1, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, 64, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(64, 128, 4, 2, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(128, 256, 4, 2, 1, bias=False),
            nn.BatchNorm2d(256),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(256, 1, 4, 1, 0, bias=False),
        )

    def forward(self, x):
        return self.main(x)


def hash_init(module, seed_start, weight_a):
    """Initialise every state_dict entry of module; returns the next seed."""
    k = seed_start
    sd = module.state_dict()
    bn_prefixes = {name for name, m in module.named_modules()
                   if isinstance(m, nn.BatchNorm2d)}
    conv_prefixes = {name for name, m in module.named_modules()
                     if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))}
    new_sd = {}
    for key, t in sd.items():
        prefix, leaf = key.rsplit(".", 1)
        n = t.numel()
        if prefix in conv_prefixes and leaf == "weight":
            arr = hash_uniform(k, n, weight_a).reshape(tuple(t.shape))
            new_sd[key] = torch.from_numpy(arr)
        elif prefix in bn_prefixes and leaf == "weight":
            arr = np.float32(1.0) + hash_uniform(k, n, weight_a)
            assert arr.dtype == np.float32
            new_sd[key] = torch.from_numpy(arr.reshape(tuple(t.shape)))
        elif prefix in bn_prefixes and leaf in ("bias", "running_mean"):
            new_sd[key] = torch.zeros_like(t)
        elif prefix in bn_prefixes and leaf == "running_var":
            new_sd[key] = torch.ones_like(t)
        elif prefix in bn_prefixes and leaf == "num_batches_tracked":
            new_sd[key] = torch.zeros_like(t)
        else:
            raise RuntimeError("unexpected state_dict key " + key)
        k += 1
    module.load_state_dict(new_sd)
    return k


def sample_indices(numel):
    if numel <= 64:
        return list(range(numel))
    return [(i * numel) // 64 for i in range(64)]


def tensor_summary(t, with_abs=True, with_shape=True):
    a = t.detach().cpu().numpy().astype(np.float64).ravel()
    idx = sample_indices(a.size)
    out = {}
    if with_shape:
        out["shape"] = list(t.shape)
    # float64 sums, correctly rounded (math.fsum) so they do not depend on
    # summation order; float32 values convert to float64 exactly.
    out["sum"] = math.fsum(a.tolist())
    if with_abs:
        out["abs_sum"] = math.fsum(np.abs(a).tolist())
    out["sample"] = [float(np.float32(a[i])) for i in idx]
    out["sample_index"] = idx
    return out


# Adam's first update of an element is lr * g / (|g| + eps): for |g| below ~1e-7 the last
# bits of g -- which differ between any two GEMM implementations -- decide between +lr and
# -lr, and three steps amplify that to ~1e-4 (flipping the 7 such gradients of G at step 1
# moves PyTorch's own G by 3.5e-4). So the few gradient elements under this threshold are
# recorded; the TS test checks its own values against them and then uses PyTorch's.
PIN_THRESHOLD = 1e-6


def tiny_grads(module):
    entries = []
    for name, p in module.named_parameters():
        flat = p.grad.reshape(-1)
        for i in torch.nonzero(flat.abs() < PIN_THRESHOLD).reshape(-1).tolist():
            entries.append([name, i, f32(flat[i])])
    return entries


def make_dcgan32():
    check_hash_vectorisation()
    B = 8
    STEPS = 3
    weight_a = 0.02 * math.sqrt(3.0)
    real_seed = 1000
    noise_seed_base = 2000

    netG = Generator()
    netD = Discriminator()
    next_seed = hash_init(netG, 1, weight_a)
    hash_init(netD, next_seed, weight_a)
    netG.train()
    netD.train()

    g_keys = list(netG.state_dict().keys())
    d_keys = list(netD.state_dict().keys())

    # G and D both use "main.N..." names, so they are keyed separately.
    initial_check = {
        "G": {k: tensor_summary(netG.state_dict()[k], with_abs=False, with_shape=False)
              for k in g_keys},
        "D": {k: tensor_summary(netD.state_dict()[k], with_abs=False, with_shape=False)
              for k in d_keys},
    }

    real = torch.from_numpy(hash_uniform(real_seed, B * 1 * 32 * 32, 1.0).reshape(B, 1, 32, 32))

    criterion = nn.BCEWithLogitsLoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999), foreach=False)
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999), foreach=False)
    ones = torch.full((B,), 1.0)
    zeros = torch.full((B,), 0.0)

    losses = []
    pinned = []
    fake_sample_step1 = None
    for s in range(1, STEPS + 1):
        noise = torch.from_numpy(
            hash_uniform(noise_seed_base + s, B * NZ, math.sqrt(3.0)).reshape(B, NZ, 1, 1))

        # (1) update D: maximise log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        out = netD(real).view(-1)
        errD_real = criterion(out, ones)
        errD_real.backward()
        D_x = torch.sigmoid(out).mean().item()

        fake = netG(noise)
        if s == 1:
            fake_sample_step1 = fake.detach().reshape(-1)[:64].numpy().astype(np.float32).tolist()
        out = netD(fake.detach()).view(-1)
        errD_fake = criterion(out, zeros)
        errD_fake.backward()
        D_G_z1 = torch.sigmoid(out).mean().item()
        errD = errD_real + errD_fake
        pinned.append({"step": s, "net": "D", "entries": tiny_grads(netD)})
        optD.step()

        # (2) update G: maximise log(D(G(z)))
        netG.zero_grad()
        out = netD(fake).view(-1)
        errG = criterion(out, ones)
        errG.backward()
        D_G_z2 = torch.sigmoid(out).mean().item()
        pinned.append({"step": s, "net": "G", "entries": tiny_grads(netG)})
        optG.step()

        losses.append({
            "errD_real": f32(errD_real), "errD_fake": f32(errD_fake), "errD": f32(errD),
            "errG": f32(errG), "D_x": f32(D_x), "D_G_z1": f32(D_G_z1), "D_G_z2": f32(D_G_z2),
        })

    final = {
        "G": {k: tensor_summary(v) for k, v in netG.state_dict().items()},
        "D": {k: tensor_summary(v) for k, v in netD.state_dict().items()},
    }

    obj = {
        "batch": B,
        "steps": STEPS,
        "nz": NZ,
        "hash": {"weight_a": weight_a, "real_seed": real_seed,
                 "noise_seed_base": noise_seed_base,
                 "real_a": 1.0, "noise_a": math.sqrt(3.0),
                 "g_first_seed": 1, "d_first_seed": next_seed},
        "param_order": {"G": g_keys, "D": d_keys},
        "losses": losses,
        "initial_check": initial_check,
        "fake_sample_step1": fake_sample_step1,
        "pinned_grads": {"threshold": PIN_THRESHOLD, "steps": pinned},
        "final": final,
    }
    write_json("dcgan32.json", obj)


def main():
    make_conv2d()
    make_conv_transpose2d()
    make_batch_norm2d()
    make_losses()
    make_activations()
    make_linear()
    make_adam()
    make_sgd()
    make_dcgan32()


if __name__ == "__main__":
    main()
