#!/usr/bin/env python3
"""
Runs export-bundle.py's real mode end to end without the released weights (none can be
downloaded here), at StableCodec's real latent-codec widths (M = 320, a 960-channel context model,
ELIC's g_a at N 192):

  .cache/metric-venv/bin/python scripts/stablecodec/check-real-mode.py --repo StableCodec/ [--keep DIR]

1. Writes a stand-in release in the released files' formats, with random weights: an sd-turbo
   folder (tokenizer, text_encoder, vae, unet, scheduler) written by diffusers / transformers'
   save_pretrained at tiny sizes, `elic_official.pth` as ELIC().state_dict(), and a StableCodec
   checkpoint written by the repository's own StableCodec.save_model.
2. Runs the real mode on it (--sd-turbo, --codec-ckpt, --elic), which builds the model as
   StableCodec.__init__ does and writes the bundle.
3. Runs the original decompress on test/parity/photo-256x512.png's 256x256 crop, then
   `diffc compress` and `diffc decompress` with the bundle, and compares the images.
Prints one JSON line: bundle bytes, .dfc bytes, the original's y + z bytes, the largest pixel
difference (levels of 255) and whether decompress equals compress --recon.
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
spec = importlib.util.spec_from_file_location("export_bundle", os.path.join(os.path.dirname(__file__), "export-bundle.py"))
eb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(eb)


def stand_in_release(mods, d):
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    torch.manual_seed(2500)
    tok_dir = os.path.join(ROOT, "models", "test", "parity", "sd15", "tokenizer")
    sd = os.path.join(d, "sd-turbo")
    CLIPTokenizer(os.path.join(tok_dir, "vocab.json"), os.path.join(tok_dir, "merges.txt"), model_max_length=77).save_pretrained(os.path.join(sd, "tokenizer"))
    CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
                                 max_position_embeddings=77, eos_token_id=2)).save_pretrained(os.path.join(sd, "text_encoder"))
    AutoencoderKL(block_out_channels=(8, 16, 16, 16), layers_per_block=1, norm_num_groups=4, latent_channels=4,
                  down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, scaling_factor=0.18215).save_pretrained(os.path.join(sd, "vae"))
    UNet2DConditionModel(sample_size=32, block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4, cross_attention_dim=8, attention_head_dim=(2, 4),
                         down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
                         use_linear_projection=True).save_pretrained(os.path.join(sd, "unet"))
    EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", timestep_spacing="trailing", steps_offset=1,
                           prediction_type="epsilon").save_pretrained(os.path.join(sd, "scheduler"))
    elic = os.path.join(d, "elic_official.pth")
    torch.save(mods.elic.ELIC().state_dict(), elic)
    # The checkpoint: a model assembled from the stand-in, trained weights simulated, saved by the repository itself.
    args = argparse.Namespace(sd_turbo=sd, codec_ckpt=None, elic=elic, prompt=eb.DEFAULT_PROMPT, lora_rank_vae=16, lora_rank_unet=32)
    net, _ = eb.build_real(args, mods)
    g = torch.Generator().manual_seed(2501)
    with torch.no_grad():
        for n, p in list(net.vae.named_parameters()) + list(net.unet.named_parameters()):
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
        for p in net.codec.parameters():
            p.mul_(0.5)
    ckpt = os.path.join(d, "stablecodec_check.pkl")
    mods.StableCodec.save_model(net, ckpt)
    return argparse.Namespace(sd_turbo=sd, codec_ckpt=ckpt, elic=elic, prompt=eb.DEFAULT_PROMPT, lora_rank_vae=16, lora_rank_unet=32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--keep", help="write the stand-in release and bundle here instead of a temporary folder")
    a = ap.parse_args()
    from PIL import Image
    d = a.keep or tempfile.mkdtemp(prefix="diffc-sc-real-")
    os.makedirs(d, exist_ok=True)
    mods = eb.import_repo(a.repo, 0)
    release = stand_in_release(mods, d)
    # The real mode, as a user runs it.
    out = os.path.join(d, "bundle")
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "export-bundle.py"), "--repo", a.repo, "--sd-turbo", release.sd_turbo,
                    "--codec-ckpt", release.codec_ckpt, "--elic", release.elic, "--out", out], check=True)
    # The original on the same files.
    net, _ = eb.build_real(release, mods)
    rgb = np.asarray(Image.open(os.path.join(ROOT, "test", "parity", "photo-256x512.png")).convert("RGB"), dtype=np.float32)[:, :256] / 255
    png = os.path.join(d, "in.png")
    Image.fromarray(np.round(rgb * 255).astype(np.uint8)).save(png)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None] * 2 - 1
    with torch.no_grad():
        strings = net.compress(x)
        ref = net.decompress(strings["strings"], strings["shape"], [1])
    ref_u8 = np.round((ref.clamp(-1, 1)[0].permute(1, 2, 0).numpy() * 0.5 + 0.5) * 255)
    diffc = [os.path.join(ROOT, "bin", "diffc.js")]
    dfc, rec, dec = (os.path.join(d, n) for n in ("in.dfc", "recon.png", "dec.png"))
    subprocess.run(["node", *diffc, "compress", png, "-o", dfc, "--model", out, "--recon", rec, "--force", "-q"], check=True)
    subprocess.run(["node", *diffc, "decompress", dfc, "-o", dec, "--model", out, "--force", "-q"], check=True)
    got = np.asarray(Image.open(dec).convert("RGB"), dtype=np.float64)
    bundle_bytes = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(out) for f in fs)
    print(json.dumps({
        "bundle_bytes": bundle_bytes, "dfc_bytes": os.path.getsize(dfc),
        "original_bytes": len(strings["strings"][0][0]) + len(strings["strings"][1][0]),
        "max_level_diff": float(np.abs(got - ref_u8).max()), "mean_level_diff": float(np.abs(got - ref_u8).mean()),
        "decompress_equals_recon": open(dec, "rb").read() == open(rec, "rb").read(), "dir": d,
    }))


if __name__ == "__main__":
    main()
