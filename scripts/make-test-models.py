#!/usr/bin/env python3
"""
Tiny random-weight stand-ins for the ONNX exports of each model family, written as complete
bundles under models/test/<family>/ (manifest.json with sha256s included).

The graphs are a handful of Conv/MatMul/Add/Mul/Tanh ops, so outputs depend on every input, but
their input/output names, dtypes and ranks are those of the optimum (`optimum-cli export onnx`)
exports the adapters in src/models/onnx/ read:

  text_encoder    input_ids int32 [B,77] -> last_hidden_state [B,77,H], pooler_output [B,H]
                  (SDXL: also hidden_states.0..L, the pipeline uses the penultimate one)
  text_encoder_2  SDXL: input_ids int32 [B,77] -> text_embeds [B,P], last_hidden_state, hidden_states.*
                  Flux (T5): input_ids int64 [B,S] -> last_hidden_state [B,S,D]
  unet            sample [B,4,h,w], timestep, encoder_hidden_states [B,77,H] (+ SDXL text_embeds
                  [B,P], time_ids [B,6]) -> out_sample [B,4,h,w]. The timestep varies on purpose
                  between bundles: sd15 float32 [B] (older optimum), sd21 float32 scalar (newer
                  optimum), sdxl float16 scalar (fp16 export: every float input/output is float16),
                  sdxl refiner int64 [B] with time_ids [B,5].
  vae_encoder     sample [B,3,H,W] -> latent_parameters [B,2C,h,w] (mean, logvar; newer optimum),
                  sd21: latent_sample [B,C,h,w] (older optimum)
  vae_decoder     latent_sample [B,C,h,w] -> sample [B,3,H,W]
  transformer     Flux: hidden_states [B,N,64], encoder_hidden_states [B,S,D], pooled_projections
                  [B,P], timestep [B], img_ids [N,3], txt_ids [S,3], guidance [B] -> out_hidden_states [B,N,64]

  cod (CoD-style conditional DiffC, pixel space): cond_encoder sample [1,3,H,W] -> z [1,4,H/16,W/16];
                  cond_decoder z_hat [1,4,h,w] -> condition [1,4,H,W]; unet sample [B,3,H,W], timestep [B],
                  cond [B,4,H,W] -> out_sample; entropy.json: one 16-bit table per z channel
                  (docs/learned-entropy.md §2.4), quantised from discretised Laplace densities

Usage: python3 scripts/make-test-models.py [--out models/test] [--only FAMILY]   (needs: pip install onnx numpy)
       python3 scripts/make-test-models.py --fp16-overflow test/fixtures/fp16-overflow-vae-decoder.onnx
"""
import argparse
import hashlib
import json
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
F32, F16, I32, I64 = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT32, TensorProto.INT64
SEQ = 77
DOWN = 8


class G:
    """A small graph builder: named initializers, nodes, inputs and outputs."""

    def __init__(self, name, seed):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.n = 0

    def tmp(self, prefix="t"):
        self.n += 1
        return f"{prefix}_{self.n}"

    def weight(self, shape, scale=None):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        s = scale if scale is not None else 1.0 / np.sqrt(max(1, fan_in))
        return self.const((self.rng.standard_normal(shape) * s).astype(np.float32))

    def const(self, arr):
        name = self.tmp("w")
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def op(self, kind, ins, out=None, **attrs):
        out = out or self.tmp(kind.lower())
        self.nodes.append(helper.make_node(kind, ins, [out], **attrs))
        return out

    def input(self, name, dtype, shape):
        self.inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def output(self, name, dtype, shape):
        self.outputs.append(helper.make_tensor_value_info(name, dtype, shape))

    def save(self, path):
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="diffc-make-test-models")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        onnx.save(model, path)

    # helpers
    def f32(self, x, dtype):
        return x if dtype == F32 else self.op("Cast", [x], to=F32)

    def out_cast(self, x, name, dtype):
        if dtype == F32:
            self.op("Identity", [x], out=name)
        else:
            self.op("Cast", [x], out=name, to=dtype)

    def reshape(self, x, shape):
        return self.op("Reshape", [x, self.const(np.array(shape, dtype=np.int64))])

    def mean_seq(self, x):  # [B,S,H] -> [B,H]
        return self.op("ReduceMean", [x], axes=[1], keepdims=0)


def clip_text_encoder(path, seed, hidden, layers=0, projection=None, int_dtype=I32, seq=SEQ):
    """CLIP text model stand-in. projection=P makes it CLIPTextModelWithProjection (text_embeds)."""
    g = G("text_encoder", seed)
    ids = g.input("input_ids", int_dtype, ["batch_size", seq])
    x = g.op("Mul", [g.op("Cast", [ids], to=F32), g.const(np.float32(1 / 49408))])
    x = g.op("Unsqueeze", [x, g.const(np.array([2], dtype=np.int64))])  # [B,S,1]
    h = g.op("Add", [g.op("MatMul", [x, g.weight([1, hidden], 4.0)]), g.weight([seq, hidden], 0.5)])
    states = [h]
    for _ in range(layers):
        h = g.op("Tanh", [g.op("Add", [g.op("MatMul", [h, g.weight([hidden, hidden])]), h])])
        states.append(h)
    last = g.op("Tanh", [h])
    g.op("Identity", [last], out="last_hidden_state")
    pooled = g.mean_seq(last)
    if projection:
        g.op("MatMul", [pooled, g.weight([hidden, projection])], out="text_embeds")
        g.output("text_embeds", F32, ["batch_size", projection])
        g.output("last_hidden_state", F32, ["batch_size", seq, hidden])
    else:
        g.output("last_hidden_state", F32, ["batch_size", seq, hidden])
        g.op("Identity", [pooled], out="pooler_output")
        g.output("pooler_output", F32, ["batch_size", hidden])
    if layers:
        for i, s in enumerate(states):
            g.op("Identity", [s], out=f"hidden_states.{i}")
            g.output(f"hidden_states.{i}", F32, ["batch_size", seq, hidden])
    g.save(path)


def t5_encoder(path, seed, hidden, seq):
    g = G("t5_encoder", seed)
    ids = g.input("input_ids", I64, ["batch_size", "sequence_length"])
    x = g.op("Mul", [g.op("Cast", [ids], to=F32), g.const(np.float32(1 / 32128))])
    x = g.op("Unsqueeze", [x, g.const(np.array([2], dtype=np.int64))])
    h = g.op("Tanh", [g.op("MatMul", [x, g.weight([1, hidden], 4.0)])])
    g.op("Identity", [h], out="last_hidden_state")
    g.output("last_hidden_state", F32, ["batch_size", "sequence_length", hidden])
    g.save(path)


def unet(path, seed, channels, hidden, timestep, fdt=F32, sdxl=None):
    """timestep: (dtype, rank). sdxl: (pooled, time_ids) adds text_embeds and time_ids inputs."""
    g = G("unet", seed)
    sample = g.f32(g.input("sample", fdt, ["batch_size", channels, "height", "width"]), fdt)
    t_dtype, t_rank = timestep
    t = g.input("timestep", t_dtype, [] if t_rank == 0 else ["steps"])
    t = g.op("Mul", [g.op("Cast", [t], to=F32), g.const(np.float32(1 / 1000))])
    ehs = g.f32(g.input("encoder_hidden_states", fdt, ["batch_size", "sequence_length", hidden]), fdt)
    y = g.op("Conv", [sample, g.weight([channels, channels, 3, 3]), g.weight([channels], 0.1)], pads=[1, 1, 1, 1])
    y = g.op("Add", [y, g.op("Mul", [g.reshape(t, [-1, 1, 1, 1]), g.weight([1, channels, 1, 1])])])
    cond = g.op("MatMul", [g.mean_seq(ehs), g.weight([hidden, channels])])
    if sdxl:
        pooled, n_ids = sdxl
        te = g.f32(g.input("text_embeds", fdt, ["batch_size", pooled]), fdt)
        ti = g.f32(g.input("time_ids", fdt, ["batch_size", n_ids]), fdt)
        cond = g.op("Add", [cond, g.op("MatMul", [te, g.weight([pooled, channels])])])
        cond = g.op("Add", [cond, g.op("MatMul", [g.op("Mul", [ti, g.const(np.float32(1 / 1024))]), g.weight([n_ids, channels])])])
    y = g.op("Add", [y, g.reshape(cond, [-1, channels, 1, 1])])
    y = g.op("Add", [g.op("Mul", [g.op("Tanh", [y]), g.const(np.float32(0.5))]), g.op("Mul", [sample, g.const(np.float32(0.5))])])
    g.out_cast(y, "out_sample", fdt)
    g.output("out_sample", fdt, ["batch_size", channels, "height", "width"])
    g.save(path)


def vae_encoder(path, seed, channels, output="latent_parameters"):
    g = G("vae_encoder", seed)
    x = g.input("sample", F32, ["batch_size", 3, "sample_height", "sample_width"])
    out_ch = 2 * channels if output == "latent_parameters" else channels
    y = g.op("Conv", [x, g.weight([out_ch, 3, DOWN, DOWN], 0.2), g.weight([out_ch], 0.1)], strides=[DOWN, DOWN])
    g.op("Identity", [y], out=output)
    g.output(output, F32, ["batch_size", out_ch, "sample_height / 8", "sample_width / 8"])
    g.save(path)


def vae_decoder(path, seed, channels):
    g = G("vae_decoder", seed)
    z = g.input("latent_sample", F32, ["batch_size", channels, "latent_height", "latent_width"])
    y = g.op("ConvTranspose", [z, g.weight([channels, 3, DOWN, DOWN], 0.2), g.weight([3], 0.1)], strides=[DOWN, DOWN])
    g.op("Tanh", [y], out="sample")
    g.output("sample", F32, ["batch_size", 3, "latent_height * 8", "latent_width * 8"])
    g.save(path)


def fp16_overflow_vae_decoder(path, channels):
    """A float16 vae_decoder whose values overflow float16 ((z + 2) * 3e4 * 3e4 > 65504 is +inf), as the
    SDXL VAE's activations do. (ONNX Runtime's CPU provider computes float16 Mul in float32 between
    inserted casts, so the overflow shows where the result is stored as float16: the output.)"""
    g = G("vae_decoder", 0)
    z = g.input("latent_sample", F16, ["batch_size", channels, "latent_height", "latent_width"])
    big = g.const(np.float16(3e4))
    y = g.op("Mul", [g.op("Mul", [g.op("Add", [z, g.const(np.float16(2))]), big]), big])
    g.op("Resize", [y, "", g.const(np.array([1, 3 / channels, DOWN, DOWN], dtype=np.float32))], out="sample", mode="nearest")
    g.output("sample", F16, ["batch_size", 3, "latent_height * 8", "latent_width * 8"])
    g.save(path)


def flux_transformer(path, seed, joint, pooled, packed=64):
    g = G("transformer", seed)
    hs = g.input("hidden_states", F32, ["batch_size", "packed_height_width", packed])
    ehs = g.input("encoder_hidden_states", F32, ["batch_size", "sequence_length", joint])
    pp = g.input("pooled_projections", F32, ["batch_size", pooled])
    t = g.input("timestep", F32, ["step"])
    img_ids = g.input("img_ids", F32, ["packed_height_width", 3])
    g.input("txt_ids", F32, ["sequence_length", 3])
    gd = g.input("guidance", F32, ["batch_size"])
    y = g.op("MatMul", [hs, g.weight([packed, packed])])
    y = g.op("Add", [y, g.op("MatMul", [g.op("Mul", [img_ids, g.const(np.float32(0.25))]), g.weight([3, packed])])])
    cond = g.op("Add", [g.op("MatMul", [g.mean_seq(ehs), g.weight([joint, packed])]), g.op("MatMul", [pp, g.weight([pooled, packed])])])
    cond = g.op("Add", [cond, g.op("Mul", [g.reshape(t, [-1, 1]), g.weight([1, packed])])])
    cond = g.op("Add", [cond, g.op("Mul", [g.reshape(g.op("Mul", [gd, g.const(np.float32(0.1))]), [-1, 1]), g.weight([1, packed])])])
    y = g.op("Tanh", [g.op("Add", [y, g.reshape(cond, [-1, 1, packed])])])
    g.op("Identity", [y], out="out_hidden_states")
    g.output("out_hidden_states", F32, ["batch_size", "packed_height_width", packed])
    g.save(path)


def tiny_clip_tokenizer(dir_):
    """A byte-level BPE vocabulary in CLIP's format (vocab.json + merges.txt) with a few merges."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    chars = [chr(c) for c in cs]
    vocab = chars + [c + "</w>" for c in chars]
    merges = [("p", "h"), ("o", "t"), ("o", "</w>"), ("ph", "ot"), ("phot", "o</w>"), ("a", "</w>"), ("t", "e"), ("c", "a"), ("ca", "t</w>")]
    vocab += ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    os.makedirs(dir_, exist_ok=True)
    with open(os.path.join(dir_, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({tok: i for i, tok in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(dir_, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def write_manifest(dir_, manifest, roles):
    files = []
    for role, rel in roles:
        p = os.path.join(dir_, rel)
        files.append({"role": role, "path": rel, "sha256": sha256(p), "bytes": os.path.getsize(p)})
    manifest = {"schema": 1, **manifest, "files": files}
    with open(os.path.join(dir_, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


SD_SCHEDULE = {"kind": "ddpm", "config": {"kind": "scaled_linear", "steps": 1000, "betaStart": 0.00085, "betaEnd": 0.012, "cosineOffset": 0.008}}
TEST_DEFAULTS = {"maxChunkBits": 8, "schedule": "even:4", "reconMethod": "mse", "reconSteps": 1}


def make_sd(out, family, seed, prediction, hidden, timestep, vae_output, tokenizer):
    d = os.path.join(out, family)
    clip_text_encoder(os.path.join(d, "text_encoder/model.onnx"), seed, hidden)
    unet(os.path.join(d, "unet/model.onnx"), seed + 1, 4, hidden, timestep)
    vae_encoder(os.path.join(d, "vae_encoder/model.onnx"), seed + 2, 4, vae_output)
    vae_decoder(os.path.join(d, "vae_decoder/model.onnx"), seed + 3, 4)
    roles = [("text_encoder", "text_encoder/model.onnx"), ("unet", "unet/model.onnx"),
             ("vae_encoder", "vae_encoder/model.onnx"), ("vae_decoder", "vae_decoder/model.onnx")]
    if tokenizer:
        tiny_clip_tokenizer(os.path.join(d, "tokenizer"))
        roles += [("tokenizer", "tokenizer/vocab.json"), ("tokenizer", "tokenizer/merges.txt")]
    write_manifest(d, {
        "id": f"test-{family}", "family": family, "prediction": prediction, "schedule": SD_SCHEDULE,
        "latent": {"channels": 4, "downsample": DOWN, "scale": 0.18215, "shift": 0},
        "defaults": TEST_DEFAULTS, "text": {"maxLength": SEQ, "hiddenSize": hidden},
    }, roles)


COD_Z, COD_FEAT, COD_DOWN = 4, 4, 16


def quantize_table(p, p_escape):
    """docs/learned-entropy.md §2.1: 1 + floor(p * M) each, the remainder to the largest."""
    total = 1 << 16
    m = total - (len(p) + 1)
    f = [1 + int(np.floor(q * m)) for q in list(p) + [p_escape]]
    top = max(range(len(f)), key=lambda i: (f[i], -i))
    f[top] += total - sum(f)
    assert f[top] >= 1 and sum(f) == total
    return f


def make_cod(out, seed):
    d = os.path.join(out, "cod")
    g = G("cond_encoder", seed)
    x = g.input("sample", F32, [1, 3, "height", "width"])
    z = g.op("Conv", [x, g.weight([COD_Z, 3, COD_DOWN, COD_DOWN], 0.08), g.weight([COD_Z], 0.3)], strides=[COD_DOWN, COD_DOWN])
    g.op("Identity", [z], out="z")
    g.output("z", F32, [1, COD_Z, "height / 16", "width / 16"])
    g.save(os.path.join(d, "cond_encoder/model.onnx"))
    g = G("cond_decoder", seed + 1)
    zh = g.input("z_hat", F32, [1, COD_Z, "z_height", "z_width"])
    y = g.op("ConvTranspose", [zh, g.weight([COD_Z, COD_FEAT, COD_DOWN, COD_DOWN], 0.3), g.weight([COD_FEAT], 0.1)], strides=[COD_DOWN, COD_DOWN])
    g.op("Tanh", [y], out="condition")
    g.output("condition", F32, [1, COD_FEAT, "z_height * 16", "z_width * 16"])
    g.save(os.path.join(d, "cond_decoder/model.onnx"))
    g = G("unet", seed + 2)
    sample = g.input("sample", F32, ["batch_size", 3, "height", "width"])
    t = g.op("Mul", [g.input("timestep", F32, ["steps"]), g.const(np.float32(1 / 1000))])
    cond = g.input("cond", F32, ["batch_size", COD_FEAT, "height", "width"])
    y = g.op("Conv", [g.op("Concat", [sample, cond], axis=1), g.weight([3, 3 + COD_FEAT, 3, 3]), g.weight([3], 0.1)], pads=[1, 1, 1, 1])
    y = g.op("Add", [y, g.op("Mul", [g.reshape(t, [-1, 1, 1, 1]), g.weight([1, 3, 1, 1])])])
    y = g.op("Add", [g.op("Mul", [g.op("Tanh", [y]), g.const(np.float32(0.5))]), g.op("Mul", [sample, g.const(np.float32(0.5))])])
    g.op("Identity", [y], out="out_sample")
    g.output("out_sample", F32, ["batch_size", 3, "height", "width"])
    g.save(os.path.join(d, "unet/model.onnx"))
    # Per-channel discretised Laplace densities on -8..8 (what an exporter computes from its
    # learned density), the rest of the mass to the escape.
    channels = []
    for b in [0.8, 1.5, 3.0, 6.0][:COD_Z]:
        v = np.arange(-8, 9)
        cdf = lambda x: np.where(x < 0, 0.5 * np.exp(x / b), 1 - 0.5 * np.exp(-x / b))
        p = cdf(v + 0.5) - cdf(v - 0.5)
        channels.append({"offset": -8, "freqs": quantize_table(p, 1 - float(p.sum()))})
    with open(os.path.join(d, "entropy.json"), "w") as f:
        json.dump({"channels": channels}, f)
        f.write("\n")
    write_manifest(d, {
        "id": "test-cod", "family": "cod", "prediction": "eps", "schedule": SD_SCHEDULE,
        "latent": {"channels": 3, "downsample": 1, "scale": 1, "shift": 0},
        "condition": {"downsample": COD_DOWN, "channels": COD_Z, "featureChannels": COD_FEAT},
        "defaults": TEST_DEFAULTS,
    }, [("cond_encoder", "cond_encoder/model.onnx"), ("cond_decoder", "cond_decoder/model.onnx"),
        ("unet", "unet/model.onnx"), ("entropy", "entropy.json")])


def make_sdxl(out, seed):
    d = os.path.join(out, "sdxl")
    h1, h2, pooled = 16, 24, 24
    clip_text_encoder(os.path.join(d, "text_encoder/model.onnx"), seed, h1, layers=2)
    clip_text_encoder(os.path.join(d, "text_encoder_2/model.onnx"), seed + 1, h2, layers=2, projection=pooled)
    unet(os.path.join(d, "unet/model.onnx"), seed + 2, 4, h1 + h2, (F16, 0), fdt=F16, sdxl=(pooled, 6))
    unet(os.path.join(d, "refiner_unet/model.onnx"), seed + 3, 4, h2, (I64, 1), sdxl=(pooled, 5))
    vae_encoder(os.path.join(d, "vae_encoder/model.onnx"), seed + 4, 4)
    vae_decoder(os.path.join(d, "vae_decoder/model.onnx"), seed + 5, 4)
    write_manifest(d, {
        "id": "test-sdxl", "family": "sdxl", "prediction": "eps", "schedule": SD_SCHEDULE,
        "latent": {"channels": 4, "downsample": DOWN, "scale": 0.13025, "shift": 0},
        "defaults": TEST_DEFAULTS, "text": {"maxLength": SEQ, "hiddenSize": h1 + h2, "pooled": pooled},
        "refiner": {"fromFraction": 0.8},
    }, [("text_encoder", "text_encoder/model.onnx"), ("text_encoder_2", "text_encoder_2/model.onnx"),
        ("unet", "unet/model.onnx"), ("refiner_unet", "refiner_unet/model.onnx"),
        ("vae_encoder", "vae_encoder/model.onnx"), ("vae_decoder", "vae_decoder/model.onnx")])


def make_flux(out, seed):
    d = os.path.join(out, "flux-dev")
    joint, pooled, t5_len, ch = 32, 24, 16, 16
    clip_text_encoder(os.path.join(d, "text_encoder/model.onnx"), seed, pooled)
    t5_encoder(os.path.join(d, "text_encoder_2/model.onnx"), seed + 1, joint, t5_len)
    flux_transformer(os.path.join(d, "transformer/model.onnx"), seed + 2, joint, pooled, packed=4 * ch)
    vae_encoder(os.path.join(d, "vae_encoder/model.onnx"), seed + 3, ch)
    vae_decoder(os.path.join(d, "vae_decoder/model.onnx"), seed + 4, ch)
    write_manifest(d, {
        "id": "test-flux-dev", "family": "flux-dev", "prediction": "flow",
        "schedule": {"kind": "flow", "shift": {"baseShift": 0.5, "maxShift": 1.15, "baseSeqLen": 256, "maxSeqLen": 4096}},
        "latent": {"channels": ch, "downsample": DOWN, "scale": 0.3611, "shift": 0.1159},
        "defaults": TEST_DEFAULTS, "text": {"maxLength": t5_len, "hiddenSize": joint, "pooled": pooled},
    }, [("text_encoder", "text_encoder/model.onnx"), ("text_encoder_2", "text_encoder_2/model.onnx"),
        ("transformer", "transformer/model.onnx"), ("vae_encoder", "vae_encoder/model.onnx"),
        ("vae_decoder", "vae_decoder/model.onnx")])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "models", "test"))
    ap.add_argument("--fp16-overflow", metavar="PATH", help="write only the float16-overflow vae_decoder graph (test/fixtures/fp16-overflow-vae-decoder.onnx)")
    ap.add_argument("--only", choices=["sd15", "sd21", "sdxl", "flux-dev", "cod"], help="write one family's bundle only")
    a = ap.parse_args()
    if a.fp16_overflow:
        fp16_overflow_vae_decoder(a.fp16_overflow, 4)
        return
    makers = {
        "sd15": lambda: make_sd(a.out, "sd15", 100, "eps", 32, (F32, 1), "latent_parameters", tokenizer=True),
        "sd21": lambda: make_sd(a.out, "sd21", 200, "v", 24, (F32, 0), "latent_sample", tokenizer=False),
        "sdxl": lambda: make_sdxl(a.out, 300),
        "flux-dev": lambda: make_flux(a.out, 400),
        "cod": lambda: make_cod(a.out, 500),
    }
    for fam, make in makers.items():
        if a.only and fam != a.only:
            continue
        shutil.rmtree(os.path.join(a.out, fam), ignore_errors=True)
        make()
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(a.out) for f in fs)
    print(f"wrote test bundles under {os.path.normpath(a.out)} ({total} bytes)")


if __name__ == "__main__":
    main()
