#!/usr/bin/env python3
"""
Parity suite generator (scripts/parity/README.md): tiny random-init *real* diffusers/transformers
architectures for SD 1.5, SD 2.1, SDXL (+ refiner) and Flux-dev, exported with optimum's ONNX
exporter, bundled with scripts/make-bundle.ts, and what diffusers itself computes on a real photo
crop, written as test data:

  models/test/parity/<name>/   the bundles (manifest.json + the graphs and tokenizer files it names)
  test/parity/<name>.json      expected values (float tensors as base64 float32 little-endian)
  test/parity/step-math.json   the reference implementation's (JeremyIV/diffc) step formulas
  test/parity/photo-*.png      the photo crops (from scripts/fetch-photos.sh's astronaut.png)

Tokenizers: CLIP's real vocabulary cut to what the suite's prompts use (real ids), and Flux's T5
from test/vectors/tokenizers/t5/tokenizer.json.gz (gen-tokenizer-vectors.py's trained Unigram model).

Run through scripts/parity/regenerate.sh (it makes the venv from requirements.txt, then adds
requirements-tokenizers.txt with --no-deps). Stages can be run alone: generate.py [--only sd15,sdxl]
[--skip-export] (re-record from the existing exports).
"""
import argparse
import base64
import gzip
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image

import diffusers
import onnx
import onnxruntime
import optimum
import transformers
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    FlowMatchEulerDiscreteScheduler,
    FluxPipeline,
    FluxTransformer2DModel,
    PNDMScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLImg2ImgPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    T5Config,
    T5EncoderModel,
    T5TokenizerFast,
)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CACHE = os.path.join(ROOT, ".cache", "parity")
WORK = os.path.join(CACHE, "work")
MODELS = os.path.join(ROOT, "models", "test", "parity")
EXPECT = os.path.join(ROOT, "test", "parity")
PHOTO = os.path.join(ROOT, ".cache", "photos", "astronaut.png")
T5_FIXTURE = os.path.join(ROOT, "test", "vectors", "tokenizers", "t5", "tokenizer.json.gz")

# The real CLIP vocabulary's special ids (openai/clip-vit-large-patch14 and OpenCLIP).
BOS, EOS = 49406, 49407
CLIP_VOCAB = 49408
# Text models' width: CLIP keeps the real vocab_size (49408 rows), so the hidden size sets the size
# of the bundles (each table 49408 x CLIP_HIDDEN float32).
CLIP_HIDDEN = 4
PROMPT = "a photo of a cat"
# With pad '!' (SD 2.x, SDXL's second tokenizer) transformers splits every '!' out as the pad id 0.
BANG_PROMPT = "wow! a dog on the beach!! (really!)"
# Flux's prompts: T5 on the bundle's tokenizer_2/tokenizer.json (nmt_nfkc charsmap: the degree
# sign, em dash and fraction slash are <unk>, (TM) and the ellipsis expand; '</s>' and
# '<extra_id_0>' in the text are their ids; the long one is truncated to 511 + </s> for T5, 77 for CLIP).
FLUX_PROMPTS = [
    PROMPT,
    "An astronaut in a white space suit, standing on the Moon at 100°C — café ½ ™…",
    "wow! a dog</s> on a beach <extra_id_0> at night",
    "a photo of a red cat sitting on a wooden chair in the garden, " * 36,
]
# Names for the node test's table (prompts other than '' and PROMPT get their own rows).
PROMPT_TAGS = {BANG_PROMPT: "bang", FLUX_PROMPTS[1]: "nfkc", FLUX_PROMPTS[2]: "specials", FLUX_PROMPTS[3]: "long"}
FLUX_TAGS = {**PROMPT_TAGS, PROMPT: "cat"}  # the Flux bundle took only '' before: PROMPT's rows are new there too
CLIP_PROMPTS = sorted({"", PROMPT, BANG_PROMPT, *FLUX_PROMPTS})
SCHED = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
TIMESTEPS = [999, 500, 199, 0]
FRACTIONAL_AB = 0.3
GUIDANCE = 5.0
FLUX_GUIDANCE = 3.5  # Flux-dev's default distilled guidance, as diffc's default
RECON_START, RECON_STEPS = 750, 3

# Crops of astronaut.png (512x512): name -> (x, y, width, height).
CROPS = {"photo-64x64.png": (208, 64, 64, 64), "photo-128x64.png": (160, 96, 128, 64), "photo-64x48.png": (240, 112, 64, 48)}


def log(*a):
    print("[parity]", *a, flush=True)


# ----------------------------------------------------------------------------------------------
# Test data encoding


def tensor(x, dtype="float32"):
    a = np.ascontiguousarray(np.asarray(x.detach().cpu().numpy() if torch.is_tensor(x) else x, dtype=np.float64))
    raw = a.astype("<f4" if dtype == "float32" else "<f8").tobytes()
    return {"dtype": dtype, "shape": list(a.shape), "b64": base64.b64encode(raw).decode("ascii")}


def as_np(x):
    return x.detach().cpu().to(torch.float64).numpy() if torch.is_tensor(x) else np.asarray(x, dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# Tokenizers


def _tokenizer_vectors():
    """scripts/parity/gen-tokenizer-vectors.py as a module (its CLIP vocabulary builder, BPE trace and
    transformers' no-ftfy fallback are reused here)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen-tokenizer-vectors.py")
    spec = importlib.util.spec_from_file_location("gen_tokenizer_vectors", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def clip_vocab_files(out_dir, prompts):
    """vocab.json + merges.txt: CLIP's byte-level BPE (open_clip's bpe_simple_vocab_16e6.txt.gz, the
    file OpenAI's tokenizer and HF's openai/clip-vit-* vocab are built from) cut to the 512 byte
    tokens, BOS/EOS and the merges the suite's prompts use, every token at its real id and the merges
    in their real order: these prompts get exactly the full vocabulary's ids (checked, for both pad
    tokens, with ftfy and with transformers' fallback without it), other text splits into more
    pieces. Returns the tokenizers padding with <|endoftext|> and with '!', and the ids they can produce."""
    tv = _tokenizer_vectors()
    full_dir = os.path.join(out_dir, "full")
    os.makedirs(full_dir, exist_ok=True)
    vocab, merges = tv.write_full_clip_vocab(tv.find_clip_bpe(None), full_dir)
    assert len(vocab) == CLIP_VOCAB and vocab[BOS] == "<|startoftext|>" and vocab[EOS] == "<|endoftext|>"
    fv, fm = os.path.join(full_dir, "vocab.json"), os.path.join(full_dir, "merges.txt")
    ranks = {m: i for i, m in enumerate(merges)}
    words = set()
    full = {}
    for pad in ("<|endoftext|>", "!"):
        tok = CLIPTokenizer(fv, fm, pad_token=pad, model_max_length=77)
        assert tok.fix_text is not None, "ftfy must be installed (scripts/parity/requirements-tokenizers.txt)"
        orig = tok.bpe
        tok.bpe = lambda w, orig=orig: (words.add(w), orig(w))[1]
        full[pad] = tok
    call = lambda tok, p: tok(p, padding="max_length", max_length=77, truncation=True).input_ids  # noqa: E731
    want = {(pad, p): call(t, p) for pad, t in full.items() for p in prompts}
    keep_tokens, keep_merges = set(vocab[:512]), set()
    for w in sorted(words - {"<|startoftext|>", "<|endoftext|>"}):
        parts, used = tv.trace_bpe(w, ranks)
        keep_merges.update(used)
        keep_tokens.update(parts)
        keep_tokens.update(a + b for a, b in used)
    index = {t: i for i, t in enumerate(vocab)}
    ids = sorted(index[t] for t in keep_tokens) + [BOS, EOS]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({vocab[i]: i for i in ids}, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in sorted(keep_merges, key=lambda m: ranks[m])) + "\n")
    v, m = os.path.join(out_dir, "vocab.json"), os.path.join(out_dir, "merges.txt")
    toks = {}
    for pad in ("<|endoftext|>", "!"):
        toks[pad] = CLIPTokenizer(v, m, pad_token=pad, model_max_length=77)
        basic = tv.no_ftfy(CLIPTokenizer(v, m, pad_token=pad, model_max_length=77))
        for p in prompts:
            # ftfy (installed here) and transformers' fallback without it must agree: diffc refuses
            # prompts whose ids depend on it.
            assert call(toks[pad], p) == want[(pad, p)] == call(basic, p), (pad, p)
    log(f"CLIP vocabulary: {len(ids)} tokens, {len(keep_merges)} merges (of {len(merges)}) for {len(prompts)} prompts")
    return toks["<|endoftext|>"], toks["!"], ids


def t5_tokenizer(out_dir):
    """T5TokenizerFast on test/vectors/tokenizers/t5/tokenizer.json.gz: gen-tokenizer-vectors.py's
    1000-piece SentencePiece Unigram model (T5's special ids pad 0, </s> 1, <unk> 2; nmt_nfkc's
    precompiled charsmap as T5's spiece.model; 100 extra ids, <extra_id_0> = 1099) converted by
    transformers' T5Converter, the tokenizer test_vectors' T5 ids come from."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "tokenizer.json")
    with open(T5_FIXTURE, "rb") as f:
        raw = gzip.decompress(f.read())
    with open(path, "wb") as f:
        f.write(raw)
    tok = T5TokenizerFast(tokenizer_file=path, extra_ids=100, model_max_length=512)
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id, len(tok)) == (0, 1, 2, 1100)
    return tok


# ----------------------------------------------------------------------------------------------
# Tiny models (real architectures, random init)


def clip_text(seed, act, used_ids, with_projection=False, projection=None, hidden=CLIP_HIDDEN):
    torch.manual_seed(seed)
    # eos_token_id 2 as in the real checkpoints' configs (the pooled token is the argmax id: EOS).
    cfg = CLIPTextConfig(
        vocab_size=CLIP_VOCAB, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2, num_attention_heads=2,
        max_position_embeddings=77, hidden_act=act, bos_token_id=0, eos_token_id=2, pad_token_id=1,
        projection_dim=projection or hidden,
    )
    m = (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(cfg).eval()
    # Rows of ids no tokenizer here can produce are zero, so the 49408-row table packs small in git;
    # the ids the tests feed keep their random rows.
    with torch.no_grad():
        w = m.text_model.embeddings.token_embedding.weight
        keep = torch.zeros(CLIP_VOCAB, dtype=torch.bool)
        keep[torch.tensor(used_ids)] = True
        w[~keep] = 0
    return m


def unet(seed, cross, xl=None):
    torch.manual_seed(seed)
    kw = dict(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross, attention_head_dim=4, norm_num_groups=4,
    )
    if xl:
        kw.update(addition_embed_type="text_time", addition_time_embed_dim=8, projection_class_embeddings_input_dim=8 * xl["time_ids"] + xl["pooled"],
                  transformer_layers_per_block=1, use_linear_projection=True)
    return UNet2DConditionModel(**kw).eval()


def vae(seed, latent_channels, scaling, shift=None, quant=True):
    torch.manual_seed(seed)
    kw = dict(
        in_channels=3, out_channels=3, block_out_channels=(8, 8, 16, 16), down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=latent_channels, layers_per_block=1, norm_num_groups=8,
        sample_size=64, scaling_factor=scaling, use_quant_conv=quant, use_post_quant_conv=quant,
    )
    if shift is not None:
        kw["shift_factor"] = shift
    return AutoencoderKL(**kw).eval()


def sd_pipeline(name, used):
    """sd15 (eps, pad EOS, quick_gelu) or sd21 (v_prediction, pad '!', gelu)."""
    v2 = name.startswith("sd21")
    seed = 21 if v2 else 15
    tok, ids = used
    te = clip_text(seed, "gelu" if v2 else "quick_gelu", ids)
    sched = PNDMScheduler(**SCHED, skip_prk_steps=True, set_alpha_to_one=False, steps_offset=1, prediction_type="v_prediction" if v2 else "epsilon")
    return StableDiffusionPipeline(
        vae=vae(seed + 100, 4, 0.18215), text_encoder=te, tokenizer=tok, unet=unet(seed + 200, CLIP_HIDDEN), scheduler=sched,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )


def sdxl_pipelines(tok1, tok2, ids):
    te1 = clip_text(31, "quick_gelu", ids)
    te2 = clip_text(32, "gelu", ids, with_projection=True, projection=12)
    sched = DDIMScheduler(**SCHED, clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    v = vae(33, 4, 0.13025)
    base = StableDiffusionXLPipeline(
        vae=v, text_encoder=te1, text_encoder_2=te2, tokenizer=tok1, tokenizer_2=tok2,
        unet=unet(34, 2 * CLIP_HIDDEN, xl={"time_ids": 6, "pooled": 12}), scheduler=sched, force_zeros_for_empty_prompt=True,
    )
    # The refiner: text_encoder_2 only (the base's, as in the real checkpoints), 5 time ids with the
    # aesthetic score; force_zeros_for_empty_prompt False as the real refiner's model_index.json.
    refiner = StableDiffusionXLImg2ImgPipeline(
        vae=v, text_encoder=None, text_encoder_2=te2, tokenizer=None, tokenizer_2=tok2,
        unet=unet(35, CLIP_HIDDEN, xl={"time_ids": 5, "pooled": 12}), scheduler=sched,
        requires_aesthetics_score=True, force_zeros_for_empty_prompt=False,
    )
    return base, refiner


def flux_pipeline(tok, ids, t5tok):
    te = clip_text(41, "quick_gelu", ids)
    torch.manual_seed(42)
    t5 = T5EncoderModel(T5Config(vocab_size=len(t5tok), d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                                 feed_forward_proj="gated-gelu", relative_attention_num_buckets=8)).eval()
    torch.manual_seed(43)
    tr = FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=1, num_single_layers=1, attention_head_dim=16,
                                num_attention_heads=2, joint_attention_dim=16, pooled_projection_dim=CLIP_HIDDEN, guidance_embeds=True,
                                axes_dims_rope=(4, 6, 6)).eval()
    sched = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=True, base_shift=0.5,
                                            max_shift=1.15, base_image_seq_len=256, max_image_seq_len=4096)
    return FluxPipeline(scheduler=sched, vae=vae(44, 16, 0.3611, 0.1159, quant=False), text_encoder=te, tokenizer=tok,
                        text_encoder_2=t5, tokenizer_2=t5tok, transformer=tr)


# ----------------------------------------------------------------------------------------------
# Export and bundle


def run(cmd, **kw):
    log("$", " ".join(cmd))
    subprocess.run(cmd, check=True, **kw)


def export(pipe_dir, out_dir, task, dtype="fp32"):
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    cmd = [os.path.join(os.path.dirname(sys.executable), "optimum-cli"), "export", "onnx", "--model", pipe_dir, "--task", task]
    if dtype != "fp32":
        # The exporter validates against the fp32 PyTorch model at 1e-5: half precision is off by
        # ~1e-3 (UNet) to ~3e-2 (VAE decoder) on these tiny random models.
        cmd += ["--dtype", dtype, "--atol", "0.1"]
    run(cmd + [out_dir])


CLIP_FILES = ["vocab.json", "merges.txt"]
# The tokenizer files each bundle ships (what make-bundle takes from the export's folders).
TOKENIZER_FILES = {
    "sd": {"tokenizer": CLIP_FILES},
    "sdxl": {"tokenizer": CLIP_FILES, "tokenizer_2": CLIP_FILES},
    "flux": {"tokenizer": CLIP_FILES, "tokenizer_2": ["tokenizer.json"]},
    None: {},
}


def bundle(onnx_dir, name, family, tokenizers, refiner_dir=None):
    """Copies what the bundle uses into models/test/parity/<name>/ and runs make-bundle there."""
    dest = os.path.join(MODELS, name)
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    for folder in ["text_encoder", "text_encoder_2", "unet", "transformer", "vae_encoder", "vae_decoder"]:
        src = os.path.join(onnx_dir, folder)
        if not os.path.isdir(src):
            continue
        os.makedirs(os.path.join(dest, folder))
        for f in os.listdir(src):
            if f.endswith((".onnx", ".onnx_data")) or (folder == "vae_decoder" and f == "config.json"):
                shutil.copy(os.path.join(src, f), os.path.join(dest, folder, f))
    if refiner_dir:
        os.makedirs(os.path.join(dest, "refiner_unet"))
        for f in os.listdir(os.path.join(refiner_dir, "unet")):
            if f.endswith((".onnx", ".onnx_data")):
                shutil.copy(os.path.join(refiner_dir, "unet", f), os.path.join(dest, "refiner_unet", f))
    for folder, names in TOKENIZER_FILES[tokenizers].items():
        os.makedirs(os.path.join(dest, folder))
        for f in names:
            shutil.copy(os.path.join(onnx_dir, folder, f), os.path.join(dest, folder, f))
    os.makedirs(os.path.join(dest, "scheduler"))
    shutil.copy(os.path.join(onnx_dir, "scheduler", "scheduler_config.json"), os.path.join(dest, "scheduler", "scheduler_config.json"))
    cmd = ["npx", "tsx", "scripts/make-bundle.ts", os.path.relpath(dest, ROOT), "--family", family, "--id", f"parity-{name}"]
    run(cmd, cwd=ROOT)
    # make-bundle read the prediction type and VAE scaling from these; the bundle does not need them.
    shutil.rmtree(os.path.join(dest, "scheduler"))
    os.remove(os.path.join(dest, "vae_decoder", "config.json"))


def graph_inputs(path):
    m = onnx.load(path, load_external_data=False)
    out = {}
    for i in m.graph.input:
        t = i.type.tensor_type
        out[i.name] = {"type": onnx.TensorProto.DataType.Name(t.elem_type).lower(), "rank": len(t.shape.dim)}
    return out


# ----------------------------------------------------------------------------------------------
# What diffusers computes


def load_photo(name):
    return Image.open(os.path.join(EXPECT, name)).convert("RGB")


def make_crops():
    src = Image.open(PHOTO).convert("RGB")
    for name, (x, y, w, h) in CROPS.items():
        src.crop((x, y, x + w, y + h)).save(os.path.join(EXPECT, name), optimize=True)


def fixed_noise(seed, shape):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float32)


def t_from_alpha_bar(table, ab):
    """diffc's timestepFromAlphaBar (src/codec/schedule/noise-level.ts) on diffusers' alphas_cumprod:
    linear interpolation in log-SNR between integer timesteps, clamped to [0, T-1]."""
    ls = np.log(table / (1 - table))
    target = math.log(ab / (1 - ab))
    if target >= ls[0]:
        return 0.0
    if target <= ls[-1]:
        return float(len(table) - 1)
    lo = int(np.nonzero(ls > target)[0][-1])
    return lo + (ls[lo] - target) / (ls[lo] - ls[lo + 1])


def vae_encode_ddpm(pipe, pil):
    """The VAE mean in diffc's DDPM form (mean - shift) * scale, via diffusers' image processor."""
    x = pipe.image_processor.preprocess(pil).to(torch.float32)
    mean = pipe.vae.encode(x).latent_dist.mean
    shift = getattr(pipe.vae.config, "shift_factor", None) or 0.0
    return x, (mean - shift) * pipe.vae.config.scaling_factor


def vae_decode_hwc(pipe, z):
    shift = getattr(pipe.vae.config, "shift_factor", None) or 0.0
    img = pipe.vae.decode(z / pipe.vae.config.scaling_factor + shift).sample
    return pipe.image_processor.postprocess(img, output_type="np")[0]  # HWC in [0, 1]


def x0_from(kind, out, x, ab):
    a, b = math.sqrt(ab), math.sqrt(1 - ab)
    if kind == "epsilon":
        return (x - b * out) / a
    if kind == "v_prediction":
        return a * x - b * out
    raise ValueError(kind)


def check_close(a, b, what, tol=1e-5):
    err = float((a - b).abs().max() / b.abs().max())
    if err > tol:
        raise AssertionError(f"{what}: {err}")


def latent_of(image_rec):
    t = image_rec["latent"]
    return torch.from_numpy(np.frombuffer(base64.b64decode(t["b64"]), dtype="<f4").copy()).reshape(1, *t["shape"])


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def check_sensitivity(name, sens, floor=1e-3):
    """Each wrong input must move the output by far more than the node test's 1e-4 tolerance."""
    for k, v in sens.items():
        log(f"{name} sensitivity {k}: {v:.3e}")
        if not v > floor:
            raise AssertionError(f"{name}: the output hardly depends on '{k}' ({v:.2e}): the parity test could not see it wrong")
    return sens


class SdRef:
    """UNet calls as StableDiffusion(XL)Pipeline.__call__ makes them (CFG u + g (c - u))."""

    def __init__(self, pipe, prompt, guidance, width, height, xl=False, refiner=False):
        self.pipe, self.guidance, self.xl = pipe, guidance, xl
        cfg = guidance > 1
        self.added = None
        if not xl:
            c, u = pipe.encode_prompt(prompt, "cpu", 1, cfg, negative_prompt=None)
            self.ehs = torch.cat([u, c]) if cfg else c
            self.text = {"prompt_embeds": c, "negative_prompt_embeds": u}
            return
        c, u, pc, pu = pipe.encode_prompt(prompt, device="cpu", num_images_per_prompt=1, do_classifier_free_guidance=cfg)
        proj = pipe.text_encoder_2.config.projection_dim
        size = (height, width)
        if refiner:
            tid, ntid = pipe._get_add_time_ids(size, (0, 0), size, 6.0, 2.5, size, (0, 0), size, dtype=c.dtype, text_encoder_projection_dim=proj)
        else:
            tid = pipe._get_add_time_ids(size, (0, 0), size, dtype=c.dtype, text_encoder_projection_dim=proj)
            ntid = tid
        self.text = {"prompt_embeds": c, "negative_prompt_embeds": u, "pooled": pc, "negative_pooled": pu, "time_ids": tid, "negative_time_ids": ntid}
        self.ehs = torch.cat([u, c]) if cfg else c
        self.added = {"text_embeds": torch.cat([pu, pc]) if cfg else pc, "time_ids": torch.cat([ntid, tid]) if cfg else tid}

    @torch.no_grad()
    def model_output(self, x, t):
        cfg = self.guidance > 1
        inp = torch.cat([x, x]) if cfg else x
        ts = torch.tensor(t, dtype=torch.float32) if isinstance(t, float) else torch.tensor(t)
        out = self.pipe.unet(inp, ts, encoder_hidden_states=self.ehs, added_cond_kwargs=self.added).sample
        if cfg:
            u, c = out.chunk(2)
            out = u + self.guidance * (c - u)
        return out


@torch.no_grad()
def sensitivity_sd(name, pipe, refiner, xl, image_rec, size):
    """How far the model output moves when one input is wrong, on the (non-square) size's latent."""
    w, h = size
    z0 = latent_of(image_rec)
    ab = float(pipe.scheduler.alphas_cumprod[500])
    x = math.sqrt(ab) * z0 + math.sqrt(1 - ab) * fixed_noise(3, z0.shape)
    ref = SdRef(pipe, PROMPT, 1.0, w, h, xl=xl)
    o = ref.model_output(x, 500)
    g5 = SdRef(pipe, PROMPT, GUIDANCE, w, h, xl=xl).model_output(x, 500)
    sens = {"prompt -> ''": rel(SdRef(pipe, "", 1.0, w, h, xl=xl).model_output(x, 500), o),
            "timestep 500 -> 501": rel(ref.model_output(x, 501), o),
            "guidance 5 -> 4": rel(SdRef(pipe, PROMPT, 4.0, w, h, xl=xl).model_output(x, 500), g5)}
    if xl:
        sens[f"time_ids H, W swapped ({w}x{h})"] = rel(SdRef(pipe, PROMPT, 1.0, h, w, xl=True).model_output(x, 500), o)
        ref.added["text_embeds"].zero_()
        sens["pooled text_embeds -> zeros"] = rel(ref.model_output(x, 500), o)
        # tokenizer_2 padding with <|endoftext|> (as the first) instead of '!': the '!'s of the
        # prompt are then BPE'd rather than id 0, and the padding differs.
        bang = pipe.encode_prompt(BANG_PROMPT, device="cpu", num_images_per_prompt=1, do_classifier_free_guidance=False)[0]
        keep = pipe.tokenizer_2
        pipe.tokenizer_2 = pipe.tokenizer
        sens["bang prompt_embeds: tokenizer_2 pad '!' -> '<|endoftext|>'"] = rel(
            pipe.encode_prompt(BANG_PROMPT, device="cpu", num_images_per_prompt=1, do_classifier_free_guidance=False)[0], bang)
        pipe.tokenizer_2 = keep
        if refiner is not None:
            ab = float(pipe.scheduler.alphas_cumprod[100])
            x = math.sqrt(ab) * z0 + math.sqrt(1 - ab) * fixed_noise(3, z0.shape)
            r = SdRef(refiner, PROMPT, GUIDANCE, w, h, xl=True, refiner=True)
            o = r.model_output(x, 100)
            r.added["time_ids"][1, 4] = 2.5
            sens["refiner aesthetic score 6 -> 2.5"] = rel(r.model_output(x, 100), o)
            r.added["time_ids"][1, 4] = 6.0
            r.ehs[0].zero_()
            r.added["text_embeds"][0].zero_()
            sens["refiner unconditional: empty prompt -> zeros"] = rel(r.model_output(x, 100), o)
    return check_sensitivity(name, sens)


def timestep_value(graph, t):
    """What the export's timestep input can carry: the continuous value for a float graph, rounded for int."""
    return t if graph["timestep"]["type"].startswith("float") else float(round(t))


def tagged(rec, prompt, tags=PROMPT_TAGS):
    """The prompt's name for the node test's table (its own rows), for prompts other than '' and PROMPT."""
    if prompt in tags:
        rec["tag"] = tags[prompt]
    return rec


@torch.no_grad()
def record_sd(name, pipe, graphs, refiner=None, refiner_graphs=None, prompts=("", PROMPT), cfg_prompts=(PROMPT,), text_prompts=(),
              sizes=((64, 64), (128, 64)), refiner_from=0.8):
    """prompts: x0 without guidance on the first size; cfg_prompts: x0 with CFG g = GUIDANCE (PROMPT's
    also on the second size); text_prompts: ids and encode_prompt only. The reconstruction and the
    sensitivities use PROMPT."""
    xl = isinstance(pipe, StableDiffusionXLPipeline)
    table = pipe.scheduler.alphas_cumprod.to(torch.float64).numpy()
    kind = pipe.scheduler.config.prediction_type
    data = {"alphaBars": tensor(pipe.scheduler.alphas_cumprod), "predictionType": kind}
    # Token ids from the pipelines' tokenizers, as encode_prompt calls them.
    toks = []
    tokenizers = [("tokenizer", pipe.tokenizer)] + ([("tokenizer_2", pipe.tokenizer_2)] if xl else [])
    text_prompts = list(dict.fromkeys([*prompts, *cfg_prompts, *text_prompts]))
    for p in sorted(set(text_prompts) | {""}):
        for role, tk in tokenizers:
            ids = tk(p, padding="max_length", max_length=tk.model_max_length, truncation=True).input_ids
            toks.append({"prompt": p, "tokenizer": role, "padToken": tk.pad_token, "ids": ids})
    data["tokens"] = toks
    # encode_prompt's outputs with classifier-free guidance (the conditional ones are the same
    # without): SD's negative is the empty prompt's; SDXL's zeros (force_zeros_for_empty_prompt),
    # the refiner's the empty prompt's through text_encoder_2.
    texts = []
    for p in text_prompts:
        if xl:
            ref = SdRef(pipe, p, GUIDANCE, 64, 64, xl=True)
            assert float(ref.text["negative_prompt_embeds"].abs().max()) == 0 and float(ref.text["negative_pooled"].abs().max()) == 0
            refs = [("unet", ref)] + ([("refiner_unet", SdRef(refiner, p, GUIDANCE, 64, 64, xl=True, refiner=True))] if refiner is not None else [])
            for role, r in refs:
                texts.append(tagged({"prompt": p, "role": role, "guidance": GUIDANCE, "prompt_embeds": tensor(r.text["prompt_embeds"][0]),
                                     "pooled": tensor(r.text["pooled"][0]), "negative_prompt_embeds": tensor(r.text["negative_prompt_embeds"][0]),
                                     "negative_pooled": tensor(r.text["negative_pooled"][0])}, p))
        else:
            c, u = pipe.encode_prompt(p, "cpu", 1, True, negative_prompt=None)
            texts.append(tagged({"prompt": p, "role": "unet", "guidance": GUIDANCE, "prompt_embeds": tensor(c[0]), "negative_prompt_embeds": tensor(u[0])}, p))
    data["text"] = texts

    cases, images = [], []
    cutoff = (1 - refiner_from) * 1000 if refiner is not None else -1
    for (w, h) in sizes:
        pil = load_photo(f"photo-{w}x{h}.png")
        _, z0 = vae_encode_ddpm(pipe, pil)
        rgb = vae_decode_hwc(pipe, z0)
        images.append({"image": f"photo-{w}x{h}.png", "width": w, "height": h, "latent": tensor(z0[0]), "decoded": tensor(rgb)})
        eps = fixed_noise(1000 + w + h, z0.shape)
        conds = [(p, 1.0) for p in prompts] + [(p, GUIDANCE) for p in cfg_prompts]
        if (w, h) != sizes[0]:
            conds = [(PROMPT, GUIDANCE)]
        for prompt, g in conds:
            refs = {}
            for t in TIMESTEPS + [None]:
                ab = float(pipe.scheduler.alphas_cumprod[t]) if t is not None else FRACTIONAL_AB
                tc = float(t) if t is not None else t_from_alpha_bar(table, ab)
                use_refiner = refiner is not None and tc < cutoff
                key = "refiner" if use_refiner else "base"
                if key not in refs:
                    refs[key] = SdRef(refiner if use_refiner else pipe, prompt, g, w, h, xl=xl, refiner=use_refiner)
                g_in = refiner_graphs if use_refiner else graphs
                t_in = timestep_value(g_in, tc)
                x = math.sqrt(ab) * z0 + math.sqrt(1 - ab) * eps
                out = refs[key].model_output(x, int(t_in) if t is not None else t_in)
                x0 = x0_from(kind, out.to(torch.float64), x.to(torch.float64), ab)
                if t is not None and t > 0:
                    # The same x0 from diffusers' own DDIM step.
                    ddim = DDIMScheduler.from_config(pipe.scheduler.config, clip_sample=False)
                    ddim.set_timesteps(1000 // 250)
                    check_close(ddim.step(out, t, x).pred_original_sample.to(torch.float64), x0, f"{name} DDIM x0 at {t}")
                cases.append(tagged({"width": w, "height": h, "prompt": prompt, "guidance": g, "t": t, "timestepFed": t_in, "alphaBar": ab,
                                     "unet": "refiner_unet" if use_refiner else "unet", "x": tensor(x[0]), "out": tensor(out[0]), "x0": tensor(x0[0])}, prompt))
    data["images"] = images
    data["x0"] = cases
    data["sensitivity"] = sensitivity_sd(name, pipe, refiner, xl, images[-1], sizes[-1])

    # DDIM (eta 0) from t = RECON_START in RECON_STEPS steps, as diffc's 'flow' reconstruction: DDIM's
    # pred_original_sample at the last step. Leading spacing of 1000/(steps+1): 750, 500, 250.
    w, h = sizes[0]
    z0 = latent_of(images[0])
    ab = float(pipe.scheduler.alphas_cumprod[RECON_START])
    x = math.sqrt(ab) * z0 + math.sqrt(1 - ab) * fixed_noise(77, z0.shape)
    x_start = x.clone()
    ddim = DDIMScheduler.from_config(pipe.scheduler.config, clip_sample=False, set_alpha_to_one=False, steps_offset=0, timestep_spacing="leading")
    ddim.set_timesteps(RECON_STEPS + 1)
    ts = [int(t) for t in ddim.timesteps[:RECON_STEPS]]
    assert ts == [750, 500, 250], ts
    ref = SdRef(pipe, PROMPT, 1.0, w, h, xl=xl)
    for t in ts:
        step = ddim.step(ref.model_output(x, t), t, x)
        x = step.prev_sample
    data["recon"] = {"width": w, "height": h, "prompt": PROMPT, "guidance": 1.0, "alphaBar": ab, "steps": RECON_STEPS, "timesteps": ts,
                     "x": tensor(x_start[0]), "x0": tensor(step.pred_original_sample[0])}
    return data


@torch.no_grad()
def record_flux(name, pipe, sizes=((64, 64), (64, 48))):
    sched = pipe.scheduler
    mu = sched.config.base_shift
    u = (np.arange(1000, dtype=np.float64) + 1) / 1001
    sig = np.asarray(sched.time_shift(mu, 1.0, u), dtype=np.float64)
    table = (1 - sig) ** 2 / ((1 - sig) ** 2 + sig ** 2)
    data = {"alphaBars": tensor(table, "float64"), "predictionType": "flow"}
    toks = []
    for p in ["", *FLUX_PROMPTS]:
        toks.append({"prompt": p, "tokenizer": "tokenizer", "padToken": pipe.tokenizer.pad_token,
                     "ids": pipe.tokenizer(p, padding="max_length", max_length=77, truncation=True).input_ids})
        toks.append({"prompt": p, "tokenizer": "tokenizer_2", "padToken": pipe.tokenizer_2.pad_token,
                     "ids": pipe.tokenizer_2(p, padding="max_length", max_length=512, truncation=True).input_ids})
    data["tokens"] = toks
    # encode_prompt: CLIP pooler_output (77 tokens) and T5 last_hidden_state (512), per prompt.
    texts, enc = [], {}
    for p in ["", *FLUX_PROMPTS]:
        pe, pooled, text_ids = pipe.encode_prompt(p, prompt_2=None, device="cpu", max_sequence_length=512)
        assert float(text_ids.abs().max()) == 0 and pe.shape[1] == 512
        enc[p] = (pe, pooled, text_ids)
        texts.append(tagged({"prompt": p, "role": "transformer", "prompt_embeds": tensor(pe[0]), "pooled": tensor(pooled[0])}, p, FLUX_TAGS))
    data["text"] = texts
    pe, pooled, _ = enc[""]

    def velocity(z_flow, t, g, h, w, prompt=""):
        """FluxPipeline.__call__'s transformer call on an unpacked flow latent at scheduler timestep t (sigma * 1000)."""
        pe, pooled, text_ids = enc[prompt]
        b, c, lh, lw = z_flow.shape
        packed = pipe._pack_latents(z_flow, b, c, lh, lw)
        img_ids = pipe._prepare_latent_image_ids(b, lh // 2, lw // 2, "cpu", torch.float32)
        guidance = torch.full([1], g, dtype=torch.float32).expand(b)
        t = t.expand(b)
        v = pipe.transformer(hidden_states=packed, timestep=t / 1000, guidance=guidance, pooled_projections=pooled,
                             encoder_hidden_states=pe, txt_ids=text_ids, img_ids=img_ids, return_dict=False)[0]
        return pipe._unpack_latents(v, h, w, pipe.vae_scale_factor)

    images, cases = [], []
    for (w, h) in sizes:
        pil = load_photo(f"photo-{w}x{h}.png")
        _, z0 = vae_encode_ddpm(pipe, pil)
        images.append({"image": f"photo-{w}x{h}.png", "width": w, "height": h, "latent": tensor(z0[0]), "decoded": tensor(vae_decode_hwc(pipe, z0))})
        eps = fixed_noise(2000 + w + h, z0.shape)
        # The empty prompt at every level; the prompts at t 500 and alpha-bar 0.3 (PROMPT at every level).
        levels = TIMESTEPS + [None]
        conds = [("", FLUX_GUIDANCE, levels), ("", GUIDANCE, levels)] if (w, h) == sizes[0] else [("", FLUX_GUIDANCE, levels)]
        if (w, h) == sizes[0]:
            conds += [(p, FLUX_GUIDANCE, levels if p == PROMPT else [500, None]) for p in FLUX_PROMPTS]
        for prompt, g, ts in conds:
            for t in ts:
                if t is not None:
                    s = float(sig[t])
                    ab = float(table[t])
                else:
                    ab = FRACTIONAL_AB
                    s = 1 / (1 + math.sqrt(ab / (1 - ab)))  # the flow sigma with the same SNR
                # The flow state at sigma (the scheduler's scale_noise at a one-step schedule of
                # exactly s: no shift), and its DDPM form for diffc.
                flat = FlowMatchEulerDiscreteScheduler.from_config(sched.config, use_dynamic_shifting=False, shift=1.0)
                flat.set_timesteps(sigmas=[s])
                s = float(flat.sigmas[0])  # float32, as the scheduler holds it
                ab = (1 - s) ** 2 / ((1 - s) ** 2 + s ** 2)
                xf = flat.scale_noise(z0, flat.timesteps[:1], eps)
                v = velocity(xf, flat.timesteps[:1], g, h, w, prompt)
                x0 = xf.to(torch.float64) - s * v.to(torch.float64)
                x = xf.to(torch.float64) / math.sqrt((1 - s) ** 2 + s ** 2)
                cases.append(tagged({"width": w, "height": h, "prompt": prompt, "guidance": g, "t": t, "sigma": s, "alphaBar": ab,
                                     "x": tensor(x[0]), "out": tensor(v[0]), "x0": tensor(x0[0])}, prompt, FLUX_TAGS))
    data["images"], data["x0"] = images, cases

    # How far the velocity moves when one input is wrong (the tests' tolerance must be far below).
    w, h = sizes[-1]
    z0 = latent_of(images[-1])
    flat = FlowMatchEulerDiscreteScheduler.from_config(sched.config, use_dynamic_shifting=False, shift=1.0)
    flat.set_timesteps(sigmas=[0.5])
    xf = flat.scale_noise(z0, flat.timesteps[:1], fixed_noise(3, z0.shape))
    t = flat.timesteps[:1]
    ref = velocity(xf, t, FLUX_GUIDANCE, h, w)
    sens = {"guidance 3.5 -> 5": rel(velocity(xf, t, GUIDANCE, h, w), ref), "sigma 0.5 -> 0.5005": rel(velocity(xf, t * 1.001, FLUX_GUIDANCE, h, w), ref),
            f"prompt '' -> '{PROMPT}'": rel(velocity(xf, t, FLUX_GUIDANCE, h, w, PROMPT), ref)}
    orig_ids = pipe._prepare_latent_image_ids
    pipe._prepare_latent_image_ids = lambda *a: orig_ids(*a)[:, [0, 2, 1]]  # (0, j, i): rows and columns swapped
    sens[f"img_ids transposed ({w}x{h})"] = rel(velocity(xf, t, FLUX_GUIDANCE, h, w), ref)
    pipe._prepare_latent_image_ids = orig_ids
    for what, tens in [("pooled_projections -> zeros", pooled), ("T5 embeddings -> zeros", pe)]:
        keep = tens.clone()
        tens.zero_()
        sens[what] = rel(velocity(xf, t, FLUX_GUIDANCE, h, w), ref)
        tens.copy_(keep)
    data["sensitivity"] = check_sensitivity(name, sens)

    # Euler (FlowMatchEulerDiscreteScheduler) from table index RECON_START in RECON_STEPS steps to
    # sigma 0: the flow form of DDIM (eta 0), diffc's 'flow' reconstruction. Sigmas of the table at
    # 750, 500, 250 (diffusers shifts the unshifted (t+1)/1001 by mu = base_shift).
    w, h = sizes[0]
    z0 = latent_of(images[0])
    ts = [RECON_START * (RECON_STEPS - i) // RECON_STEPS for i in range(RECON_STEPS)]
    sched.set_timesteps(sigmas=[float(u[t]) for t in ts], mu=mu)
    s0 = float(sched.sigmas[0])
    xf = sched.scale_noise(z0, sched.timesteps[:1], fixed_noise(78, z0.shape))
    x_start = xf.to(torch.float64) / math.sqrt((1 - s0) ** 2 + s0 ** 2)
    for t in sched.timesteps:
        xf = sched.step(velocity(xf, t.reshape(1), FLUX_GUIDANCE, h, w), t, xf).prev_sample
    data["recon"] = {"width": w, "height": h, "prompt": "", "guidance": FLUX_GUIDANCE, "alphaBar": float(table[RECON_START]), "steps": RECON_STEPS,
                     "timesteps": ts, "sigmas": [float(s) for s in sched.sigmas], "x": tensor(x_start[0]), "x0": tensor(xf[0])}
    return data


# ----------------------------------------------------------------------------------------------
# The reference implementation's step formulas (github.com/JeremyIV/diffc, lib/diffc/utils/p.py,
# q.py, alpha_beta.py, encode.py, rcc/gaussian_channel_simulator.py). Its timestep t is our t - 1:
# get_timestep_snr(t) = sqrt(ab / (1 - ab)) of alphas_cumprod[t - 1], and t = 0 is SNR infinity.


def ref_alpha_beta(snr):
    a = 1.0 if snr == math.inf else snr ** 2 / (1 + snr ** 2)
    return a, 1 - a


def ref_P(noisy, eps_pred, cur_snr, prev_snr):
    a_t, b_t = ref_alpha_beta(cur_snr)
    a_p, b_p = ref_alpha_beta(prev_snr)
    cur_alpha = a_t / a_p
    cur_beta = 1 - cur_alpha
    x0 = (noisy - b_t ** 0.5 * eps_pred) / a_t ** 0.5
    mu = (a_p ** 0.5 * cur_beta) / b_t * x0 + cur_alpha ** 0.5 * b_p / b_t * noisy
    std = ((1 - a_p) / (1 - a_t) * cur_beta) ** 0.5
    return mu, std, x0


def ref_Q(noisy, target, cur_snr, prev_snr):
    a_t, b_t = ref_alpha_beta(cur_snr)
    a_p, b_p = ref_alpha_beta(prev_snr)
    cur_alpha = a_t / a_p
    cur_beta = 1 - cur_alpha
    return (a_p ** 0.5 * cur_beta) / b_t * target + cur_alpha ** 0.5 * b_p / b_t * noisy


def ref_dkl_bits(q_mu, p_mu, std):
    d = ((q_mu - p_mu) / std).ravel().astype(np.float32)
    return 0.5 * float((d.astype(np.float32) ** 2).sum() / np.log(2))


def record_step_math():
    alphas = DDIMScheduler(**SCHED).alphas_cumprod.to(torch.float64).numpy()
    snr = np.sqrt(alphas / (1 - alphas))
    snr_of = lambda t: math.inf if t == 0 else float(snr[t - 1])  # noqa: E731
    rng = np.random.default_rng(12)
    n = 256
    pairs = []
    for t_ref, s_ref in [(900, 800), (500, 499), (200, 100), (50, 10), (10, 1)]:
        xt, x0, eps = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n)
        p_mu, std, x0hat = ref_P(xt, eps, snr_of(t_ref), snr_of(s_ref))
        q_mu = ref_Q(xt, x0, snr_of(t_ref), snr_of(s_ref))
        pairs.append({"refT": t_ref, "refS": s_ref, "t": t_ref - 1, "s": s_ref - 1,
                      "alphaBarT": ref_alpha_beta(snr_of(t_ref))[0], "alphaBarS": ref_alpha_beta(snr_of(s_ref))[0],
                      "xt": tensor(xt), "x0": tensor(x0), "eps": tensor(eps),
                      "x0hat": tensor(x0hat), "pMu": tensor(p_mu), "qMu": tensor(q_mu), "std": std, "klBits": ref_dkl_bits(q_mu, p_mu, std)})
    # A 3-step chain: our coding timesteps and the reference's (t + 1), each step's x0-hat given.
    # The reference starts at its timestep 1000 = alphas_cumprod[999] with x = randn; diffc starts at
    # the prior, alpha-bar 0 (nothing known). Recorded: the reference's KL at each step, and for
    # step 0 the same formula with alpha-bar_t = 0 (the reference's P/Q at SNR 0).
    ours = [899, 499, 199]
    x0 = rng.standard_normal(n)
    x0hats = [x0 + 0.5 * rng.standard_normal(n) for _ in ours]
    chain = {"timesteps": ours, "refTimesteps": [t + 1 for t in ours], "x0": tensor(x0), "x0hats": [tensor(v) for v in x0hats], "klBits": [], "refPriorKlBits": None}
    cur = 1000
    for k, t in enumerate(ours):
        prev = t + 1
        xt = rng.standard_normal(n)
        a_t = ref_alpha_beta(snr_of(cur))[0]
        eps = (xt - math.sqrt(a_t) * x0hats[k]) / math.sqrt(1 - a_t)  # the noise prediction whose x0-hat is x0hats[k]
        p_mu, std, _ = ref_P(xt, eps, snr_of(cur), snr_of(prev))
        q_mu = ref_Q(xt, x0, snr_of(cur), snr_of(prev))
        kl = ref_dkl_bits(q_mu, p_mu, std)
        if k == 0:
            chain["refPriorKlBits"] = kl
            # At SNR 0 (alpha-bar 0) P's x0 from eps is undefined, so the prior step is the
            # reference's mean coefficients at alpha_prod_t = 0 applied to x0 and x0-hat directly:
            # pred_original_sample_coeff = sqrt(a_prev) (1 - 0) / 1, variance (1 - a_prev) / 1 * (1 - 0).
            a_p = ref_alpha_beta(snr_of(prev))[0]
            kl = ref_dkl_bits(math.sqrt(a_p) * x0, math.sqrt(a_p) * x0hats[k], math.sqrt(1 - a_p))
        chain["klBits"].append(kl)
        cur = prev
    return {"source": "github.com/JeremyIV/diffc lib/diffc/utils/{p,q,alpha_beta}.py, lib/diffc/encode.py", "pairs": pairs, "chain": chain}


# ----------------------------------------------------------------------------------------------


def versions():
    return {"torch": torch.__version__, "diffusers": diffusers.__version__, "transformers": transformers.__version__,
            "optimum": getattr(optimum, "__version__", "?"), "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def write_json(name, data):
    path = os.path.join(EXPECT, name)
    with open(path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
    log("wrote", os.path.relpath(path, ROOT), os.path.getsize(path), "bytes")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="sd15,sd21,sdxl,flux-dev,sd15-fp16,step-math")
    ap.add_argument("--skip-export", action="store_true")
    args = ap.parse_args()
    only = set(args.only.split(","))
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    torch.use_deterministic_algorithms(True)
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(MODELS, exist_ok=True)
    os.makedirs(EXPECT, exist_ok=True)
    make_crops()
    t_start = time.time()

    tok_dir = os.path.join(WORK, "clip-vocab")
    tok_eos, tok_bang, used = clip_vocab_files(tok_dir, CLIP_PROMPTS)

    def stage(name, pipe, family, task, tokenizer, dtype="fp32", refiner=None):
        pdir, odir = os.path.join(WORK, name, "pipe"), os.path.join(WORK, name, "onnx")
        if not args.skip_export:
            if os.path.exists(pdir):
                shutil.rmtree(pdir)
            pipe.save_pretrained(pdir)
            export(pdir, odir, task, dtype)
            rdir = None
            if refiner is not None:
                rp, rdir = os.path.join(WORK, name, "refiner-pipe"), os.path.join(WORK, name, "refiner-onnx")
                if os.path.exists(rp):
                    shutil.rmtree(rp)
                refiner.save_pretrained(rp)
                export(rp, rdir, "image-to-image", dtype)
            bundle(odir, name, family, tokenizer, rdir)
        dest = os.path.join(MODELS, name)
        g = graph_inputs(os.path.join(dest, "unet" if family != "flux-dev" else "transformer", "model.onnx"))
        rg = graph_inputs(os.path.join(dest, "refiner_unet", "model.onnx")) if refiner is not None else None
        return g, rg

    if "sd15" in only:
        pipe = sd_pipeline("sd15", (tok_eos, used))
        g, _ = stage("sd15", pipe, "sd15", "text-to-image", "sd")
        data = record_sd("sd15", pipe, g, text_prompts=(BANG_PROMPT,))
        write_json("sd15.json", {"name": "sd15", "family": "sd15", "versions": versions(), "graphInputs": g, **data})
    if "sd15-fp16" in only:
        pipe = sd_pipeline("sd15", (tok_eos, used))
        try:
            stage("sd15-fp16", pipe, "sd15", "text-to-image", None, dtype="fp16")
            fp16 = {"exported": True}
        except subprocess.CalledProcessError as e:
            fp16 = {"exported": False, "error": str(e)}
        write_json("sd15-fp16.json", {"name": "sd15-fp16", "family": "sd15", "versions": versions(), **fp16})
    if "sd21" in only:
        pipe = sd_pipeline("sd21", (tok_bang, used))
        g, _ = stage("sd21", pipe, "sd21", "text-to-image", "sd")
        data = record_sd("sd21", pipe, g, text_prompts=(BANG_PROMPT,))
        write_json("sd21.json", {"name": "sd21", "family": "sd21", "versions": versions(), "graphInputs": g, **data})
    if "sdxl" in only:
        base, refiner = sdxl_pipelines(tok_eos, tok_bang, used)
        g, rg = stage("sdxl", base, "sdxl", "text-to-image", "sdxl", refiner=refiner)
        data = record_sd("sdxl", base, g, refiner=refiner, refiner_graphs=rg, prompts=("", PROMPT, BANG_PROMPT), cfg_prompts=(PROMPT, BANG_PROMPT))
        write_json("sdxl.json", {"name": "sdxl", "family": "sdxl", "versions": versions(), "graphInputs": g, "refinerGraphInputs": rg,
                                 "refinerFrom": 0.8, **data})
    if "flux-dev" in only:
        pipe = flux_pipeline(tok_eos, used, t5_tokenizer(os.path.join(WORK, "t5-tokenizer")))
        g, _ = stage("flux-dev", pipe, "flux-dev", "text-to-image", "flux")
        data = record_flux("flux-dev", pipe)
        write_json("flux-dev.json", {"name": "flux-dev", "family": "flux-dev", "versions": versions(), "graphInputs": g, **data})
    if "step-math" in only:
        write_json("step-math.json", record_step_math())
    log(f"done in {time.time() - t_start:.0f} s")


if __name__ == "__main__":
    main()
