"""Capitalization eval task for inspect-ai.

Evaluates whether a model maps a lowercase word to its capitalized form
("apple" -> "Apple"). The data file is produced by
``data/capitalization/generate.mjs`` and has the layout
``{"train": [...], "validation": [...], "test": [...]}`` with records
``{"input": "word", "output": "Word"}``; ``split`` selects which list is used.
The file is read locally (no Hugging Face hub access).

Typical use::

    inspect eval tasks/capitalization/inspect_task.py@capitalization \\
        --model hf/... -T data_path=words_5L_80P_1000.json -T config_path=eval.yaml

Config file (``config_path``, YAML or JSON, optional). Keys read:

* ``prompt`` -- template for the user turn; must contain ``{input}``.
* ``system_prompt`` -- system message (only used when ``use_chat_template``).
* ``scorers`` -- list of ``{name, params}`` (a bare string means ``{name}``).
  Supported names: ``match`` (defaults ``location="exact", ignore_case=False``)
  and ``includes`` (default ``ignore_case=False``); ``params`` override the
  defaults. Without ``scorers`` both scorers are used with their defaults.

Precedence: a ``prompt``/``system_prompt`` value from the config file is used
only when the matching task parameter was left at its default (``"{input}"``
and ``""``). The check is by value, so passing ``-T prompt="{input}"``
explicitly is indistinguishable from not passing it and the config still wins.
Prefer the config file for prompts anyway: inspect YAML-parses ``-T`` values.
Other keys in the config file (e.g. ``model_path``) are ignored here.
"""

import json
from pathlib import Path
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import GenerateConfig
from inspect_ai.scorer import Scorer, includes, match
from inspect_ai.solver import generate, system_message

DEFAULT_PROMPT = "{input}"
DEFAULT_SYSTEM_PROMPT = ""

# name -> (factory, default params)
SCORERS: dict[str, tuple[Any, dict[str, Any]]] = {
    "match": (match, {"location": "exact", "ignore_case": False}),
    "includes": (includes, {"ignore_case": False}),
}
DEFAULT_SCORERS = [{"name": "match"}, {"name": "includes"}]


def _load_config(config_path: str) -> dict[str, Any]:
    if not config_path:
        return {}
    text = Path(config_path).read_text(encoding="utf-8")
    if config_path.endswith(".json"):
        config = json.loads(text)
    else:
        import yaml  # PyYAML is an inspect-ai dependency

        config = yaml.safe_load(text)
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ValueError(f"config file {config_path} must contain a mapping")
    return config


def _build_scorers(spec: Any) -> list[Scorer]:
    if spec is None:
        spec = DEFAULT_SCORERS
    if not isinstance(spec, list) or not spec:
        raise ValueError(f"'scorers' must be a non-empty list, got {spec!r}")
    scorers = []
    for entry in spec:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or "name" not in entry:
            raise ValueError(f"each scorer must be {{name, params}}, got {entry!r}")
        name = entry["name"]
        if name not in SCORERS:
            raise ValueError(
                f"unknown scorer {name!r}; supported: {', '.join(sorted(SCORERS))}"
            )
        factory, defaults = SCORERS[name]
        params = entry.get("params") or {}
        scorers.append(factory(**{**defaults, **params}))
    return scorers


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        if value.strip().lower() in ("true", "1", "yes"):
            return True
        if value.strip().lower() in ("false", "0", "no", ""):
            return False
        raise ValueError(f"use_chat_template must be true/false, got {value!r}")
    return bool(value)


def _load_samples(data_path: str, split: str, prompt: str) -> list[Sample]:
    data = json.loads(Path(data_path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or split not in data:
        available = ", ".join(data) if isinstance(data, dict) else "none"
        raise ValueError(
            f"split {split!r} not found in {data_path} (available: {available})"
        )
    return [
        Sample(input=prompt.format(input=r["input"]), target=r["output"])
        for r in data[split]
    ]


@task
def capitalization(
    data_path: str,
    config_path: str = "",
    split: str = "test",
    temperature: float = 1e-7,
    max_tokens: int = 20,
    vis_label: str = "",
    use_chat_template: bool = True,
    prompt: str = DEFAULT_PROMPT,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
) -> Task:
    config = _load_config(config_path)
    # Config values win only over parameters left at their defaults.
    if prompt == DEFAULT_PROMPT and config.get("prompt") is not None:
        prompt = config["prompt"]
    if system_prompt == DEFAULT_SYSTEM_PROMPT and config.get("system_prompt") is not None:
        system_prompt = config["system_prompt"]

    if "{input}" not in prompt:
        raise ValueError(
            f"prompt must contain the placeholder '{{input}}', got {prompt!r}"
        )
    try:
        prompt.format(input="")
    except (KeyError, IndexError, ValueError) as e:
        raise ValueError(
            f"prompt may only use the '{{input}}' placeholder (write literal "
            f"braces as '{{{{' and '}}}}'), got {prompt!r}: {e!r}"
        ) from None

    samples = _load_samples(data_path, split, prompt)
    solver = []
    if _as_bool(use_chat_template) and system_prompt:
        solver.append(system_message(system_prompt))
    solver.append(generate())

    return Task(
        dataset=MemoryDataset(samples, name=f"capitalization_{split}", location=data_path),
        solver=solver,
        scorer=_build_scorers(config.get("scorers")),
        config=GenerateConfig(temperature=temperature, max_tokens=max_tokens),
        name=f"capitalization_{vis_label}" if vis_label else "capitalization",
    )
