"""The earlier toolkit's training datasets, re-derived from their documented behaviour.

cruijff_kit 0.3.4 trains with its own torchtune dataset builders
(``cruijff_kit.tools.torchtune.datasets.{chat_completion,text_completion}``; the package is not on PyPI,
so it cannot be installed here). Their behaviour, as documented in shared/reference/cruijff_kit.md and in
the builders' own docstrings in the toolkit's public repository (niznik-dev/cruijff_kit):

* the tokenizer is ``transformers.AutoTokenizer.from_pretrained(model_path)`` (the torchtune tokenizer
  passed in is ignored);
* rows come from ``{split: [...]}`` or a bare list; ``max_samples`` keeps the first N;
* ``prompt.format(**row)`` is the user text;
* chat_completion: ``prompt_ids = apply_chat_template([system?, user], add_generation_prompt=True,
  tokenize=True)``; ``full_ids = apply_chat_template([system?, user, assistant(output)],
  add_generation_prompt=False, tokenize=True)``; the prompt must be a prefix of the full sequence;
  labels are -100 over the prompt unless ``train_on_input``;
* text_completion: ``prompt_ids = encode(prompt, add_special_tokens=True)``, ``full_ids =
  encode(prompt + output, add_special_tokens=True)``, labels -100 over ``len(prompt_ids)``; no eos is
  appended;
* ``max_length`` would truncate both, but the toolkit's generator never sets it: no truncation.

This module is the test's yardstick, written independently of ckbuild's dataset component.
"""


def _ids(result):
    # transformers 5 returns a BatchEncoding from apply_chat_template(tokenize=True); 4.x a list.
    if hasattr(result, "keys") and "input_ids" in result:
        return list(result["input_ids"])
    return list(result)


def toolkit_item(tokenizer, row, *, prompt, system_prompt, dataset_type, train_on_input=False):
    user = prompt.format(**row)
    output = row["output"]
    if dataset_type == "chat_completion":
        messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [{"role": "user", "content": user}]
        prompt_ids = _ids(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True))
        full_ids = _ids(tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": output}], add_generation_prompt=False, tokenize=True))
        assert full_ids[: len(prompt_ids)] == prompt_ids, "the toolkit raises here: prompt is not a prefix"
    else:
        prompt_ids = tokenizer.encode(user, add_special_tokens=True)
        full_ids = tokenizer.encode(user + output, add_special_tokens=True)
    labels = list(full_ids) if train_on_input else [-100] * len(prompt_ids) + full_ids[len(prompt_ids):]
    return {"tokens": full_ids, "labels": labels}
