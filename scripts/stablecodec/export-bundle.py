#!/usr/bin/env python3
"""
Exports a StableCodec model (Zhang et al., ICCV 2025; github.com/LuizScarlet/StableCodec) to a
diffc bundle of family `stablecodec` (docs/models.md "StableCodec"), from the original
repository's own classes:

  python scripts/stablecodec/export-bundle.py --repo StableCodec/ --sd-turbo sd-turbo/ \\
      --codec-ckpt stablecodec_ft2.pkl --elic elic_official.pth --out models/stablecodec-ft2
  python scripts/stablecodec/export-bundle.py --repo StableCodec/ --test-fixtures

Real mode builds the model as the repository's StableCodec.__init__ does (SD-Turbo's VAE and
UNet with the same LoRA adapters, the UNet's conv_in replaced, the prompt embedded once, the
checkpoint's LoRA / conv_in / latent-codec weights, ELIC's g_a as the auxiliary encoder), on the
CPU, merges the LoRA weights and writes one ONNX graph per network diffc runs:

  vae_encoder      sample [1,3,H,W] in [-1,1] -> latent_parameters (the VAE mean; x scaling = the latent)
  aux_encoder      sample [1,3,H,W] in [-1,1] -> latent2 (ELIC g_a of (x+1)/2)
  analysis         latent, latent2 -> y                        (LatentCodec.g_a)
  hyper_analysis   y -> z                                      (h_a)
  hyper_synthesis  z_hat -> base                               (h_s)
  context_in k     base -> context_in                          (adapter_in[k], k = 0..3)
  context          context_in -> context                       (g_c, shared by the four groups)
  context_out k    context -> params (means | scales, 2M ch)   (adapter_out[k])
  lrp k=0..3       y_hat_k, base -> lrp (before mask and tanh) (LRP[k](cat))
  synthesis        y_hat -> x_hat (the UNet's input)           (g_s)
  aux_decoder      y_hat -> res                                (aux)
  unet             sample [B,Cin,h,w] -> out_sample eps [B,4,h,w] (t = 999, prompt embedding baked in)
  vae_decoder      latent_sample -> sample

plus entropy.json: the hyper-latent's factorized tables, from the EntropyBottleneck's own
quantized CDFs (docs/learned-entropy.md §2.4), and its medians. The exporter is torch.onnx's
(TorchScript) exporter, the one optimum uses; optimum itself cannot export the latent codec.

--test-fixtures makes models/test/stablecodec/ from the same classes at tiny widths with random
weights (latent_codec.py's hard-coded widths divided by 16, a 4-block VAE of 8-16 channels, a
2-block SD-2-style UNet) and records, in test/parity/stablecodec.json, what the original
StableCodec.compress / decompress compute on test/parity/photo-256x512.png: latents, symbols,
entropy parameters, the one-step latent and the decoded image.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import sys
import types

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPSET = 17
SHRINK = 16
DEFAULT_PROMPT = "A high-resolution, 8K, ultra-realistic image with sharp focus, vibrant colors, and natural lighting."
CDF_BUFFERS = {"_quantized_cdf", "_offset", "_cdf_length", "scale_table"}
TARGET_VAE = r"^encoder\..*(conv1|conv2|conv_in|conv_shortcut|conv|conv_out|to_k|to_q|to_v|to_out\.0)$"
TARGET_UNET = ["to_k", "to_q", "to_v", "to_out.0", "conv", "conv1", "conv2", "conv_shortcut", "conv_out",
               "proj_in", "proj_out", "ff.net.2", "ff.net.0.proj"]


def log(*a):
    print("[stablecodec]", *a, file=sys.stderr, flush=True)


def import_repo(repo, shrink):
    """The repository's modules; with shrink, latent_codec.py's widths (320/256/192/128/64) divided by it."""
    repo = os.path.abspath(repo)
    src = os.path.join(repo, "src")
    for p in (src, repo):
        if p not in sys.path:
            sys.path.insert(0, p)
    if shrink:
        path = os.path.join(src, "latent_codec.py")
        code = re.sub(r"\b(320|256|192|128|64)\b", lambda m: str(int(m.group(1)) // shrink), open(path).read())
        mod = types.ModuleType("latent_codec")
        mod.__file__ = path
        exec(compile(code, path + f" (widths / {shrink})", "exec"), mod.__dict__)
        sys.modules["latent_codec"] = mod
    import latent_codec  # noqa: E402
    import model as sc_model  # noqa: E402
    import StableCodec as sc  # noqa: E402
    from ELIC.model import elic_official  # noqa: E402
    return types.SimpleNamespace(latent_codec=latent_codec, model=sc_model, StableCodec=sc.StableCodec, elic=elic_official)


def add_lora(net, mods, rank_vae, rank_unet):
    """The adapters of StableCodec.__init__, with its forward patch."""
    from peft import LoraConfig
    net.vae.add_adapter(LoraConfig(r=rank_vae, init_lora_weights="gaussian", target_modules=TARGET_VAE), adapter_name="vae_skip")
    net.unet.add_adapter(LoraConfig(r=rank_unet, init_lora_weights="gaussian", target_modules=TARGET_UNET))
    for m in (net.vae, net.unet):
        names = [n[: -len(".base_layer")] for n, _ in m.named_modules() if "base_layer" in n]
        for n, module in m.named_modules():
            if n in names:
                module.forward = mods.model.my_lora_fwd.__get__(module, module.__class__)


def assemble(mods, vae, unet, sched, prompt_embeds, aux, codec_ckpt, tile, overlap, rank_vae, rank_unet, unet_in):
    """A StableCodec object as its __init__ builds it (without .cuda() and without downloads)."""
    net = object.__new__(mods.StableCodec)
    nn.Module.__init__(net)
    net.latent_tiled_size, net.latent_tiled_overlap = tile, overlap
    net.sched = sched
    net.guidance_scale = 1.07
    net.vae, net.unet = vae, unet
    net.timesteps = torch.tensor([999]).long()
    add_lora(net, mods, rank_vae, rank_unet)
    net.codec = mods.latent_codec.LatentCodec(0.5)
    net.unet.conv_in = nn.Conv2d(unet_in, unet.config.block_out_channels[0], kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    net.pos_caption_enc = prompt_embeds
    if codec_ckpt is not None:
        sd = torch.load(codec_ckpt, map_location="cpu")
        for part, module in (("state_dict_codec", net.codec), ("state_dict_vae", net.vae), ("state_dict_unet", net.unet)):
            cur = module.state_dict()
            for k in sd[part]:
                # The entropy models' CDF buffers: a checkpoint saved after update() has them sized,
                # the fresh model empty (load_state_dict cannot resize them); update() below
                # recomputes them from the learned quantiles either way.
                if part == "state_dict_codec" and k.rsplit(".", 1)[-1] in CDF_BUFFERS:
                    continue
                cur[k] = sd[part][k]
            module.load_state_dict(cur)
    net.aux_codec = aux.eval().requires_grad_(False)
    net.eval().requires_grad_(False)
    net.codec.update(force=True)
    return net


def one_step_scheduler(sched_cls, config):
    s = sched_cls.from_config(config)
    s.set_timesteps(1, device="cpu")
    assert [int(t) for t in s.timesteps] == [999], f"the 1-step schedule is {s.timesteps.tolist()}, expected [999]"
    if s.config.prediction_type != "epsilon":
        raise SystemExit(f"the scheduler predicts {s.config.prediction_type}; diffc's stablecodec adapter takes epsilon (SD-Turbo's)")
    if s.config.thresholding:
        raise SystemExit("dynamic thresholding is not supported")
    return s


def build_real(a, mods):
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import AutoTokenizer, CLIPTextModel
    tok = AutoTokenizer.from_pretrained(a.sd_turbo, subfolder="tokenizer")
    te = CLIPTextModel.from_pretrained(a.sd_turbo, subfolder="text_encoder").eval()
    with torch.no_grad():
        ids = tok(a.prompt, max_length=tok.model_max_length, padding="max_length", truncation=True, return_tensors="pt").input_ids
        prompt_embeds = te(ids)[0]
    sched = one_step_scheduler(DDPMScheduler, DDPMScheduler.load_config(a.sd_turbo, subfolder="scheduler"))
    vae = AutoencoderKL.from_pretrained(a.sd_turbo, subfolder="vae")
    unet = UNet2DConditionModel.from_pretrained(a.sd_turbo, subfolder="unet")
    elic = mods.elic.ELIC()
    elic.load_state_dict(torch.load(a.elic, map_location="cpu"))
    net = assemble(mods, vae, unet, sched, prompt_embeds, elic.g_a, a.codec_ckpt, 96, 32, a.lora_rank_vae, a.lora_rank_unet, 320)
    return net, sched


def build_test(mods, seed=1500):
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    torch.manual_seed(seed)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16, 16, 16), layers_per_block=1, norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=256, scaling_factor=0.18215)
    unet = UNet2DConditionModel(
        sample_size=32, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=8, attention_head_dim=(2, 4), use_linear_projection=True)
    # SD-Turbo's scheduler values; clip_sample as DDPMScheduler's default, so the clamp is exercised.
    sched = one_step_scheduler(DDPMScheduler, dict(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", prediction_type="epsilon",
        timestep_spacing="trailing", steps_offset=1, clip_sample=True, clip_sample_range=1.0))
    prompt_embeds = torch.randn(1, 77, 8)
    m = 320 // SHRINK
    aux = mods.elic.AnalysisTransformEX(8, m)
    net = assemble(mods, vae, unet, sched, prompt_embeds, aux, None, 32, 8, 4, 4, m)
    # A trained checkpoint's LoRA B is not zero: make it non-zero so the merged graphs are checked.
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for n, p in list(net.vae.named_parameters()) + list(net.unet.named_parameters()):
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
        eb = net.codec.entropy_bottleneck
        eb.quantiles.add_(torch.randn(eb.quantiles.shape, generator=g) * 0.3)
    net.codec.update(force=True)
    return net, sched


def merge_lora(net):
    from peft.tuners.lora import LoraLayer
    for m in (net.vae, net.unet):
        for module in m.modules():
            if isinstance(module, LoraLayer) and not module.merged:
                module.merge()


class Fn(nn.Module):
    def __init__(self, f, *mods):
        super().__init__()
        self.mods = nn.ModuleList(mods)
        self.f = f

    def forward(self, *x):
        return self.f(*x)


def export(module, args, path, inputs, outputs, axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=axes, opset_version=OPSET, dynamo=False)


def export_graphs(net, sched, out):
    """One ONNX graph per network (module docstring); returns (role, path, group) rows."""
    c, vae, unet = net.codec, net.vae, net.unet
    sf = vae.config.scaling_factor
    img = {0: "batch", 2: "height", 3: "width"}
    lat = {0: "batch", 2: "h", 3: "w"}
    x = torch.zeros(1, 3, 256, 256)
    latent = vae.encode(x).latent_dist.mode() * sf
    latent2 = net.aux_codec((x + 1) / 2)
    y = c.g_a(latent, latent2)
    z = c.h_a(y)
    base = c.h_s(torch.round(z))
    rows = []

    def put(role, rel, module, args, inputs, outputs, axes, group=None):
        export(module, args, os.path.join(out, rel), inputs, outputs, axes)
        rows.append((role, rel, group))

    # The VAE mean, unscaled, as optimum's vae_encoder gives it (diffc applies the manifest's scale).
    put("vae_encoder", "vae_encoder/model.onnx", Fn(lambda s: vae.encode(s).latent_dist.mode(), vae), (x,), ["sample"], ["latent_parameters"], {"sample": img, "latent_parameters": lat})
    put("aux_encoder", "aux_encoder/model.onnx", Fn(lambda s: net.aux_codec((s + 1) / 2), net.aux_codec), (x,), ["sample"], ["latent2"], {"sample": img, "latent2": lat})
    put("analysis", "analysis/model.onnx", Fn(lambda a, b: c.g_a(a, b), c.g_a), (latent, latent2), ["latent", "latent2"], ["y"], {"latent": lat, "latent2": lat, "y": lat})
    put("hyper_analysis", "hyper_analysis/model.onnx", Fn(lambda v: c.h_a(v), c.h_a), (y,), ["y"], ["z"], {"y": lat, "z": lat})
    put("hyper_synthesis", "hyper_synthesis/model.onnx", Fn(lambda v: c.h_s(v), c.h_s), (torch.round(z),), ["z_hat"], ["base"], {"z_hat": lat, "base": lat})
    ctx = c.adapter_in[0](base)
    put("context", "context/model.onnx", Fn(lambda v: c.g_c(v), c.g_c), (ctx,), ["context_in"], ["context"], {"context_in": lat, "context": lat})
    for k in range(4):
        put("context_in", f"context_in/{k}.onnx", Fn(lambda b, k=k: c.adapter_in[k](b), c.adapter_in[k]), (base,), ["base"], ["context_in"], {"base": lat, "context_in": lat}, k)
        put("context_out", f"context_out/{k}.onnx", Fn(lambda v, k=k: c.adapter_out[k](v), c.adapter_out[k]), (ctx,), ["context"], ["params"], {"context": lat, "params": lat}, k)
        put("lrp", f"lrp/{k}.onnx", Fn(lambda yh, b, k=k: c.LRP[k](torch.cat([yh, b], dim=1)), c.LRP[k]),
            (base, base), ["y_hat", "base"], ["lrp"], {"y_hat": lat, "base": lat, "lrp": lat}, k)
    put("synthesis", "synthesis/model.onnx", Fn(lambda v: c.g_s(v), c.g_s), (y,), ["y_hat"], ["x_hat"], {"y_hat": lat, "x_hat": lat})
    put("aux_decoder", "aux_decoder/model.onnx", Fn(lambda v: c.aux(v), c.aux), (y,), ["y_hat"], ["res"], {"y_hat": lat, "res": lat})
    x_hat = c.g_s(y)
    emb = net.pos_caption_enc
    t = net.timesteps

    def unet_fn(s):
        return unet(s, t, encoder_hidden_states=emb.expand(s.shape[0], -1, -1)).sample
    put("unet", "unet/model.onnx", Fn(unet_fn, unet), (x_hat,), ["sample"], ["out_sample"], {"sample": lat, "out_sample": lat})
    put("vae_decoder", "vae_decoder/model.onnx", Fn(lambda v: vae.decode(v).sample, vae), (latent / sf,), ["latent_sample"], ["sample"], {"latent_sample": lat, "sample": img})
    return rows


def entropy_spec(net):
    """The EntropyBottleneck's own quantized CDFs as diffc tables (escape last) and its medians."""
    eb = net.codec.entropy_bottleneck
    cdf, length, offset = eb._quantized_cdf, eb._cdf_length, eb._offset
    medians = eb._get_medians().detach().reshape(-1)
    channels = []
    for ch in range(cdf.shape[0]):
        n = int(length[ch])
        row = cdf[ch, :n].tolist()
        freqs = [row[i + 1] - row[i] for i in range(n - 1)]
        assert row[0] == 0 and row[-1] == 1 << 16 and min(freqs) >= 1, f"channel {ch}: the quantized CDF is not a diffc table"
        channels.append({"offset": int(offset[ch]), "freqs": freqs})
    return {"channels": channels, "medians": [float(np.float32(v)) for v in medians.tolist()]}


def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def write_bundle(net, sched, out, ident, source=None):
    os.makedirs(out, exist_ok=True)
    merge_lora(net)
    rows = export_graphs(net, sched, out)
    with open(os.path.join(out, "entropy.json"), "w") as f:
        json.dump(entropy_spec(net), f)
        f.write("\n")
    rows.append(("entropy", "entropy.json", None))
    files = []
    for role, rel, group in rows:
        p = os.path.join(out, rel)
        files.append({"role": role, "path": rel, "sha256": sha256(p), "bytes": os.path.getsize(p), **({"group": group} if group is not None else {})})
    cfg = sched.config
    manifest = {
        "schema": 1, "id": ident, "family": "stablecodec", "prediction": "x0",
        "schedule": {"kind": "ddpm", "config": {"kind": cfg.beta_schedule, "steps": cfg.num_train_timesteps, "betaStart": cfg.beta_start, "betaEnd": cfg.beta_end, "cosineOffset": 0.008}},
        "latent": {"channels": 4, "downsample": 8, "scale": net.vae.config.scaling_factor, "shift": 0},
        "oneStep": {
            "timestep": int(sched.timesteps[0]),
            "clipSample": float(cfg.clip_sample_range) if cfg.clip_sample else None,
            "tile": net.latent_tiled_size, "overlap": net.latent_tiled_overlap,
        },
        "defaults": {"maxChunkBits": 8, "schedule": "even:1", "reconMethod": "mse", "reconSteps": 1},
        "files": files,
        **({"source": source} if source else {}),
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    log(f"wrote {out}: {len(files)} files, {sum(f['bytes'] for f in files)} bytes")


def tensor(x, dtype="float32"):
    a = np.ascontiguousarray(x.detach().cpu().numpy().astype(dtype))
    return {"dtype": dtype, "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode()}


def record_case(net, x):
    """What the original compress / decompress compute on one padded image, and what they put in between."""
    c = net.codec
    rec = {"size": [x.shape[3], x.shape[2]]}
    with torch.no_grad():
        latent2 = net.aux_codec((x + 1) / 2)
        latent = net.vae.encode(x).latent_dist.mode() * net.vae.config.scaling_factor
        out = net.compress(x)
        y = c.g_a(latent, latent2)
        z = c.h_a(y)
        medians = c.entropy_bottleneck._get_medians()
        z_sym = torch.round(z - medians)
        # The groups as compress_group_with_mask forms them, from the decoded z.
        z_hat = c.entropy_bottleneck.decompress(out["strings"][1], z.size()[-2:])
        B, C, H, W = y.shape
        masks = c.get_mask_four_parts(B, C, H, W, device="cpu")
        base = c.h_s(z_hat)
        groups = []
        for k in range(4):
            m = masks[k]
            means, scales = c.adapter_out[k](c.g_c(c.adapter_in[k](base))).chunk(2, 1)
            y_sq, mu_sq, s_sq = (c.sequeeze_with_mask(t, m) for t in (y, means, scales))
            sym = torch.round(y_sq - mu_sq)
            y_hat_k = c.unsequeeze_with_mask(sym + mu_sq, m)
            lrp = 0.5 * torch.tanh(c.LRP[k](torch.cat([y_hat_k, base], dim=1)) * m)
            y_hat_k = y_hat_k + lrp
            groups.append({"symbols": tensor(sym, "int32"), "means": tensor(mu_sq), "scales": tensor(s_sq)})
            base = base * (1 - m) + y_hat_k
        y_hat = base
        seen = {}
        decode = net.vae.decode
        net.vae.decode = lambda v: (seen.setdefault("x0", v * net.vae.config.scaling_factor), decode(v))[1]
        try:
            image = net.decompress(out["strings"], out["shape"], [1])
        finally:
            net.vae.decode = decode
        # The one-step latent, as decompress forms it (re-run to expose it).
        x_hat, res = c.decompress(out["strings"], out["shape"])
    rec.update({
        "latent": tensor(latent), "latent2_mean": float(latent2.mean()), "z": tensor(z),
        "z_medians": tensor(medians.reshape(-1)), "z_symbols": tensor(z_sym, "int32"), "groups": groups, "y_hat": tensor(y_hat),
        "x_hat4": tensor(x_hat[:, :4]), "res": tensor(res), "x0": tensor(seen["x0"]),
        # Every 4th pixel of each 4th row (the VAE decoder's own parity is the SD suite's).
        "image_u8_every4": tensor(torch.round((image.clamp(-1, 1) * 0.5 + 0.5) * 255)[0, :, ::4, ::4].permute(1, 2, 0), "uint8"),
        "original_bytes": {"y": len(out["strings"][0][0]), "z": len(out["strings"][1][0])},
    })
    return rec


def test_fixtures(a):
    from PIL import Image
    mods = import_repo(a.repo, SHRINK)
    net, sched = build_test(mods)
    photo = os.path.join(ROOT, "test", "parity", "photo-256x512.png")
    if not os.path.exists(photo):
        src = os.path.join(ROOT, ".cache", "photos", "astronaut.png")
        if not os.path.exists(src):
            raise SystemExit(f"{src} is missing: run bash scripts/fetch-photos.sh")
        Image.open(src).convert("RGB").crop((0, 128, 512, 384)).save(photo, optimize=True)
    rgb = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float32) / 255
    full = torch.from_numpy(rgb).permute(2, 0, 1)[None] * 2 - 1
    cases = [record_case(net, full[:, :, :, :256].contiguous()), record_case(net, full)]
    cfg = sched.config
    data = {
        "source": {"repo": "LuizScarlet/StableCodec", "shrink": SHRINK, "torch": torch.__version__},
        "alphas_cumprod_999": float(sched.alphas_cumprod[999]), "clip_sample": bool(cfg.clip_sample),
        "photo": "photo-256x512.png", "cases": cases,
    }
    with open(os.path.join(ROOT, "test", "parity", "stablecodec.json"), "w") as f:
        json.dump(data, f)
        f.write("\n")
    write_bundle(net, sched, os.path.join(ROOT, "models", "test", "stablecodec"), "test-stablecodec")
    for cs in cases:
        log(f"{cs['size']}: original streams y {cs['original_bytes']['y']} B, z {cs['original_bytes']['z']} B")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", required=True, help="a checkout of github.com/LuizScarlet/StableCodec")
    ap.add_argument("--test-fixtures", action="store_true", help="write models/test/stablecodec and test/parity/stablecodec.json")
    ap.add_argument("--sd-turbo", help="a local copy of huggingface.co/stabilityai/sd-turbo")
    ap.add_argument("--codec-ckpt", help="StableCodec checkpoint (stablecodec_ft2.pkl, ...)")
    ap.add_argument("--elic", help="elic_official.pth (the auxiliary encoder)")
    ap.add_argument("--prompt", default=DEFAULT_PROMPT, help="the checkpoint's prompt (the repository's --pos_prompt default)")
    ap.add_argument("--lora-rank-unet", type=int, default=32)
    ap.add_argument("--lora-rank-vae", type=int, default=16)
    ap.add_argument("--out", help="bundle directory to write")
    ap.add_argument("--id", help="bundle id (default: stablecodec-<checkpoint name>)")
    a = ap.parse_args()
    if a.test_fixtures:
        return test_fixtures(a)
    missing = [f for f in ("sd_turbo", "codec_ckpt", "elic", "out") if not getattr(a, f)]
    if missing:
        ap.error("real exports need " + ", ".join("--" + m.replace("_", "-") for m in missing))
    mods = import_repo(a.repo, 0)
    net, sched = build_real(a, mods)
    ident = a.id or "stablecodec-" + os.path.splitext(os.path.basename(a.codec_ckpt))[0].replace("stablecodec_", "")
    write_bundle(net, sched, a.out, ident, {"repo": "LuizScarlet/StableCodec", "revision": os.path.basename(a.codec_ckpt)})


if __name__ == "__main__":
    main()
