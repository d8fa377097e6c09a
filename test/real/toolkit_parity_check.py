#!/usr/bin/env python3
"""Check that `tokenization: cruijff_kit` trains the token ids the earlier toolkit's builders produced.

usage: toolkit_parity_check.py FINETUNE_YAML [FINETUNE_YAML ...]

Each FINETUNE_YAML is a config/finetune.yaml ckbuild generated. Side A: its ``dataset`` block instantiated
the way torchtune's recipe does it (``config.instantiate(cfg.dataset, tokenizer)``, with the recipe's own
torchtune tokenizer from ``cfg.tokenizer``), every example of it. Side B: toolkit_reference.toolkit_item
(the earlier toolkit's builders, from their documented behaviour) over the same rows of the same file,
with the same prompt, system prompt, dataset type and model tokenizer. Exit 0 when every example's tokens
and labels are identical on both sides, 1 otherwise (the first difference is printed). Offline.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TIKTOKEN_CACHE_DIR", "")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from toolkit_reference import toolkit_item  # noqa: E402


def check(config_path: Path) -> int:
    from omegaconf import OmegaConf
    from torchtune import config as tt_config
    from transformers import AutoTokenizer

    sys.path.insert(0, str(config_path.parent))  # the run's own copy of ckbuild_chat_dataset.py
    cfg = OmegaConf.load(config_path)
    tokenizer = tt_config.instantiate(cfg.tokenizer)
    dataset = tt_config.instantiate(cfg.dataset, tokenizer)
    block = cfg.dataset
    with open(block.data_files, encoding="utf-8") as handle:
        data = json.load(handle)
    rows = data[block.get("field") or "train"] if isinstance(data, dict) else data
    if block.get("max_samples") is not None:
        rows = rows[: int(block.max_samples)]
    hf = AutoTokenizer.from_pretrained(block.model_dir, local_files_only=True)
    assert len(dataset) == len(rows), f"{len(dataset)} examples, the toolkit would have {len(rows)}"
    for index, row in enumerate(rows):
        ours = dataset[index]
        theirs = toolkit_item(hf, row, prompt=block.prompt, system_prompt=block.get("system_prompt") or "", dataset_type=block.dataset_type, train_on_input=bool(block.train_on_input))
        if list(ours["tokens"]) != theirs["tokens"] or list(ours["labels"]) != theirs["labels"]:
            print(f"MISMATCH (tokenization {block.get('tokenization') or 'inspect'}) {config_path} example {index}:\n  ckbuild tokens {list(ours['tokens'])}\n  toolkit tokens {theirs['tokens']}\n  ckbuild labels {list(ours['labels'])}\n  toolkit labels {theirs['labels']}")
            return 1
    first = toolkit_item(hf, rows[0], prompt=block.prompt, system_prompt=block.get("system_prompt") or "", dataset_type=block.dataset_type)
    trained = [t for t, l in zip(first["tokens"], first["labels"]) if l != -100]
    print(f"TOOLKIT PARITY OK {block.dataset_type}: {len(rows)} examples identical (example 0: {len(first['tokens'])} tokens, {len(trained)} trained: {hf.decode(trained)!r})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(max(check(Path(path)) for path in sys.argv[1:]))
