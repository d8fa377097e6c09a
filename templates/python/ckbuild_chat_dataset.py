"""ckbuild's torchtune dataset component: train on exactly the token ids the evaluation feeds the model.

Use in a torchtune config (with this directory on PYTHONPATH)::

    dataset:
      _component_: ckbuild_chat_dataset.chat_template_dataset
      model_dir: /models/Llama-3.2-1B-Instruct      # the HF model dir (tokenizer.json, tokenizer_config.json)
      data_files: /runs/data/words_5L_80P_1000.json  # {"train": [...], "validation": [...], "test": [...]}
      field: train
      prompt: "Capitalize the given word: {input}"   # the same template the inspect task gets
      system_prompt: ""
      dataset_type: chat_completion                 # or text_completion
      train_on_input: false

Why: torchtune's own ``instruct_dataset`` tokenizes with torchtune's tokenizer and prompt template, and
inspect-ai's ``hf/`` provider formats with the model's Hugging Face chat template. The two texts differ
(system prompt handling, BOS, whitespace), so a model fine-tuned one way is evaluated on prompts it never
saw. This component builds the prompt the way inspect-ai 0.3.x does it in
``inspect_ai/model/_providers/hf.py``:

* ``HuggingFaceAPI.__init__``: the tokenizer is ``AutoTokenizer.from_pretrained(model_path or
  tokenizer_path)``; ``pad_token = eos_token``, ``padding_side = "left"``.
* ``hf_chat`` / ``_apply_chat_template``: messages are ``model_dump(exclude_none=True)`` dicts (role,
  content); ``tokenizer.apply_chat_template(messages, chat_template=tokenizer.chat_template,
  add_generation_prompt=True, tokenize=False, tools=None, enable_thinking=None)`` gives a STRING. With no
  chat template (or ``-M use_chat_template=false``) the string is ``"".join(f"{role}: {content}\\n")``.
* ``generate`` + ``_generate_batch``: that string is tokenized with
  ``tokenizer([text, ...], return_tensors="pt", padding=True)``, i.e. ``add_special_tokens=True``. For a
  Llama-3 tokenizer, whose chat template already starts with ``bos_token`` and whose post-processor adds
  BOS again, the prompt therefore starts with TWO ``<|begin_of_text|>`` tokens. That is what the evaluated
  model sees, so that is what it is trained on here (left padding is masked and does not change the ids).

The messages are ``[system?, user]``: the task's ``system_message(system_prompt)`` solver inserts a system
message only when ``system_prompt`` is not empty, and the sample's input ``prompt.format(input=...)`` is the
user message. (inspect's ``system_message`` also runs ``str.format`` over the text with the sample metadata
and reads it from a file if it names one; plain text without braces is unchanged.)

The example becomes ``tokens = prompt_ids + target_ids``, ``target_ids = tokenize(output,
add_special_tokens=False) + [eos_token_id]`` (the eos of tokenizer_config.json: ``<|eot_id|>`` for
Llama-3 Instruct), and ``labels`` equal ``tokens`` except that the prompt positions are
``CROSS_ENTROPY_IGNORE_IDX`` (-100) unless ``train_on_input``. The target is tokenized on its own because
at evaluation time the model generates it token by token after the prompt ids.

``text_completion`` (base models without a chat template): the prompt is the raw ``prompt.format(input)``
(``text_prompt_style="raw"``), tokenized with special tokens (BOS) like inspect does, then output + eos.
``text_prompt_style="inspect_plain"`` reproduces instead what inspect's hf provider sends when it has no
chat template: ``"system: ...\\n"`` (if any) + ``"user: <prompt>\\n"``.

``tokenization="cruijff_kit"`` (what ``ckbuild import`` sets for the earlier toolkit's files) trains instead the
ids that toolkit's own builders (cruijff_kit 0.3.4 ``tools/torchtune/datasets``) produced, so an imported
experiment trains what it trained there: the chat template tokenizes the conversation itself
(``apply_chat_template(..., tokenize=True)``: one BOS, from the template), the answer is tokenized in place
inside the whole conversation (ending in the template's end-of-turn token), text_completion is
``encode(prompt)`` / ``encode(prompt + output)`` with no eos, and nothing is truncated. The default path
(``tokenization="inspect"``) is unchanged by it.

The recipe (torchtune 0.6.1 ``lora_finetune_single_device``) calls ``config.instantiate(cfg.dataset,
self._tokenizer)``, so the torchtune tokenizer arrives as the first positional argument; it is only used
for a consistency check. Batches go through ``padded_collate_sft`` (pads ``tokens`` with
``tokenizer.pad_id`` and ``labels`` with -100); the recipe shifts the labels itself.
Needs transformers (and jinja2) in the training environment; never touches the network
(``local_files_only=True``).
"""

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Union

from torch.utils.data import Dataset

CROSS_ENTROPY_IGNORE_IDX = -100  # torchtune.data.CROSS_ENTROPY_IGNORE_IDX

DATASET_TYPES = ("chat_completion", "text_completion")
TEXT_PROMPT_STYLES = ("raw", "inspect_plain")
TOKENIZATIONS = ("inspect", "cruijff_kit")


def load_hf_tokenizer(model_dir: str):
    """The tokenizer exactly as inspect-ai's hf provider loads it (plus local_files_only)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    # hf.py: "LLMs generally don't have a pad token and we need one for batching"
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def build_messages(prompt_text: str, system_prompt: str) -> List[Dict[str, str]]:
    messages = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": prompt_text})
    return messages


def render_prompt(tokenizer, messages: List[Dict[str, str]], dataset_type: str, text_prompt_style: str = "raw") -> str:
    """The prompt string inspect's hf provider builds (hf_chat), for the given dataset type."""
    if dataset_type == "chat_completion":
        if tokenizer.chat_template is None:
            raise ValueError(
                "dataset_type chat_completion needs a chat template in the model's tokenizer_config.json "
                "(inspect would fall back to 'role: content' lines); use dataset_type text_completion"
            )
        return tokenizer.apply_chat_template(
            messages,
            chat_template=tokenizer.chat_template,
            add_generation_prompt=True,
            tokenize=False,
            tools=None,
            enable_thinking=None,
        )
    if text_prompt_style == "inspect_plain":
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages)
    return messages[-1]["content"]


def _token_list(result) -> List[int]:
    """apply_chat_template(tokenize=True) gives a list (transformers 4) or a BatchEncoding (5)."""
    if hasattr(result, "keys") and "input_ids" in result:
        result = result["input_ids"]
    return [int(token) for token in result]


def encode_prompt(tokenizer, text: str) -> List[int]:
    """Tokenize like inspect's _generate_batch: tokenizer([text], return_tensors="pt", padding=True)."""
    return tokenizer([text], return_tensors="pt", padding=True)["input_ids"][0].tolist()


def _read_records(data_files: Union[str, Sequence[str]], field: Optional[str], split: str) -> List[Dict[str, Any]]:
    files = [data_files] if isinstance(data_files, (str, os.PathLike)) else list(data_files)
    records: List[Dict[str, Any]] = []
    for path in files:
        with open(path, encoding="utf-8") as handle:
            if str(path).endswith(".jsonl"):
                data: Any = [json.loads(line) for line in handle if line.strip()]
            else:
                data = json.load(handle)
        if isinstance(data, dict):
            key = field or split
            if key not in data:
                raise ValueError(f"{path} has no list {key!r} (keys: {', '.join(map(str, data))})")
            data = data[key]
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a list of records, got {type(data).__name__}")
        records.extend(data)
    return records


class ChatTemplateDataset(Dataset):
    """Map-style dataset of {"tokens": [...], "labels": [...]} built with the model's HF tokenizer."""

    def __init__(
        self,
        *,
        model_dir: str,
        data_files: Union[str, Sequence[str]],
        field: Optional[str] = None,
        split: str = "train",
        prompt: str = "{input}",
        system_prompt: str = "",
        max_seq_len: Optional[int] = None,
        dataset_type: str = "chat_completion",
        train_on_input: bool = False,
        input_key: str = "input",
        output_key: str = "output",
        text_prompt_style: str = "raw",
        tokenization: str = "inspect",
    ):
        if tokenization not in TOKENIZATIONS:
            raise ValueError(f"tokenization must be one of {TOKENIZATIONS}, got {tokenization!r}")
        if dataset_type not in DATASET_TYPES:
            raise ValueError(f"dataset_type must be one of {DATASET_TYPES}, got {dataset_type!r}")
        if text_prompt_style not in TEXT_PROMPT_STYLES:
            raise ValueError(f"text_prompt_style must be one of {TEXT_PROMPT_STYLES}, got {text_prompt_style!r}")
        if "{input}" not in prompt:
            raise ValueError(f"prompt must contain '{{input}}', got {prompt!r}")
        self.tokenizer = load_hf_tokenizer(model_dir)
        if self.tokenizer.eos_token_id is None:
            raise ValueError(f"{model_dir}: the tokenizer has no eos_token (tokenizer_config.json)")
        self.prompt = prompt
        self.system_prompt = system_prompt or ""
        self.dataset_type = dataset_type
        self.text_prompt_style = text_prompt_style
        self.tokenization = tokenization
        self.max_seq_len = max_seq_len
        self.train_on_input = bool(train_on_input)
        self.input_key, self.output_key = input_key, output_key
        self._records = _read_records(data_files, field, split)
        if not self._records:
            raise ValueError(f"no records in {data_files} ({field or split})")
        self._cache: Dict[int, Dict[str, List[int]]] = {}

    def __len__(self) -> int:
        return len(self._records)

    def prompt_text(self, index: int) -> str:
        record = self._records[index]
        messages = build_messages(self.prompt.format(input=record[self.input_key]), self.system_prompt)
        return render_prompt(self.tokenizer, messages, self.dataset_type, self.text_prompt_style)

    def encode(self, index: int) -> Dict[str, List[int]]:
        if self.tokenization == "cruijff_kit":
            return self.encode_like_cruijff_kit(index)
        record = self._records[index]
        prompt_ids = encode_prompt(self.tokenizer, self.prompt_text(index))
        target_ids = self.tokenizer(str(record[self.output_key]), add_special_tokens=False)["input_ids"]
        target_ids = list(target_ids) + [self.tokenizer.eos_token_id]
        tokens = prompt_ids + target_ids
        if self.train_on_input:
            labels = list(tokens)
        else:
            labels = [CROSS_ENTROPY_IGNORE_IDX] * len(prompt_ids) + target_ids
        if self.max_seq_len is not None:
            tokens, labels = tokens[: self.max_seq_len], labels[: self.max_seq_len]
        return {"tokens": tokens, "labels": labels, "prompt_len": len(prompt_ids)}

    def encode_like_cruijff_kit(self, index: int) -> Dict[str, List[int]]:
        """The earlier toolkit's builders (cruijff_kit 0.3.4, tools/torchtune/datasets), for imported experiments.

        chat_completion: the chat template tokenizes the conversation itself (``tokenize=True``, so the BOS
        comes from the template only), once with the generation prompt (the prompt) and once with the
        assistant's answer (the whole example, ending in the template's end-of-turn token); the prompt must
        be a prefix of the whole. text_completion: ``encode(prompt)`` and ``encode(prompt + output)``, both
        with special tokens, and no eos. The labels mask the prompt's length unless ``train_on_input``.
        ``max_seq_len`` truncates only when given (the toolkit never set it).
        """
        record = self._records[index]
        # As there: the prompt may name any field of the example (prompt.format(**row)).
        fields = dict(record)
        fields.setdefault("input", record[self.input_key])
        user = self.prompt.format(**fields)
        output = str(record[self.output_key])
        if self.dataset_type == "chat_completion":
            messages = build_messages(user, self.system_prompt)
            prompt_ids = _token_list(self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True))
            tokens = _token_list(self.tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": output}], add_generation_prompt=False, tokenize=True))
            if tokens[: len(prompt_ids)] != prompt_ids:
                raise ValueError(f"example {index}: the chat template's prompt is not a prefix of the whole conversation")
        else:
            prompt_ids = list(self.tokenizer.encode(user, add_special_tokens=True))
            tokens = list(self.tokenizer.encode(user + output, add_special_tokens=True))
        labels = list(tokens) if self.train_on_input else [CROSS_ENTROPY_IGNORE_IDX] * len(prompt_ids) + tokens[len(prompt_ids):]
        if self.max_seq_len is not None:
            tokens, labels = tokens[: self.max_seq_len], labels[: self.max_seq_len]
        return {"tokens": tokens, "labels": labels, "prompt_len": len(prompt_ids)}

    def __getitem__(self, index: int) -> Dict[str, List[int]]:
        if index not in self._cache:
            item = self.encode(index)
            self._cache[index] = {"tokens": item["tokens"], "labels": item["labels"]}
        return self._cache[index]


def chat_template_dataset(
    tokenizer: Any = None,
    *,
    model_dir: str,
    data_files: Union[str, Sequence[str]],
    field: Optional[str] = None,
    split: str = "train",
    prompt: str = "{input}",
    system_prompt: str = "",
    max_seq_len: Optional[int] = None,
    dataset_type: str = "chat_completion",
    train_on_input: bool = False,
    input_key: str = "input",
    output_key: str = "output",
    text_prompt_style: str = "raw",
    tokenization: str = "inspect",
    packed: bool = False,
    max_samples: Optional[int] = None,
) -> Dataset:
    """torchtune dataset builder; ``tokenizer`` is the recipe's torchtune tokenizer (checked, not used)."""
    ds = ChatTemplateDataset(
        model_dir=model_dir,
        data_files=data_files,
        field=field,
        split=split,
        prompt=prompt,
        system_prompt=system_prompt,
        max_seq_len=max_seq_len,
        dataset_type=dataset_type,
        train_on_input=train_on_input,
        input_key=input_key,
        output_key=output_key,
        text_prompt_style=text_prompt_style,
        tokenization=tokenization,
    )
    if max_samples is not None:
        # The first N examples, as the stock builders' `train[:N]` split does.
        ds._records = ds._records[: int(max_samples)]
    if tokenizer is not None:
        pad_id = getattr(tokenizer, "pad_id", None)
        vocab = len(ds.tokenizer)
        if pad_id is not None and not 0 <= pad_id < vocab:
            raise ValueError(f"torchtune tokenizer pad_id {pad_id} is outside the HF vocabulary ({vocab})")
    if packed:
        from torchtune.datasets import PackedDataset

        seq_len = max_seq_len or getattr(tokenizer, "max_seq_len", None)
        if not seq_len:
            raise ValueError("packed: true needs max_seq_len (here or on the tokenizer)")
        return PackedDataset(ds, max_seq_len=seq_len, padding_idx=getattr(tokenizer, "pad_id", 0))
    return ds
