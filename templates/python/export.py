#!/usr/bin/env python3
"""ckbuild's export: merge a LoRA adapter into its base model and/or convert to GGUF.

usage: export.py CONFIG_JSON

Every value comes from the JSON config ckbuild wrote next to this script:
  base_model_dir  local directory of the base model
  source_dir      the checkpoint to export: a PEFT adapter directory, or a full model
  merge           true: fold the adapter into the base weights (PEFT merge_and_unload)
  format          safetensors | gguf | none
  merged_dir      where the merged model goes (safetensors + tokenizer)
  adapter_dir     where an unmerged adapter is copied (format safetensors, merge false)
  gguf_path       the GGUF file to write (format gguf)
  gguf_outtype    llama.cpp --outtype (auto picks the highest-fidelity 16-bit type)

GGUF conversion runs llama.cpp's convert_hf_to_gguf.py (a merged model) or
convert_lora_to_gguf.py (an adapter) from the llama.cpp checkout named by LLAMA_CPP_DIR.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


def fail(message, code=2):
    print("ckbuild: " + message, file=sys.stderr)
    sys.exit(code)


def is_adapter(path):
    return os.path.isfile(os.path.join(path, "adapter_config.json"))


def llama_cpp_script(name):
    root = os.environ.get("LLAMA_CPP_DIR")
    if not root:
        fail("GGUF export needs llama.cpp: clone https://github.com/ggml-org/llama.cpp, "
             "pip install -r <checkout>/requirements.txt, and set LLAMA_CPP_DIR to the checkout")
    script = os.path.join(root, name)
    if not os.path.isfile(script):
        fail("%s not found in LLAMA_CPP_DIR=%s" % (name, root))
    return script


def merge(config):
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        fail("merging needs torch and transformers (%s): pip install torch transformers peft" % error, 127)
    source, base_dir, merged_dir = config["source_dir"], config["base_model_dir"], config["merged_dir"]
    staging = merged_dir + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    if is_adapter(source):
        try:
            from peft import PeftModel
        except ImportError:
            fail("merging an adapter needs peft: pip install peft", 127)
        base = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.bfloat16)
        model = PeftModel.from_pretrained(base, source).merge_and_unload()
    else:
        # A full fine-tune is already a complete model: nothing to fold in, only to save.
        print("ckbuild: %s is a full model, not an adapter; saving it as is" % source)
        model = AutoModelForCausalLM.from_pretrained(source, torch_dtype=torch.bfloat16)
    model.save_pretrained(staging, safe_serialization=True)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(staging)
    shutil.rmtree(merged_dir, ignore_errors=True)
    os.replace(staging, merged_dir)
    print("ckbuild: merged model saved to %s" % merged_dir)


def to_gguf(config, merged):
    gguf_path = config["gguf_path"]
    Path(gguf_path).parent.mkdir(parents=True, exist_ok=True)
    partial = gguf_path + ".partial"
    if merged or not is_adapter(config["source_dir"]):
        source = config["merged_dir"] if merged else config["source_dir"]
        command = [sys.executable, llama_cpp_script("convert_hf_to_gguf.py"), source]
    else:
        command = [sys.executable, llama_cpp_script("convert_lora_to_gguf.py"), config["source_dir"], "--base", config["base_model_dir"]]
    command += ["--outfile", partial, "--outtype", config["gguf_outtype"]]
    print("ckbuild: " + " ".join(command))
    status = subprocess.call(command)
    if status != 0:
        fail("GGUF conversion failed with status %d" % status, status)
    os.replace(partial, gguf_path)


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        config = json.load(handle)
    source = config["source_dir"]
    if not os.path.isdir(source):
        fail("the checkpoint to export is missing: %s" % source)
    if not os.path.isfile(os.path.join(config["base_model_dir"], "config.json")) and (config["merge"] or config["format"] == "gguf"):
        fail("base model not found at %s; put it in the models directory" % config["base_model_dir"])

    if config["format"] == "gguf":
        llama_cpp_script("convert_hf_to_gguf.py")  # fail before an hour of merging, not after
    if config["merge"]:
        merge(config)
    elif config["format"] == "safetensors":
        adapter_dir = config["adapter_dir"]
        shutil.rmtree(adapter_dir, ignore_errors=True)
        shutil.copytree(source, adapter_dir)
        print("ckbuild: adapter copied to %s" % adapter_dir)
    if config["format"] == "gguf":
        to_gguf(config, config["merge"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
