#!/usr/bin/env python3
"""Write a random-initialised tiny Llama-3-family model in the layout of a real HF model directory.

usage: make_tiny_model.py OUTDIR [--seed N] [--layers 2] [--hidden 64] [--heads 4] [--kv-heads 2]
                                 [--intermediate 128] [--merges 600] [--corpus FILE] [--no-verify]

OUTDIR gets (like meta-llama/Llama-3.2-1B-Instruct, nothing downloaded):
  config.json             LlamaForCausalLM, model_type llama, tie_word_embeddings false, head_dim,
                          rope_theta 500000 without rope_scaling, vocab_size 128257, float32
  model.safetensors       random weights, HF key names (model.layers.N.self_attn.q_proj.weight ...)
  generation_config.json  bos 128000, eos [128001, 128008, 128009]
  tokenizer.json          HF fast tokenizer: byte-level BPE + the Llama-3 split regex, special tokens
                          at 128000..128256 with torchtune's names, BOS added by the post-processor
  tokenizer_config.json   bos <|begin_of_text|>, eos <|eot_id|>, pad <|finetune_right_pad_id|>,
                          the Llama-3-Instruct chat template, added_tokens_decoder
  special_tokens_map.json
  original/tokenizer.model  tiktoken file (``base64(bytes) rank`` per line) for torchtune's
                          llama3_tokenizer: ranks 0..255 are the single bytes, then BPE merges learnt
                          from --corpus, then unreachable filler tokens up to rank 127999

Why the vocabulary is 128,257 although the model is tiny: torchtune's Llama3Tokenizer hardcodes the
Llama-3 special tokens at ids 128000..128255 and <|image|> at 128256. The ordinary (tiktoken) vocabulary
therefore fills ranks 0..127999 exactly as in Llama 3: the learnt merges come first and the rest are
5-byte tokens starting with 0xFF 0xFE that no split of can reach (no piece of 2..4 bytes exists), so
they never occur when encoding text. tokenizer.json is derived from the tiktoken ranks the way
transformers' TikTokenConverter does it (all splits of every token into two known pieces, ordered by
rank; ignore_merges), so both tokenizers give the same ids for ordinary text; the script checks that.

Deterministic: the same arguments (and corpus) give byte-identical files.
The default corpus is data/capitalization/words.txt of this repository (lowercase and Capitalised forms).
Needs torch, safetensors, tokenizers; the verification (default on) also uses tiktoken, transformers
and, when importable, torchtune.
"""

import argparse
import base64
import collections
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# tiktoken caches even local files under a hash of their path; "" turns that off, so a regenerated
# tokenizer.model at the same path is really re-read.
os.environ.setdefault("TIKTOKEN_CACHE_DIR", "")

# Exactly torchtune 0.6.1's CL100K_PATTERN (torchtune/models/llama3/_tokenizer.py) and Llama 3's.
PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

NUM_ORDINARY = 128000  # ranks 0..127999, as in Llama 3

# torchtune 0.6.1 torchtune/models/llama3/_tokenizer.py: SPECIAL_TOKENS + RESERVED_TOKENS.
_TT_SPECIAL = {
    "<|begin_of_text|>": 128000,
    "<|end_of_text|>": 128001,
    "<|reserved_special_token_0|>": 128002,
    "<|reserved_special_token_1|>": 128003,
    "<|finetune_right_pad_id|>": 128004,
    "<|step_id|>": 128005,
    "<|start_header_id|>": 128006,
    "<|end_header_id|>": 128007,
    "<|eom_id|>": 128008,
    "<|eot_id|>": 128009,
    "<|python_tag|>": 128010,
    "<|image|>": 128256,
    "<|video|>": 128012,
}
_TT_RESERVED = {f"<|reserved_special_token_{2 + i}|>": 128013 + i for i in range(256 - len(_TT_SPECIAL))}
# torchtune leaves 128011 unnamed; the HF side needs a token there so that the ids stay contiguous.
_GAP = {"<|reserved_special_token_245|>": 128011}
SPECIAL_TOKENS = dict(sorted({**_TT_SPECIAL, **_TT_RESERVED, **_GAP}.items(), key=lambda kv: kv[1]))
VOCAB_SIZE = max(SPECIAL_TOKENS.values()) + 1  # 128257

BOS, EOT, EOS_TEXT, PAD = "<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>", "<|finetune_right_pad_id|>"

# The chat template of meta-llama/Meta-Llama-3-8B-Instruct (tokenizer_config.json), verbatim.
CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

EXTRA_CORPUS = [
    "Capitalize the given word:", "Capitalize the word", "Answer with the word only.",
    "You are a helpful assistant.", "user", "assistant", "system", "the", "word", "given",
    "Input:", "Output:", "\n", "\n\n", " ", "0123456789", "Hello, world!",
]


def bytes_to_unicode():
    """GPT-2's byte -> printable unicode map (as in transformers and tokenizers' ByteLevel)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def pretokenize(text):
    import regex  # a tokenizers/transformers dependency; supports \p{L}

    return regex.findall(PATTERN, text)


def learn_merges(pieces, num_merges):
    """Plain byte-level BPE over pre-token frequencies; ties broken by the smallest pair (deterministic)."""
    words = collections.Counter(tuple(bytes([b]) for b in p.encode("utf-8")) for p in pieces)
    words = [[list(w), c] for w, c in sorted(words.items())]
    pair_counts = collections.Counter()
    where = collections.defaultdict(set)
    for i, (w, c) in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_counts[(a, b)] += c
            where[(a, b)].add(i)
    new_tokens = []
    seen = set(bytes([b]) for b in range(256))
    for _ in range(num_merges):
        if not pair_counts:
            break
        best = min((p for p, n in pair_counts.items() if n > 0), key=lambda p: (-pair_counts[p], p), default=None)
        if best is None:
            break
        merged = best[0] + best[1]
        if merged not in seen:
            seen.add(merged)
            new_tokens.append(merged)
        for i in sorted(where.pop(best, ())):
            w, c = words[i]
            for a, b in zip(w, w[1:]):
                pair_counts[(a, b)] -= c
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == best[0] and w[j + 1] == best[1]:
                    out.append(merged)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i][0] = out
            for a, b in zip(out, out[1:]):
                pair_counts[(a, b)] += c
                where[(a, b)].add(i)
        pair_counts = collections.Counter({p: n for p, n in pair_counts.items() if n > 0})
    return new_tokens


def build_ranks(corpus_words, num_merges):
    pieces = []
    for line in EXTRA_CORPUS:
        pieces.extend(pretokenize(line))
    for w in corpus_words:
        for form in (w, w.capitalize(), " " + w, " " + w.capitalize()):
            pieces.extend(pretokenize(form))
    ranks = {bytes([b]): b for b in range(256)}
    for tok in learn_merges(pieces, num_merges):
        ranks[tok] = len(ranks)
    i = 0
    while len(ranks) < NUM_ORDINARY:
        ranks[b"\xff\xfe" + i.to_bytes(3, "big")] = len(ranks)
        i += 1
    return ranks


def hf_vocab_and_merges(ranks):
    """transformers.convert_slow_tokenizer.TikTokenConverter.extract_vocab_merges_from_model, restated."""
    enc = bytes_to_unicode()

    def s(b):
        return "".join(enc[x] for x in b)

    vocab, merges = {}, []
    for token, rank in ranks.items():
        vocab[s(token)] = rank
        if len(token) == 1:
            continue
        local = []
        for k in range(1, len(token)):
            left, right = token[:k], token[k:]
            if left in ranks and right in ranks:
                local.append((left, right, rank))
        local.sort(key=lambda x: (ranks[x[0]], ranks[x[1]]))
        merges.extend(local)
    merges.sort(key=lambda x: x[2])
    return vocab, [(s(a), s(b)) for a, b, _ in merges]


def write_tokenizers(out, ranks):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors

    orig = out / "original"
    orig.mkdir(parents=True, exist_ok=True)
    with open(orig / "tokenizer.model", "w", encoding="ascii", newline="\n") as f:
        for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            f.write(f"{base64.b64encode(token).decode('ascii')} {rank}\n")

    vocab, merges = hf_vocab_and_merges(ranks)
    tok = Tokenizer(models.BPE(vocab, merges, fuse_unk=False, ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    added = tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in SPECIAL_TOKENS])
    assert added == len(SPECIAL_TOKENS)
    for t, i in SPECIAL_TOKENS.items():
        assert tok.token_to_id(t) == i, (t, i, tok.token_to_id(t))
    # As in Llama 3's tokenizer.json: BOS is added by the post-processor (single and pair).
    tok.post_processor = processors.Sequence(
        [
            processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
            processors.TemplateProcessing(
                single=f"{BOS}:0 $A:0",
                pair=f"{BOS}:0 $A:0 {BOS}:1 $B:1",
                special_tokens=[(BOS, SPECIAL_TOKENS[BOS])],
            ),
        ]
    )
    tok.save(str(out / "tokenizer.json"), pretty=False)

    added_decoder = {
        str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
        for t, i in SPECIAL_TOKENS.items()
    }
    tokenizer_config = {
        "added_tokens_decoder": added_decoder,
        "bos_token": BOS,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": EOT,
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 131072,
        "pad_token": PAD,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    write_json(out / "tokenizer_config.json", tokenizer_config)
    write_json(out / "special_tokens_map.json", {
        "bos_token": {"content": BOS, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
        "eos_token": {"content": EOT, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
        "pad_token": {"content": PAD, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
    })


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_model(out, args):
    import torch
    from safetensors.torch import save_file

    head_dim = args.hidden // args.heads
    config = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": SPECIAL_TOKENS[BOS],
        "eos_token_id": [SPECIAL_TOKENS[EOS_TEXT], SPECIAL_TOKENS["<|eom_id|>"], SPECIAL_TOKENS[EOT]],
        "head_dim": head_dim,
        "hidden_act": "silu",
        "hidden_size": args.hidden,
        "initializer_range": 0.02,
        "intermediate_size": args.intermediate,
        "max_position_embeddings": args.max_seq_len,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": args.heads,
        "num_hidden_layers": args.layers,
        "num_key_value_heads": args.kv_heads,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": 500000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        # As in meta-llama/Llama-3.2-1B-Instruct. Without a transformers_version, transformers 5.x takes a
        # local tokenizer for a possibly broken Mistral one and warns ("incorrect regex pattern").
        "transformers_version": "4.45.0.dev0",
        "use_cache": True,
        "vocab_size": VOCAB_SIZE,
    }
    write_json(out / "config.json", config)
    write_json(out / "generation_config.json", {
        "bos_token_id": config["bos_token_id"],
        "do_sample": True,
        "eos_token_id": config["eos_token_id"],
        "temperature": 0.6,
        "top_p": 0.9,
    })

    g = torch.Generator().manual_seed(args.seed)

    def normal(*shape):
        return (torch.randn(*shape, generator=g, dtype=torch.float32) * 0.02).contiguous()

    h, kv = args.hidden, args.kv_heads * head_dim
    sd = {"model.embed_tokens.weight": normal(VOCAB_SIZE, h)}
    for i in range(args.layers):
        p = f"model.layers.{i}."
        sd[p + "self_attn.q_proj.weight"] = normal(args.heads * head_dim, h)
        sd[p + "self_attn.k_proj.weight"] = normal(kv, h)
        sd[p + "self_attn.v_proj.weight"] = normal(kv, h)
        sd[p + "self_attn.o_proj.weight"] = normal(h, args.heads * head_dim)
        sd[p + "mlp.gate_proj.weight"] = normal(args.intermediate, h)
        sd[p + "mlp.up_proj.weight"] = normal(args.intermediate, h)
        sd[p + "mlp.down_proj.weight"] = normal(h, args.intermediate)
        sd[p + "input_layernorm.weight"] = torch.ones(h)
        sd[p + "post_attention_layernorm.weight"] = torch.ones(h)
    sd["model.norm.weight"] = torch.ones(h)
    sd["lm_head.weight"] = normal(VOCAB_SIZE, h)
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    os.chmod(out / "model.safetensors", 0o644)  # safetensors creates it 0600
    return config


SAMPLE_TEXTS = [
    "apple", "Apple", "banana split", "Capitalize the given word: zebra\n",
    "Hello, world! It's 2026; don't panic.\n\n  indented\ttab", "naïve café — ünïcödé ✓ 日本語",
    "   leading spaces and trailing   ", "numbers 1234567 and 3.14159", "MiXeD CaSe WoRdS",
    "user: apple\nassistant: Apple\n", "<not special> <|also not|>", "x" * 50,
]


def verify(out, args):
    """Both tokenizers agree on ordinary text; special ids line up; HF loads the model with no key mismatch."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ranks = load_tiktoken_bpe(str(out / "original" / "tokenizer.model"))
    tt = tiktoken.Encoding(name="tiny", pat_str=PATTERN, mergeable_ranks=ranks,
                           special_tokens={k: v for k, v in SPECIAL_TOKENS.items()})
    hf = AutoTokenizer.from_pretrained(str(out), local_files_only=True)
    words = [w for w in args._corpus_words[::97]][:400]
    texts = SAMPLE_TEXTS + words + [w.capitalize() for w in words] + [" ".join(words[:60])]
    for text in texts:
        a = tt.encode(text, disallowed_special=())
        b = hf(text, add_special_tokens=False)["input_ids"]
        if a != b:
            raise SystemExit(f"tokenizer mismatch on {text!r}:\n tiktoken {a}\n hf       {b}")
        if hf.decode(b) != text:
            raise SystemExit(f"hf decode does not round-trip {text!r}: {hf.decode(b)!r}")
    for t, i in SPECIAL_TOKENS.items():
        if hf.convert_tokens_to_ids(t) != i:
            raise SystemExit(f"hf special token {t} is {hf.convert_tokens_to_ids(t)}, expected {i}")
    assert hf.bos_token_id == SPECIAL_TOKENS[BOS] and hf.eos_token_id == SPECIAL_TOKENS[EOT]
    assert hf.pad_token_id == SPECIAL_TOKENS[PAD]
    assert len(hf) == VOCAB_SIZE, len(hf)
    checked = len(texts)
    try:
        from torchtune.models.llama3 import llama3_tokenizer
    except Exception as e:  # torchtune is optional here
        print(f"  (torchtune not importable, skipped its tokenizer: {e!r})")
    else:
        ttok = llama3_tokenizer(str(out / "original" / "tokenizer.model"))
        for text in texts:
            a = ttok.encode(text, add_bos=False, add_eos=False)
            b = hf(text, add_special_tokens=False)["input_ids"]
            if a != b:
                raise SystemExit(f"torchtune/hf tokenizer mismatch on {text!r}:\n torchtune {a}\n hf        {b}")
        for t, i in ttok.special_tokens.items():
            if hf.convert_tokens_to_ids(t) != i:
                raise SystemExit(f"torchtune special {t}={i}, hf says {hf.convert_tokens_to_ids(t)}")
        print(f"  torchtune llama3_tokenizer: same ids on {len(texts)} texts; its {len(ttok.special_tokens)} special tokens match")
    model, info = AutoModelForCausalLM.from_pretrained(str(out), local_files_only=True, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        raise SystemExit(f"transformers reports key problems loading {out}: {bad}")
    n = sum(p.numel() for p in model.parameters())
    print(f"  tiktoken == hf on {checked} texts; specials 128000..{VOCAB_SIZE - 1} aligned; "
          f"LlamaForCausalLM loads cleanly ({n:,} params)")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=128)
    ap.add_argument("--max-seq-len", type=int, default=2048)
    ap.add_argument("--merges", type=int, default=600, help="BPE merges to learn from the corpus")
    ap.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "data" / "capitalization" / "words.txt"),
                    help="word list, one per line (default: data/capitalization/words.txt)")
    ap.add_argument("--no-verify", action="store_true")
    args = ap.parse_args(argv[1:])
    if args.hidden % args.heads or args.heads % args.kv_heads:
        ap.error("--hidden must be divisible by --heads, and --heads by --kv-heads")

    t0 = time.monotonic()
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    words = [w for w in Path(args.corpus).read_text(encoding="utf-8").split() if w]
    # Every 7th word keeps BPE training to about a second and still learns common English pieces.
    args._corpus_words = sorted(set(words))
    ranks = build_ranks(args._corpus_words[::7], args.merges)
    write_tokenizers(out, ranks)
    t1 = time.monotonic()
    config = write_model(out, args)
    t2 = time.monotonic()
    merges = sum(1 for t in ranks if len(t) > 1 and not t.startswith(b"\xff\xfe"))
    print(f"wrote {out}: {args.layers} layers, hidden {args.hidden}, {args.heads} heads / {args.kv_heads} kv, "
          f"vocab {config['vocab_size']}, {merges} merges, seed {args.seed} "
          f"(tokenizers {t1 - t0:.1f}s, weights {t2 - t1:.1f}s)")
    if not args.no_verify:
        verify(out, args)
        print(f"  verified in {time.monotonic() - t2:.1f}s")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "original/tokenizer.model"):
        h = hashlib.sha256((out / name).read_bytes()).hexdigest()[:16]
        print(f"  {name:26s} {(out / name).stat().st_size:>10,} bytes  sha256 {h}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
