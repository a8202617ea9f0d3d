#!/usr/bin/env python3
"""
Writes the tokenizer test vectors of test/tokenizers.test.ts (test/vectors/tokenizers/), from the
real libraries:

  CLIP   transformers' CLIPTokenizer (what diffusers pipelines load) with and without ftfy
         installed (without it, transformers falls back to its BasicTokenizer: the environment of
         the reference implementation JeremyIV/diffc, whose environment.yml has no ftfy), for both
         pad conventions (SD 1.x: <|endoftext|>; SD 2.x and SDXL's second tokenizer: '!'), plus
         CLIPTokenizerFast and open_clip's SimpleTokenizer for information. The vocabulary is the
         real one (open_clip's bpe_simple_vocab_16e6.txt.gz, which is OpenAI CLIP's); the
         committed clip/vocab.json + merges.txt are only the part of it these prompts use (real
         ids, merges in their real order), which gives the same BPE on these prompts (checked
         here). expected ids are computed with the full vocabulary.
  T5     a small SentencePiece Unigram model trained here (T5's special ids: pad 0, eos 1, unk 2,
         nmt_nfkc normalisation like T5's spiece.model, byte pieces, 100 extra ids), converted to
         T5TokenizerFast's tokenizer.json by transformers (t5/tokenizer.json.gz; the corpus and
         spiece.model are regenerated, not committed); ids from T5TokenizerFast and from the
         tokenizers library on variants of that JSON (legacy pre-tokenizer, byte fallback,
         'first' prepend scheme), plus the slow T5Tokenizer (sentencepiece) for information.
  ftfy   ftfy's mojibake detector (badness.BADNESS_RE) as a JavaScript pattern, with sample
         strings and ftfy's verdicts, so the TS port can be checked against it.

Run with the parity venv (scripts/parity/requirements.txt) plus ftfy, wcwidth and
open_clip_torch (scripts/parity/requirements-tokenizers.txt, no deps; regenerate.sh installs them):
  .cache/parity-venv/bin/pip install --no-deps -r scripts/parity/requirements-tokenizers.txt
  .cache/parity-venv/bin/python scripts/parity/gen-tokenizer-vectors.py
generate.py reuses its CLIP helpers, and its t5/tokenizer.json.gz is the parity Flux bundle's T5
tokenizer: regenerating it changes that bundle at the next regenerate.sh.
"""
import argparse
import gzip
import importlib.util
import json
import os
import random
import sys
import tempfile
import unicodedata

import ftfy
import ftfy.badness
import regex
import sentencepiece as spm
import tokenizers
import transformers
from transformers import CLIPTokenizer, CLIPTokenizerFast, T5Tokenizer, T5TokenizerFast
from transformers.convert_slow_tokenizer import T5Converter
from transformers.models.clip.tokenization_clip import BasicTokenizer, bytes_to_unicode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# ---------------------------------------------------------------------------------------------
# Prompts. `refuse` marks prompts diffc refuses although transformers gives the same ids with and
# without ftfy (conservative refusals, with the reason); prompts whose ids differ between the two
# must be refused anyway (the test checks both).
# ---------------------------------------------------------------------------------------------

LONG_CLIP = "a photo of a cat sitting on a red chair, " * 8
CLIP_PROMPTS = [
    {"name": "plain", "prompt": "a photo of a cat"},
    {"name": "case", "prompt": "A Photo Of A CAT"},
    {"name": "empty", "prompt": ""},
    {"name": "spaces only", "prompt": "   "},
    {"name": "multiple spaces, tab, newline", "prompt": "a  photo   of\ta\ncat\r\nin  the\n\nsnow"},
    {"name": "leading and trailing spaces", "prompt": "   a dog on a beach   "},
    {"name": "punctuation", "prompt": "hello, world. (yes) [no] {maybe}; a:b - c_d 'quoted' \"double\" ~ @ # $ % ^ * + = / \\ | ? ` ..."},
    {"name": "ampersand and angle brackets", "prompt": "AT&T and R&D, a < b > c, x&y"},
    {"name": "contractions", "prompt": "don't can't we're I've I'm we'll he'd it's DON'T"},
    {"name": "bang: one", "prompt": "wow!"},
    {"name": "bang: alone", "prompt": "!"},
    {"name": "bang: runs", "prompt": "hi!!! really!!!!!!!! ok"},
    {"name": "bang: with other punctuation", "prompt": "what?! no!? (yes!) !hello a!b!c"},
    {"name": "bang: spaced", "prompt": "a ! b !! c"},
    {"name": "numbers", "prompt": "1234567890 3.14 1,000,000 2nd 42nd 100% 1e-5 0x1F"},
    {"name": "accents", "prompt": "café naïve résumé Zürich façade jalapeño crème brûlée São Paulo Ærøskøbing"},
    {"name": "decomposed accents (NFC)", "prompt": "cafe\u0301 nai\u0308ve"},
    {"name": "greek and cyrillic, final sigma", "prompt": "ΟΔΟΣ οδός Σοφία Москва"},
    {"name": "dotted capital I", "prompt": "İstanbul"},
    {"name": "long s", "prompt": "it'ſ ſoft"},
    {"name": "arabic, hebrew, devanagari", "prompt": "مرحبا שלום नमस्ते"},
    {"name": "CJK spaced", "prompt": "猫 and 犬 , 東 京"},
    {"name": "kana and hangul", "prompt": "ねこ カタカナ 고양이"},
    {"name": "emoji", "prompt": "a photo 😀 🐱 ❤️ 👍🏽 🇫🇷 ok"},
    {"name": "symbols", "prompt": "100°C ±5 ×2 ½ © ® ™ € £ ¥ • … — –"},
    {"name": "no-break and ideographic spaces", "prompt": "a\u00a0b\u3000c\u2028d\u2003e"},
    {"name": "special tokens in text", "prompt": "<|startoftext|>a cat<|endoftext|> dog"},
    {"name": "special tokens, other case", "prompt": "<|StartOfText|>a cat <|ENDOFTEXT|>"},
    {"name": "entity-like text with a tag (ftfy does not unescape)", "prompt": "a <b>bold</b> &amp; brave cat"},
    {"name": "long (truncation)", "prompt": LONG_CLIP},
    {"name": "long with bangs (truncation)", "prompt": "wow! " * 40},
    {"name": "long, truncated in a word", "prompt": "x " * 74 + "photograph"},
    # ftfy (when installed) changes these, transformers' BasicTokenizer fallback does not (or the
    # other way round): their ids depend on the environment, diffc refuses them.
    {"name": "html entity", "prompt": "fish &amp; chips"},
    {"name": "html entities, numeric", "prompt": "&#33; &#x21; &lt;b&gt;"},
    {"name": "html entity, double escaped", "prompt": "&amp;amp;"},
    {"name": "curly quotes", "prompt": "don’t “quote” me"},
    {"name": "mojibake", "prompt": "cafÃ© crÃ¨me"},
    {"name": "mojibake, cp1252 quotes", "prompt": "â€œquotedâ€\x9d"},
    {"name": "ligature", "prompt": "ﬁsh and ﬂour"},
    {"name": "fullwidth", "prompt": "ＬＯＵＤ　ＮＯＩＳＥＳ"},
    {"name": "zero-width joiner emoji", "prompt": "a 👩\u200d💻 coder"},
    {"name": "soft hyphen", "prompt": "co\u00adoperate"},
    {"name": "form feed", "prompt": "a\x0cb"},
    {"name": "CJK next to letters", "prompt": "東京タワー"},
    {"name": "CJK run", "prompt": "日本語"},
    # Same ids with and without ftfy, refused anyway (diffc's rules are conservative):
    {"name": "unknown entity-like text", "prompt": "&foo; bar", "refuse": "looks like an HTML entity"},
    {"name": "NUL", "prompt": "a\x00b", "refuse": "control character"},
    {"name": "byte order mark", "prompt": "\ufeffa cat", "refuse": "format character"},
]

LONG_T5 = " ".join(["a photo of a red cat sitting on a wooden chair in the garden"] * 50)
T5_PROMPTS = [
    {"name": "plain", "prompt": "a photo of a cat"},
    {"name": "case", "prompt": "A Photo Of A CAT"},
    {"name": "empty", "prompt": ""},
    {"name": "spaces only", "prompt": "   "},
    {"name": "multiple spaces, tab, newline", "prompt": "a  photo   of\ta\ncat\r\nin  the\n\nsnow"},
    {"name": "leading and trailing spaces", "prompt": "   a dog on a beach   "},
    {"name": "punctuation", "prompt": "hello, world. (yes) [no] {maybe}; a:b - c_d 'quoted' \"double\" ~ @ # $ % ^ * + = / \\ | ? ` ..."},
    {"name": "bang", "prompt": "wow! hi!!! !hello a!b"},
    {"name": "numbers", "prompt": "1234567890 3.14 1,000,000 2nd 42nd 100% 1e-5"},
    {"name": "accents", "prompt": "café naïve résumé Zürich façade jalapeño crème brûlée São Paulo"},
    {"name": "decomposed accents", "prompt": "cafe\u0301 nai\u0308ve"},
    {"name": "grapheme with two marks", "prompt": "a\u0308\u0301 o\u0301\u0323x"},
    {"name": "fullwidth and compatibility forms", "prompt": "ＡＢＣ１２３ ﬁsh ½ ² ™ ① ㎏ Ⅻ"},
    {"name": "no-break and other spaces", "prompt": "a\u00a0b\u3000c\u2003d\u200be"},
    {"name": "CJK and kana (unknown pieces)", "prompt": "猫と犬 東京タワー"},
    {"name": "emoji (unknown, fused)", "prompt": "a 😀🐱 b 👩\u200d💻"},
    {"name": "eos and pad in text", "prompt": "a cat</s> <pad>dog <unk>"},
    {"name": "extra ids in text", "prompt": "<extra_id_0> cat <extra_id_99><extra_id_1>x"},
    {"name": "extra ids with spaces around", "prompt": "a  <extra_id_0>  b <extra_id_1> c x<extra_id_1>y"},
    {"name": "a word that is an added token in one variant", "prompt": "a dog, hotdog, dogs dog"},
    {"name": "byte piece spelled out", "prompt": "<0x41> <0xE2>"},
    {"name": "metaspace character in text", "prompt": "a ▁ b▁c ▁▁x"},
    {"name": "controls", "prompt": "a\x00b\x07c\x1bd\x7fe"},
    {"name": "html entity (not unescaped)", "prompt": "fish &amp; chips &#33;"},
    {"name": "curly quotes", "prompt": "don’t “quote” me"},
    {"name": "dotted capital I, final sigma", "prompt": "İstanbul ΟΔΟΣ"},
    {"name": "long (truncation)", "prompt": LONG_T5},
    {"name": "short max length (truncation)", "prompt": "a photo of a cat sitting on a chair", "maxLength": 8},
    {"name": "short max length, exact fit", "prompt": "a cat", "maxLength": 3},
]

# ---------------------------------------------------------------------------------------------
# CLIP
# ---------------------------------------------------------------------------------------------


def find_clip_bpe(path):
    if path:
        return path
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("open_clip_torch is not installed (pip install --no-deps open_clip_torch), or pass --clip-bpe")
    return os.path.join(list(spec.submodule_search_locations)[0], "bpe_simple_vocab_16e6.txt.gz")


def load_open_clip_tokenizer_module():
    spec = importlib.util.find_spec("open_clip")
    path = os.path.join(list(spec.submodule_search_locations)[0], "tokenizer.py")
    s = importlib.util.spec_from_file_location("open_clip_tokenizer_standalone", path)
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    return mod


def write_full_clip_vocab(bpe_gz, out_dir):
    """vocab.json + merges.txt exactly as openai/CLIP, open_clip and the HF CLIP repos build them."""
    merges = gzip.open(bpe_gz).read().decode("utf-8").split("\n")
    merges = merges[1 : 49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    for m in merges:
        vocab.append("".join(m))
    vocab.extend(["<|startoftext|>", "<|endoftext|>"])
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    return vocab, merges


def no_ftfy(tok):
    """What CLIPTokenizer.__init__ sets up when `import ftfy` fails."""
    tok.fix_text = None
    tok.nlp = BasicTokenizer(strip_accents=False, do_split_on_punc=False)
    tok.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
    return tok


def trimmed(enc):
    n = sum(enc["attention_mask"])
    return enc["input_ids"][:n]


def trace_bpe(word, ranks):
    """CLIPTokenizer.bpe, recording the merges it applies."""
    parts = list(word[:-1]) + [word[-1] + "</w>"]
    used = []
    while len(parts) > 1:
        pairs = {(parts[i], parts[i + 1]) for i in range(len(parts) - 1)}
        best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        used.append(best)
        out, i = [], 0
        while i < len(parts):
            if i < len(parts) - 1 and parts[i] == best[0] and parts[i + 1] == best[1]:
                out.append(best[0] + best[1])
                i += 2
            else:
                out.append(parts[i])
                i += 1
        parts = out
    return parts, used


def gen_clip(args, out):
    bpe_gz = find_clip_bpe(args.clip_bpe)
    tmp = tempfile.mkdtemp(prefix="clip-vocab-")
    vocab, merges = write_full_clip_vocab(bpe_gz, tmp)
    vpath, mpath = os.path.join(tmp, "vocab.json"), os.path.join(tmp, "merges.txt")
    ranks = {m: i for i, m in enumerate(merges)}
    oc = load_open_clip_tokenizer_module().SimpleTokenizer(bpe_gz)

    words = set()

    def recording(tok):
        orig = tok.bpe

        def bpe(token):
            words.add(token)
            return orig(token)

        tok.bpe = bpe
        return tok

    toks = {
        "ftfy/eos": recording(CLIPTokenizer(vpath, mpath)),
        "ftfy/bang": recording(CLIPTokenizer(vpath, mpath, pad_token="!")),
        "basic/eos": recording(no_ftfy(CLIPTokenizer(vpath, mpath))),
        "basic/bang": recording(no_ftfy(CLIPTokenizer(vpath, mpath, pad_token="!"))),
    }
    assert toks["ftfy/eos"].fix_text is not None, "ftfy must be installed"
    fast = {"eos": CLIPTokenizerFast(vpath, mpath), "bang": CLIPTokenizerFast(vpath, mpath, pad_token="!")}

    def call(tok, p):
        return trimmed(tok(p, padding="max_length", max_length=77, truncation=True))

    cases = []
    for case in CLIP_PROMPTS:
        p = case["prompt"]
        ids = {k: call(t, p) for k, t in toks.items()}
        entry = {"name": case["name"], "prompt": p}
        ambiguous = [pad for pad in ("eos", "bang") if ids[f"ftfy/{pad}"] != ids[f"basic/{pad}"]]
        if ambiguous:
            entry["ftfyDiffers"] = True
        if "refuse" in case:
            entry["refuse"] = case["refuse"]
        entry["transformers"] = ids
        entry["fast"] = {pad: call(t, p) for pad, t in fast.items()}
        oc_ids = [oc.sot_token_id] + oc.encode(p) + [oc.eot_token_id]
        if len(oc_ids) > 77:
            oc_ids = oc_ids[:76] + [oc.eot_token_id]
        entry["openClip"] = oc_ids
        cases.append(entry)

    # The part of the vocabulary these prompts use.
    keep_merges, keep_tokens = set(), set(vocab[:512]) | {"<|startoftext|>", "<|endoftext|>"}
    full = toks["ftfy/eos"]
    for w in sorted(words):
        if w in ("<|startoftext|>", "<|endoftext|>"):
            continue
        parts, used = trace_bpe(w, ranks)
        assert " ".join(parts) == CLIPTokenizer.bpe(full, w), w
        keep_merges.update(used)
        keep_tokens.update(parts)
        keep_tokens.update(a + b for a, b in used)
    index = {t: i for i, t in enumerate(vocab)}
    sub_dir = os.path.join(out, "clip")
    os.makedirs(sub_dir, exist_ok=True)
    with open(os.path.join(sub_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: index[t] for t in sorted(keep_tokens, key=lambda t: index[t])}, f, ensure_ascii=False, indent=0)
        f.write("\n")
    with open(os.path.join(sub_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in sorted(keep_merges, key=lambda m: ranks[m])) + "\n")

    # The subset must tokenize these prompts exactly as the full vocabulary.
    sv, sm = os.path.join(sub_dir, "vocab.json"), os.path.join(sub_dir, "merges.txt")
    subs = {
        "ftfy/eos": CLIPTokenizer(sv, sm), "ftfy/bang": CLIPTokenizer(sv, sm, pad_token="!"),
        "basic/eos": no_ftfy(CLIPTokenizer(sv, sm)), "basic/bang": no_ftfy(CLIPTokenizer(sv, sm, pad_token="!")),
    }
    for c in cases:
        for k, t in subs.items():
            assert call(t, c["prompt"]) == c["transformers"][k], (c["name"], k)

    doc = {
        "about": "CLIP ids from transformers' CLIPTokenizer (ftfy installed / BasicTokenizer fallback) for pad "
        "<|endoftext|> (eos) and pad '!' (bang), CLIPTokenizerFast and open_clip, max_length 77, without trailing "
        "padding; written by scripts/parity/gen-tokenizer-vectors.py with the full OpenAI CLIP vocabulary "
        "(clip/ holds the part of it these prompts use).",
        "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__, "ftfy": ftfy.__version__,
                     "python": sys.version.split()[0], "unicodedata": unicodedata.unidata_version},
        "maxLength": 77,
        "pad": {"eos": 49407, "bang": 0},
        "cases": cases,
    }
    with open(os.path.join(out, "clip.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    amb = sum(1 for c in cases if c.get("ftfyDiffers"))
    print(f"clip: {len(cases)} prompts, {amb} differ with/without ftfy; subset vocab {len(keep_tokens)} tokens, {len(keep_merges)} merges")


# ---------------------------------------------------------------------------------------------
# T5
# ---------------------------------------------------------------------------------------------

WORDS = (
    "a an the photo picture painting portrait image of with and in on at by from under over near "
    "cat cats dog dogs bird horse fish tree trees house city street river mountain beach sky cloud "
    "clouds sun moon star stars red green blue yellow black white orange purple golden silver "
    "small large tall old young happy quiet bright dark sunny rainy snowy wooden stone glass metal "
    "sitting standing running flying sleeping walking looking playing chair table window door garden "
    "forest field lake ocean road bridge car train boat night morning evening light shadow color "
    "detailed realistic beautiful cinematic studio lighting high quality sharp focus soft background "
    "hello world yes no maybe quoted double wow really ok what hi"
).split()
ACCENTED = "café naïve résumé Zürich façade jalapeño crème brûlée São Paulo Ærøskøbing über Straße".split()
PUNCT = [",", ".", "!", "?", ";", ":", "-", "(", ")", "'", '"', "%", "&", "/", "#", "@", "*"]


def t5_corpus(path, n_lines=4000, seed=1234):
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n_lines):
            n = rnd.randint(4, 16)
            out = []
            for _ in range(n):
                r = rnd.random()
                if r < 0.80:
                    w = rnd.choice(WORDS)
                elif r < 0.88:
                    w = rnd.choice(ACCENTED)
                elif r < 0.94:
                    w = str(rnd.randint(0, 2000))
                else:
                    w = rnd.choice(["猫", "犬", "東京", "日本"]) if i % 7 == 0 else rnd.choice(WORDS)
                if rnd.random() < 0.2:
                    w = w.capitalize()
                if rnd.random() < 0.12:
                    w += rnd.choice(PUNCT)
                out.append(w)
            f.write(" ".join(out) + "\n")


def t5_variants(base_json):
    """tokenizer.json variants whose ids the tokenizers library computes; the TS test builds the same edits."""
    v = {"modern": base_json}
    legacy = json.loads(base_json)
    pre = legacy["normalizer"]["normalizers"][0]
    legacy["normalizer"] = {"type": "Sequence", "normalizers": [pre, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    legacy["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}]}
    v["legacy"] = json.dumps(legacy, ensure_ascii=False)
    bf = json.loads(base_json)
    bf["model"]["byte_fallback"] = True
    v["byteFallback"] = json.dumps(bf, ensure_ascii=False)
    first = json.loads(base_json)
    first["pre_tokenizer"]["prepend_scheme"] = "first"
    v["first"] = json.dumps(first, ensure_ascii=False)
    never = json.loads(base_json)
    never["pre_tokenizer"]["prepend_scheme"] = "never"
    v["never"] = json.dumps(never, ensure_ascii=False)
    # Added-token options T5's own tokens do not use: lstrip/rstrip, single_word, normalized.
    flags = json.loads(base_json)
    for t in flags["added_tokens"]:
        if t["content"] == "<extra_id_0>":
            t["lstrip"] = t["rstrip"] = True
        if t["content"] == "<extra_id_1>":
            t["single_word"] = True
    flags["added_tokens"].append({"id": len(flags["model"]["vocab"]), "content": "dog", "single_word": True, "lstrip": False,
                                  "rstrip": False, "normalized": True, "special": False})
    v["addedFlags"] = json.dumps(flags, ensure_ascii=False)
    return v


def gen_t5(args, out):
    tdir = os.path.join(out, "t5")
    os.makedirs(tdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="t5-spm-")
    corpus = os.path.join(tmp, "corpus.txt")
    t5_corpus(corpus)
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=os.path.join(tmp, "spiece"), model_type="unigram", vocab_size=args.t5_vocab,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        byte_fallback=True, character_coverage=0.9995, num_threads=1, seed_sentencepiece_size=100000,
        shuffle_input_sentence=False, minloglevel=2,
    )
    spiece = os.path.join(tmp, "spiece.model")
    slow = T5Tokenizer(spiece, extra_ids=100, legacy=True)
    # T5Converter on the slow tokenizer, as transformers converts T5's spiece.model (prefix space,
    # 'always'). T5TokenizerFast(vocab_file=..., from_slow=True) would pass add_prefix_space=None
    # and get prepend_scheme 'never' instead, which the 'never' variant below covers.
    fast = T5TokenizerFast(tokenizer_object=T5Converter(slow).converted(), extra_ids=100)
    fast.save_pretrained(tmp)
    with open(os.path.join(tmp, "tokenizer.json"), encoding="utf-8") as f:
        base_json = f.read()
    assert json.loads(base_json)["pre_tokenizer"]["prepend_scheme"] == "always"
    # The committed fixture: tokenizer.json, gzipped (most of it is the base64 charsmap). The
    # spiece.model is not committed: this script retrains it (deterministically, one thread).
    text = json.dumps(json.loads(base_json), ensure_ascii=False, separators=(",", ":")) + "\n"
    with open(os.path.join(tdir, "tokenizer.json.gz"), "wb") as f:
        f.write(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    plain = os.path.join(tmp, "committed-tokenizer.json")
    with open(plain, "w", encoding="utf-8") as f:
        f.write(text)
    committed = T5TokenizerFast(tokenizer_file=plain, extra_ids=100)
    variants = t5_variants(text)
    libs = {k: tokenizers.Tokenizer.from_str(s) for k, s in variants.items()}

    sp = spm.SentencePieceProcessor(model_file=spiece)
    cases = []
    for case in T5_PROMPTS:
        p, L = case["prompt"], case.get("maxLength", 512)
        entry = {"name": case["name"], "prompt": p, "maxLength": L}
        enc = committed(p, padding="max_length", max_length=L, truncation=True)
        ids = trimmed(enc)
        assert enc["input_ids"] == ids + [0] * (L - len(ids))
        assert ids == trimmed(fast(p, padding="max_length", max_length=L, truncation=True))
        entry["ids"] = ids
        entry["variants"] = {}
        for k, lib in libs.items():
            lib.enable_truncation(max_length=L)
            lib.enable_padding(length=L, pad_id=0, pad_token="<pad>")
            e = lib.encode(p)
            n = sum(e.attention_mask)
            assert e.ids == e.ids[:n] + [0] * (L - n)
            if k == "modern":
                assert e.ids[:n] == ids, case["name"]
            else:
                entry["variants"][k] = e.ids[:n]
        s = trimmed(slow(p, padding="max_length", max_length=L, truncation=True))
        entry["slowT5Tokenizer"] = s
        entry["sentencepiece"] = sp.encode(p)
        cases.append(entry)

    doc = {
        "about": "T5 ids from T5TokenizerFast on t5/tokenizer.json (a small SentencePiece Unigram model trained by "
        "scripts/parity/gen-tokenizer-vectors.py, T5 special ids, nmt_nfkc), padding='max_length', truncation=True, "
        "without trailing padding (pad id 0); variants: the same JSON edited (see t5_variants) and run by the tokenizers "
        "library; slowT5Tokenizer / sentencepiece for information.",
        "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__, "sentencepiece": spm.__version__},
        "cases": cases,
    }
    with open(os.path.join(out, "t5.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    same_slow = sum(1 for c in cases if c["slowT5Tokenizer"] == c["ids"])
    print(f"t5: {len(cases)} prompts; slow T5Tokenizer agrees with the fast one on {same_slow}")


# ---------------------------------------------------------------------------------------------
# ftfy's badness regex, as JavaScript
# ---------------------------------------------------------------------------------------------

PY_SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"


def js_char(c):
    """Printable characters as they are, the others (spaces, controls, marks) as \\u{...}."""
    o = ord(c)
    if 0x20 < o < 0x7F or (o > 0x7F and unicodedata.category(c)[0] in "LNPS"):
        return c
    return "\\u{%x}" % o


def verbose_to_js(src):
    """Python re.VERBOSE pattern -> JavaScript 'u' pattern: drops layout whitespace and comments,
    writes non-ASCII characters as \\u{...}, and spells out \\s, \\w and . with Python's meaning."""
    out, i, in_class = [], 0, False
    while i < len(src):
        c = src[i]
        if in_class:
            if c == "\\":
                out.append(src[i : i + 2])
                i += 2
                continue
            if c == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
                out.append("]")
            elif c == " ":
                out.append(" ")
            else:
                out.append(js_char(c))
            i += 1
            continue
        if c == "\\":
            e = src[i + 1]
            out.append({"s": PY_SPACE, "w": "[\\p{L}\\p{N}_]"}.get(e, "\\" + e))
            i += 2
            continue
        if c in " \t\n\r\f\v":
            i += 1
            continue
        if c == "#":
            while i < len(src) and src[i] != "\n":
                i += 1
            continue
        if c == "[":
            in_class = True
            if src[i + 1] == "^":
                out.append("[^")
                i += 2
            else:
                out.append("[")
                i += 1
            continue
        if c == ".":
            out.append("[^\\n]")
            i += 1
            continue
        out.append(js_char(c))
        i += 1
    return "".join(out)


def gen_ftfy(out):
    pattern = ftfy.badness.BADNESS_RE.pattern
    js = verbose_to_js(pattern)
    rnd = random.Random(7)
    cats = ftfy.badness.MOJIBAKE_CATEGORIES
    pool = []
    for v in cats.values():
        j = 0
        while j < len(v):
            if j + 2 < len(v) and v[j + 1] == "-":
                pool.extend(chr(x) for x in range(ord(v[j]), ord(v[j + 2]) + 1))
                j += 3
            else:
                pool.append(v[j])
                j += 1
    pool += list("aAzZ .,!?Â ÃÎÐØÙ×²³√≈‚Äâóàäê°вЂГВРСΒΓΞΟβā€\n")
    samples = [
        "cafÃ©", "crÃ¨me", "â€œquotedâ€", "voilÃ le travail", "Ã\xa0", "sÃ³", "Ã", "naïve café", "Москва", "ΟΔΟΣ οδός",
        "100°C ±5 ×2 ½", "© ® ™ € £ ¥ • … — –", "Ærøskøbing", "ÂÃ", " Ã€", "a Â ", "\u00e0\u00b2", "√±", "вЂ", "ā€",
        "×²", "œx", "œ", "Œ1", "ØÙ ØÙ", "ÉÇ", "ñ¢", "Ã ", "ГўВЂВ a",
    ]
    for _ in range(1200):
        n = rnd.randint(1, 5)
        samples.append("".join(rnd.choice(pool) for _ in range(n)))
    samples = sorted(set(samples))
    doc = {
        "about": "ftfy.badness.BADNESS_RE as a JavaScript 'u' pattern (by verbose_to_js) and is_bad() on sample strings.",
        "ftfy": ftfy.__version__,
        "pattern": js,
        "samples": [[s, ftfy.badness.is_bad(s)] for s in samples],
    }
    with open(os.path.join(out, "ftfy-badness.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"ftfy: pattern {len(js)} chars, {len(samples)} samples, {sum(1 for s in samples if ftfy.badness.is_bad(s))} bad")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "test", "vectors", "tokenizers"))
    ap.add_argument("--clip-bpe", help="bpe_simple_vocab_16e6.txt.gz (default: open_clip's)")
    ap.add_argument("--t5-vocab", type=int, default=1000)
    ap.add_argument("--only", choices=["clip", "t5", "ftfy"])
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.only in (None, "ftfy"):
        gen_ftfy(args.out)
    if args.only in (None, "clip"):
        gen_clip(args, args.out)
    if args.only in (None, "t5"):
        gen_t5(args, args.out)


if __name__ == "__main__":
    main()
