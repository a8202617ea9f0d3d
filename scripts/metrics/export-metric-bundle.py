#!/usr/bin/env python3
"""
Metric bundles for `diffc eval --lpips DIR --dists DIR` (src/eval/learned.ts): the original
LPIPS and DISTS implementations, wrapped to take (ref, dist) and return the distance, exported to
ONNX with torch's exporter, with a manifest.json holding the graph's sha256.

  # from the original weights (run where you have them; nothing here downloads anything itself):
  python3 scripts/metrics/export-metric-bundle.py lpips --net alex -o bundles/lpips-alex
  python3 scripts/metrics/export-metric-bundle.py dists -o bundles/dists

  LPIPS: the `lpips` package (0.1.4) ships its linear-layer weights (lpips/weights/v0.1/*.pth);
         the backbone (AlexNet/VGG16/SqueezeNet ImageNet weights) is torchvision's, read from
         torch's hub cache ($TORCH_HOME/hub/checkpoints, e.g. alexnet-owt-7be5be79.pth): copy it
         there on a machine without network.
  DISTS: the `DISTS_pytorch` package (0.1) ships alpha/beta (DISTS_pytorch/weights.pt, read here
         from the package's directory); VGG16's ImageNet weights come from the same hub cache
         (vgg16-397923af.pth).

  # the test bundles: the same classes and forward code with narrow random-init backbones
  python3 scripts/metrics/export-metric-bundle.py --test-fixtures test/fixtures/metrics

--test-fixtures writes lpips/ and dists/ bundles (the real lpips.LPIPS and DISTS_pytorch.DISTS
modules, their torchvision backbones built by torchvision's own AlexNet / make_layers at 1/16 of
the channels, random weights with fixed seeds), two fixed 8-bit image pairs, and the distances
PyTorch computes on them (expected.json), which test/learned-metrics.test.ts checks diffc's ONNX
runner against. Needs: pip install -r scripts/metrics/requirements.txt
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

OPSET = 17


class Pair(nn.Module):
    """(ref, dist) -> distance [N], as the original's forward computes it."""

    def __init__(self, net, kind):
        super().__init__()
        self.net, self.kind = net, kind

    def forward(self, ref, dist):
        d = self.net(ref, dist)
        return d.reshape(ref.shape[0])


def lpips_model(net_name, tiny, seed=0):
    import lpips
    import lpips.pretrained_networks as pn
    import torchvision.models as tvm

    if not tiny:
        return lpips.LPIPS(net=net_name, version="0.1", verbose=False).eval()
    if net_name != "alex":
        raise SystemExit("the tiny test bundle is AlexNet-LPIPS")
    torch.manual_seed(seed)
    widths = [4, 12, 24, 16, 16]  # AlexNet's 64, 192, 384, 256, 256 / 16

    def tiny_alexnet(*_a, **_k):
        m = tvm.AlexNet()
        f = m.features
        convs = [i for i, layer in enumerate(f) if isinstance(layer, nn.Conv2d)]
        cin = 3
        for i, w in zip(convs, widths):
            c = f[i]
            f[i] = nn.Conv2d(cin, w, c.kernel_size, c.stride, c.padding)
            cin = w
        return m

    real = pn.tv.alexnet
    pn.tv.alexnet = tiny_alexnet
    try:
        m = lpips.LPIPS(net="alex", version="0.1", pretrained=False, pnet_rand=True, verbose=False)
    finally:
        pn.tv.alexnet = real
    m.chns = widths
    m.lins = nn.ModuleList([lpips.NetLinLayer(c, use_dropout=True) for c in widths])
    for lin in m.lins:  # the trained linear weights are non-negative
        conv = [x for x in lin.model if isinstance(x, nn.Conv2d)][0]
        conv.weight.data = conv.weight.data.abs()
    return m.eval()


def dists_model(tiny, seed=0):
    import DISTS_pytorch
    import DISTS_pytorch.DISTS_pt as dp
    import torchvision.models as tvm
    from torchvision.models.vgg import make_layers

    if not tiny:
        m = dp.DISTS(load_weights=False)
        w = torch.load(os.path.join(os.path.dirname(DISTS_pytorch.__file__), "weights.pt"))
        m.alpha.data, m.beta.data = w["alpha"], w["beta"]
        return m.eval()
    torch.manual_seed(seed)
    cfg = [4, 4, "M", 8, 8, "M", 16, 16, 16, "M", 32, 32, 32, "M", 32, 32, 32, "M"]  # VGG16 'D' / 16
    real = dp.models.vgg16
    dp.models.vgg16 = lambda *_a, **_k: tvm.VGG(make_layers(cfg), init_weights=True)
    try:
        m = dp.DISTS(load_weights=False)
    finally:
        dp.models.vgg16 = real
    for stage, (idx, ch) in zip([m.stage2, m.stage3, m.stage4, m.stage5], [(4, 4), (9, 8), (16, 16), (23, 32)]):
        setattr(stage, str(idx), dp.L2pooling(channels=ch))
    m.chns = [3, 4, 8, 16, 32, 32]
    n = sum(m.chns)
    m.alpha = nn.Parameter(torch.empty(1, n, 1, 1).normal_(0.1, 0.01))
    m.beta = nn.Parameter(torch.empty(1, n, 1, 1).normal_(0.1, 0.01))
    return m.eval()


class DistsPair(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, ref, dist):
        return self.m(ref, dist, require_grad=True).reshape(ref.shape[0])


def export(model, kind, out_dir, ident, input_range, source):
    os.makedirs(out_dir, exist_ok=True)
    wrapped = DistsPair(model) if kind == "dists" else Pair(model, kind)
    wrapped.eval()
    x = torch.rand(1, 3, 64, 64)
    if input_range == "minus-one-one":
        x = 2 * x - 1
    path = os.path.join(out_dir, "model.onnx")
    axes = {0: "n", 2: "h", 3: "w"}
    torch.onnx.export(wrapped, (x, x.clone()), path, input_names=["ref", "dist"], output_names=["distance"],
                      dynamic_axes={"ref": axes, "dist": axes, "distance": {0: "n"}}, opset_version=OPSET, dynamo=False)
    data = open(path, "rb").read()
    manifest = {
        "format": "diffc-metric", "version": 1, "metric": kind, "id": ident, "input": input_range, "source": source,
        "graph": {"path": "model.onnx", "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()},
    }
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return wrapped


def fixed_pairs():
    """Two 8-bit image pairs: a smooth pattern vs a blurred, noisy copy; noise vs other noise."""
    rng = np.random.default_rng(7)
    h, w = 48, 64
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    a = np.stack([x, y, 0.5 + 0.4 * np.sin(12 * x * y + 3 * x)], -1)
    k = np.ones(5) / 5
    blur = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 1, a)
    b = np.clip(blur + rng.normal(0, 0.04, a.shape), 0, 1)
    c, d = rng.random((h, w, 3)), rng.random((h, w, 3))
    q = lambda im: np.round(np.clip(im, 0, 1) * 255).astype(np.uint8)
    return [("smooth", q(a), q(b)), ("noise", q(c), q(d))]


def to_tensor(img8, input_range):
    t = torch.from_numpy(img8.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    return 2 * t - 1 if input_range == "minus-one-one" else t


def test_fixtures(out):
    from PIL import Image

    os.makedirs(out, exist_ok=True)
    pairs = fixed_pairs()
    for name, r, d in pairs:
        Image.fromarray(r).save(os.path.join(out, f"{name}-ref.png"))
        Image.fromarray(d).save(os.path.join(out, f"{name}-dist.png"))
    expected = {}
    for kind, rng_name, model in [
        ("lpips", "minus-one-one", lpips_model("alex", tiny=True, seed=1)),
        ("dists", "zero-one", dists_model(tiny=True, seed=2)),
    ]:
        src = "test bundle: the original module with a 1/16-width random-init torchvision backbone (scripts/metrics/export-metric-bundle.py --test-fixtures)"
        wrapped = export(model, kind, os.path.join(out, kind), f"{kind}-tiny-test", rng_name, src)
        with torch.no_grad():
            for name, r, d in pairs:
                v = wrapped(to_tensor(r, rng_name), to_tensor(d, rng_name)).item()
                same = wrapped(to_tensor(r, rng_name), to_tensor(r, rng_name)).item()
                expected.setdefault(kind, {})[name] = {"distance": v, "identical": same}
    versions = {"torch": torch.__version__}
    for mod in ["lpips", "torchvision", "onnx"]:
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:
            pass
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"versions": versions, "expected": expected}, f, indent=2)
        f.write("\n")
    print(json.dumps(expected))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("metric", nargs="?", choices=["lpips", "dists"])
    p.add_argument("--net", default="alex", choices=["alex", "vgg", "squeeze"], help="LPIPS backbone (default alex)")
    p.add_argument("-o", "--out", help="bundle directory to write")
    p.add_argument("--test-fixtures", metavar="DIR", help="write the tiny random-init test bundles, images and expected values")
    a = p.parse_args()
    torch.set_grad_enabled(False)
    if a.test_fixtures:
        test_fixtures(a.test_fixtures)
        return
    if not a.metric or not a.out:
        p.error("give a metric and -o DIR (or --test-fixtures DIR)")
    if a.metric == "lpips":
        import lpips
        export(lpips_model(a.net, tiny=False), "lpips", a.out, f"lpips-{a.net}-0.1", "minus-one-one", f"lpips {lpips.__version__ if hasattr(lpips, '__version__') else ''} LPIPS(net='{a.net}', version='0.1')")
    else:
        export(dists_model(tiny=False), "dists", a.out, "dists-0.1", "zero-one", "DISTS_pytorch DISTS() with its weights.pt")
    print(f"wrote {a.out}/manifest.json and model.onnx")


if __name__ == "__main__":
    sys.exit(main())
