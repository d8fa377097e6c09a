#!/usr/bin/env python3
"""ckbuild's ensemble merge: combine LoRA adapters into one with PEFT's add_weighted_adapter.

usage: merge.py CONFIG_JSON

Every value comes from the JSON config ckbuild wrote next to this script:
  base_model_dir  local directory of the base model the adapters were trained on
  members         [{"name": "member1", "path": "<adapter dir>"}, ...]
  weights         one weight per member
  method          linear | ties | dare_linear | cat (PEFT combination_type)
  density         fraction of weights kept, for ties and dare_linear
  output_dir      where the merged adapter goes (PEFT layout: adapter_config.json +
                  adapter_model.safetensors, plus the base model's tokenizer)

The merged adapter's adapter_config.json names the local base model directory, so
AutoModelForCausalLM.from_pretrained(output_dir) loads base + adapter offline.
"""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

MERGED = "ensemble"


def fail(message, code=2):
    print("ckbuild: " + message, file=sys.stderr)
    sys.exit(code)


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        config = json.load(handle)
    try:
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        fail("merging adapters needs torch, transformers and peft (%s): pip install torch transformers peft" % error, 127)

    base_dir = config["base_model_dir"]
    if not os.path.isfile(os.path.join(base_dir, "config.json")):
        fail("base model not found at %s; put it in the models directory" % base_dir)
    members = config["members"]
    for member in members:
        if not os.path.isfile(os.path.join(member["path"], "adapter_config.json")):
            fail("%s has no LoRA adapter at %s (a full fine-tune cannot be merged as an adapter)" % (member["name"], member["path"]))

    base = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.bfloat16)
    model = PeftModel.from_pretrained(base, members[0]["path"], adapter_name=members[0]["name"])
    for member in members[1:]:
        model.load_adapter(member["path"], adapter_name=member["name"])

    options = {}
    if config["method"] in ("ties", "dare_linear"):
        options["density"] = config["density"]
    model.add_weighted_adapter(
        adapters=[member["name"] for member in members],
        weights=config["weights"],
        adapter_name=MERGED,
        combination_type=config["method"],
        **options,
    )

    output_dir = Path(config["output_dir"])
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    # PEFT saves an adapter that is not called "default" into a subdirectory named after it;
    # save beside the destination and move that directory into place in one rename.
    with tempfile.TemporaryDirectory(dir=output_dir.parent, prefix=".merge-") as scratch:
        model.save_pretrained(scratch, selected_adapters=[MERGED], safe_serialization=True)
        saved = Path(scratch) / MERGED
        adapter_config = saved / "adapter_config.json"
        with open(adapter_config, encoding="utf-8") as handle:
            adapter = json.load(handle)
        adapter["base_model_name_or_path"] = os.path.abspath(base_dir)
        with open(adapter_config, "w", encoding="utf-8") as handle:
            json.dump(adapter, handle, indent=2, sort_keys=True)
            handle.write("\n")
        # With the tokenizer beside the adapter, the directory is a complete model for inspect.
        AutoTokenizer.from_pretrained(base_dir).save_pretrained(str(saved))
        with open(saved / "ckbuild_merge.json", "w", encoding="utf-8") as handle:
            record = {key: config[key] for key in ("method", "weights", "density") if key in config}
            record["members"] = [member["name"] for member in members]
            json.dump(record, handle, indent=2, sort_keys=True)
            handle.write("\n")
        if output_dir.exists():
            shutil.rmtree(output_dir)
        os.replace(saved, output_dir)
    print("ckbuild: merged %d adapters (%s) into %s" % (len(members), config["method"], output_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
