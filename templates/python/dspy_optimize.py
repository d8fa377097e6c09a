#!/usr/bin/env python3
"""ckbuild's DSPy driver: compile a DSPy program with a teleprompter and score it.

usage: optimize.py CONFIG_JSON

Every value comes from the JSON config ckbuild wrote next to this script; nothing in this file
is generated. Credentials are read from the environment only (LiteLLM's usual variables, e.g.
OPENAI_API_KEY, or CK_LM_API_KEY for a local server) and are never written anywhere.

The config names:
  program      path of the Python file that defines the program
  module       attribute of that file: a dspy.Module instance, or a class/factory returning one
  lm           {"kind": "litellm", "model": "<provider>/<model>"}
               or {"kind": "local", "model_path": "<dir>", "served_name": "<name>",
               "base_model_dir": "<dir>" (when model_path is an adapter)}
  teleprompter {"name": "BootstrapFewShot", "params": {...}}: params go to the constructor or
               to compile(), whichever accepts them
  metric       exact_match | exact_match_ci | includes, or the name of a function in the
               program file taking (example, prediction, trace=None)
  trainset, valset  {"path", "format", "split"}: records with `input` and `output` fields
  seed         seeds Python's random and the teleprompter when it takes a seed
  output       {"program": "<path>.json", "metrics": "<path>.json"}

A local model (lm kind "local") must be served by an OpenAI-compatible server (vLLM, SGLang,
llama.cpp server...): set CK_LM_API_BASE to its URL (e.g. http://localhost:8000/v1) and, when
it serves the model under another name than its path, CK_LM_MODEL.
"""

import importlib.util
import inspect
import json
import os
import random
import sys
from pathlib import Path


def fail(message, code=2):
    print("ckbuild: " + message, file=sys.stderr)
    sys.exit(code)


def load_records(spec):
    """The examples of one split as a list of {"input": ..., "output": ...} dicts."""
    path, fmt, split = spec["path"], spec.get("format", "json"), spec.get("split")
    if fmt == "parquet":
        try:
            import pandas
        except ImportError:
            fail("reading parquet needs pandas: pip install pandas pyarrow")
        rows = pandas.read_parquet(path).to_dict(orient="records")
    elif fmt == "jsonl":
        with open(path, encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
    else:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        # A file of splits ({"train": [...], "validation": [...]}) or one list of records.
        if isinstance(data, dict):
            if split not in data:
                fail("split %r not found in %s (it has: %s)" % (split, path, ", ".join(map(str, data))))
            rows = data[split]
        else:
            rows = data
    return [to_example_fields(row, fmt, path) for row in rows]


def to_example_fields(row, fmt, path):
    if fmt == "json-chat" or (isinstance(row, dict) and "messages" in row):
        messages = row.get("messages", [])
        user = [m["content"] for m in messages if m.get("role") == "user"]
        assistant = [m["content"] for m in messages if m.get("role") == "assistant"]
        if not user or not assistant:
            fail("a chat record in %s lacks a user or an assistant message" % path)
        return {"input": user[-1], "output": assistant[-1]}
    if fmt == "alpaca":
        text = row.get("instruction", "")
        if row.get("input"):
            text = text + "\n" + row["input"] if text else row["input"]
        return {"input": text, "output": row.get("output", "")}
    if not isinstance(row, dict) or "input" not in row or "output" not in row:
        fail("records in %s need `input` and `output` fields" % path)
    return {"input": row["input"], "output": row["output"]}


def load_program(path, attribute):
    spec = importlib.util.spec_from_file_location("ckbuild_program", path)
    if spec is None or spec.loader is None:
        fail("cannot import the program file %s" % path)
    module = importlib.util.module_from_spec(spec)
    # The program may import files next to it.
    sys.path.insert(0, str(Path(path).parent))
    spec.loader.exec_module(module)
    if not hasattr(module, attribute):
        fail("%s defines no `%s` (the `module` of this optimisation)" % (path, attribute))
    return module, getattr(module, attribute)


def instantiate(dspy, target, attribute):
    if isinstance(target, dspy.Module):
        return target
    if callable(target):
        program = target()
        if isinstance(program, dspy.Module):
            return program
    fail("`%s` is neither a dspy.Module nor a class or function returning one" % attribute)


def exact_match(example, prediction, trace=None, *args, **kwargs):
    return str(example.output).strip() == str(getattr(prediction, "output", "")).strip()


def exact_match_ci(example, prediction, trace=None, *args, **kwargs):
    return str(example.output).strip().lower() == str(getattr(prediction, "output", "")).strip().lower()


def includes(example, prediction, trace=None, *args, **kwargs):
    return str(example.output).strip() in str(getattr(prediction, "output", ""))


BUILTIN_METRICS = {"exact_match": exact_match, "exact_match_ci": exact_match_ci, "includes": includes}


def configure_lm(dspy, spec):
    if spec["kind"] == "litellm":
        # LiteLLM finds the provider's key in the environment (OPENAI_API_KEY, ...).
        return dspy.LM(spec["model"])
    api_base = os.environ.get("CK_LM_API_BASE")
    if not api_base:
        path = spec["model_path"]
        if os.path.isfile(os.path.join(path, "adapter_config.json")) and spec.get("base_model_dir"):
            serve = "`vllm serve %s --enable-lora --lora-modules ckbuild=%s` (then CK_LM_MODEL=ckbuild)" % (spec["base_model_dir"], path)
        else:
            serve = "`vllm serve %s`" % path
        fail(
            "the language model is a local checkpoint (%s); DSPy talks to models over an API. "
            "Serve it with an OpenAI-compatible server, e.g. %s, then set "
            "CK_LM_API_BASE=http://<host>:<port>/v1 (and CK_LM_MODEL if it is served under another name)"
            % (path, serve)
        )
    name = os.environ.get("CK_LM_MODEL") or spec["served_name"]
    return dspy.LM("openai/" + name, api_base=api_base, api_key=os.environ.get("CK_LM_API_KEY", "local"))


def accepted(function):
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return set()
    return {name for name in parameters if name != "self"}


def score_of(result):
    # DSPy 3 returns an EvaluationResult with .score; older releases return the number.
    return float(getattr(result, "score", result))


def write_json(path, data):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(temporary, path)


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        config = json.load(handle)
    try:
        import dspy
    except ImportError:
        fail("DSPy is not installed in this environment: pip install dspy", 127)

    random.seed(config["seed"])
    dspy.configure(lm=configure_lm(dspy, config["lm"]))

    program_module, target = load_program(config["program"], config["module"])
    student = instantiate(dspy, target, config["module"])

    metric_name = config["metric"]
    metric = BUILTIN_METRICS.get(metric_name) or getattr(program_module, metric_name, None)
    if metric is None:
        fail("metric `%s` is neither built in (%s) nor a function in %s" % (metric_name, ", ".join(BUILTIN_METRICS), config["program"]))

    def examples(spec):
        return [dspy.Example(**fields).with_inputs("input") for fields in load_records(spec)]

    trainset = examples(config["trainset"])
    valset = examples(config["valset"]) if config.get("valset") else None

    name = config["teleprompter"]["name"]
    teleprompter_class = getattr(dspy.teleprompt, name, None) or getattr(dspy, name, None)
    if teleprompter_class is None:
        fail("DSPy has no teleprompter named %s" % name)
    init_names, compile_names = accepted(teleprompter_class.__init__), accepted(teleprompter_class.compile)
    init_args, compile_args = {}, {}
    for key, value in config["teleprompter"].get("params", {}).items():
        if key in init_names:
            init_args[key] = value
        elif key in compile_names:
            compile_args[key] = value
        else:
            fail("%s takes no parameter `%s` (constructor: %s; compile: %s)" % (name, key, ", ".join(sorted(init_names)), ", ".join(sorted(compile_names))))
    if "metric" in init_names:
        init_args["metric"] = metric
    if "seed" in init_names and "seed" not in init_args:
        init_args["seed"] = config["seed"]
    if valset is not None and "valset" in compile_names:
        compile_args["valset"] = valset

    optimizer = teleprompter_class(**init_args)
    compiled = optimizer.compile(student, trainset=trainset, **compile_args)

    evaluated_on = "valset" if valset is not None else "trainset"
    evaluate = dspy.Evaluate(devset=valset if valset is not None else trainset, metric=metric, display_progress=False)
    score = score_of(evaluate(compiled))

    output = config["output"]
    Path(output["program"]).parent.mkdir(parents=True, exist_ok=True)
    compiled.save(output["program"])
    write_json(
        output["metrics"],
        {
            "evaluated_on": evaluated_on,
            "metric": metric_name,
            "score": score,
            "teleprompter": name,
            "trainset_size": len(trainset),
            "valset_size": len(valset) if valset is not None else 0,
        },
    )
    print("ckbuild: %s score on the %s: %.2f" % (metric_name, evaluated_on, score))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
