#!/usr/bin/env python3
"""Check that training and evaluation see the same prompt token ids.

usage: parity_check.py MODEL_DIR [--data FILE] [--field train] [--index 0]
                       [--prompt "Capitalize the given word: {input}"] [--system-prompt TEXT]
                       [--dataset-type chat_completion|text_completion]

Side A, training: templates/python/ckbuild_chat_dataset.py (the torchtune dataset component), item
INDEX of the data file: its tokens, and where its labels stop being -100 (the prompt length).

Side B, evaluation: inspect-ai's own code, not a re-implementation. The messages come from running the
capitalization task's steps: ``Sample(input=prompt.format(input=...))`` becomes the user message and the
``system_message(system_prompt)`` solver (when the system prompt is not empty) inserts the system message.
They go to ``inspect_ai.model._providers.hf.HuggingFaceAPI(model_path=MODEL_DIR).generate(...)`` with
``model.generate`` wrapped to record the ``input_ids`` it receives, so the ids are those of the real
generate path (hf_chat -> apply_chat_template(tokenize=False) -> tokenizer(..., padding=True) in
_generate_batch).

Exit 0 if the ids are identical and the labels cover exactly output + eos; 1 on a mismatch (both id lists
are printed either way); 2 for bad arguments. Runs offline (HF_HUB_OFFLINE=1).
"""

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TIKTOKEN_CACHE_DIR", "")

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "templates" / "python"))

import ckbuild_chat_dataset as ccd  # noqa: E402


def default_data(tmp: Path) -> Path:
    path = tmp / "parity-data.json"
    path.write_text(json.dumps({"train": [{"input": "apple", "output": "Apple"}, {"input": "zebra", "output": "Zebra"}]}))
    return path


def inspect_messages(user_text: str, system_prompt: str):
    """The messages the capitalization task hands to the model: system_message solver + sample input."""
    from inspect_ai.model import ChatMessageUser
    from inspect_ai.solver import TaskState, system_message

    state = TaskState(model="hf/parity", sample_id=0, epoch=1, input=user_text,
                      messages=[ChatMessageUser(content=user_text)])
    if system_prompt:
        state = asyncio.run(system_message(system_prompt)(state, None))
    return state.messages


def inspect_prompt_ids(model_dir: str, messages, use_chat_template: bool):
    """Run inspect's HuggingFaceAPI.generate for one token and record the input_ids it generates from."""
    from inspect_ai.model import GenerateConfig
    from inspect_ai.model._providers.hf import HuggingFaceAPI

    model_args = {"model_path": model_dir, "device": "cpu"}
    if not use_chat_template:
        model_args["use_chat_template"] = False
    api = HuggingFaceAPI(model_name="parity", config=GenerateConfig(), **model_args)
    seen = []
    original = api.model.generate

    def recording_generate(*args, **kwargs):
        seen.append((kwargs["input_ids"].tolist(), kwargs["attention_mask"].tolist()))
        return original(*args, **kwargs)

    api.model.generate = recording_generate
    text = api.hf_chat(messages, [])
    output = asyncio.run(api.generate(messages, [], "none", GenerateConfig(max_tokens=1, temperature=1e-7)))
    if len(seen) != 1 or len(seen[0][0]) != 1:
        raise SystemExit(f"expected one generate call with a batch of one, saw {len(seen)}")
    ids, mask = seen[0][0][0], seen[0][1][0]
    ids = [i for i, m in zip(ids, mask) if m]  # left padding (none for a batch of one)
    return text, ids, output


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--data")
    ap.add_argument("--field", default="train")
    ap.add_argument("--index", type=int, default=0)
    ap.add_argument("--prompt", default="Capitalize the given word: {input}")
    ap.add_argument("--system-prompt", default="You are a helpful assistant.")
    ap.add_argument("--dataset-type", default="chat_completion", choices=ccd.DATASET_TYPES)
    args = ap.parse_args(argv[1:])
    if not (Path(args.model_dir) / "tokenizer_config.json").is_file():
        print(f"parity_check: {args.model_dir} has no tokenizer_config.json", file=sys.stderr)
        return 2

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or str(default_data(Path(tmp)))
        ds = ccd.chat_template_dataset(
            None,
            model_dir=args.model_dir,
            data_files=data,
            field=args.field,
            prompt=args.prompt,
            system_prompt=args.system_prompt,
            dataset_type=args.dataset_type,
            text_prompt_style="inspect_plain" if args.dataset_type == "text_completion" else "raw",
        )
        item = ds.encode(args.index)
        record = ds._records[args.index]
    train_prompt = item["tokens"][: item["prompt_len"]]
    train_target = item["tokens"][item["prompt_len"]:]
    labels_ok = (
        item["labels"][: item["prompt_len"]] == [ccd.CROSS_ENTROPY_IGNORE_IDX] * item["prompt_len"]
        and item["labels"][item["prompt_len"]:] == train_target
        and train_target[-1] == ds.tokenizer.eos_token_id
    )

    system = args.system_prompt if args.dataset_type == "chat_completion" else args.system_prompt
    messages = inspect_messages(args.prompt.format(input=record["input"]), system)
    eval_text, eval_ids, output = inspect_prompt_ids(args.model_dir, messages,
                                                     use_chat_template=args.dataset_type == "chat_completion")
    train_text = ds.prompt_text(args.index)

    print(f"model_dir      {args.model_dir}")
    print(f"example        {record}")
    print(f"messages       {[(m.role, m.content) for m in messages]}")
    print(f"train text     {train_text!r}")
    print(f"inspect text   {eval_text!r}")
    print(f"train  ids ({len(train_prompt)}) {train_prompt}")
    print(f"inspect ids ({len(eval_ids)}) {eval_ids}")
    print(f"target ids     {train_target} = {ds.tokenizer.convert_ids_to_tokens(train_target)}")
    print(f"inspect output {output.completion!r} (1 token, untrained model)")
    ok = True
    if train_text != eval_text:
        print("MISMATCH: prompt strings differ")
        ok = False
    if train_prompt != eval_ids:
        first = next((i for i, (a, b) in enumerate(zip(train_prompt, eval_ids)) if a != b), min(len(train_prompt), len(eval_ids)))
        print(f"MISMATCH: prompt token ids differ from position {first}")
        ok = False
    if not labels_ok:
        print(f"MISMATCH: labels are not -100 over the prompt and output+eos after it: {item['labels']}")
        ok = False
    print("PARITY OK" if ok else "PARITY FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
