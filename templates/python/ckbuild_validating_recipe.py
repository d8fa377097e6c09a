"""torchtune's single-device fine-tune recipes, with a validation loss.

torchtune 0.6.1's ``lora_finetune_single_device`` and ``full_finetune_single_device`` have no validation
loop (``run_val_every_n_steps`` and ``dataset_val`` arrived in 0.7.0, in the distributed recipes). This
recipe is the stock one, subclassed: training is untouched, and every ``run_val_every_n_steps``
optimizer steps the model is put in eval mode and the mean loss per unmasked token over the whole
``dataset_val`` is computed (no gradients, the same loss function and label shift as training), then
logged through the recipe's own metric logger as ``val_loss`` at that step, so it lands in the DiskLogger
file beside the training loss (``Step 50 | val_loss:…``). A last validation runs after the final step.

Used by ckbuild's torchtune rule when ``validation_every_n_steps`` > 0 on one device (or the CPU) and
the dataset has a validation split; the config says which stock recipe to extend
(``ckbuild_base_recipe: lora_finetune_single_device`` or ``full_finetune_single_device``). Run as
``tune run ckbuild_validating_recipe.py --config finetune.yaml`` from this file's folder.
"""

import importlib.util
import sys
from functools import partial
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader
from torchtune import config, utils
from torchtune.config._utils import _get_component_from_path


STOCK = {"lora_finetune_single_device": "LoRAFinetuneRecipeSingleDevice", "full_finetune_single_device": "FullFinetuneRecipeSingleDevice"}


def _base_recipe(name):
    """The stock recipe's class, loaded from the installed torchtune's recipes/ folder (not a package)."""
    if name not in STOCK:
        raise ValueError(f"ckbuild_base_recipe must be one of {', '.join(STOCK)}, got {name!r}")
    import torchtune

    path = Path(torchtune.__file__).resolve().parent.parent / "recipes" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"ckbuild_stock_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, STOCK[name])


def with_validation(base):
    class ValidatingRecipe(base):
        def setup(self, cfg: DictConfig) -> None:
            super().setup(cfg)
            self._val_every = int(cfg.get("run_val_every_n_steps") or 0)
            self._val_dataloader = None
            self._last_val_step = 0
            if self._val_every <= 0 or cfg.get("dataset_val") is None:
                return
            dataset = config.instantiate(cfg.dataset_val, self._tokenizer)
            # Never larger than the training batch: the loss step's label-shift cache has that many rows.
            batch_size = min(int(cfg.get("batch_size_val") or cfg.batch_size), int(cfg.batch_size))
            collate = _get_component_from_path(cfg.get("collate_fn", "torchtune.data.padded_collate_sft"))
            # Every example counts: no shuffling, no dropped last batch (a small validation set is still measured).
            self._val_dataloader = DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=False, collate_fn=partial(collate, padding_idx=self._tokenizer.pad_id, ignore_idx=self._loss_fn.ignore_index))
            log_dict = self._metric_logger.log_dict

            def log_and_validate(payload, step):
                log_dict(payload, step=step)
                if "loss" in payload and step // self._val_every > self._last_val_step // self._val_every:
                    self._validate(step)

            self._metric_logger.log_dict = log_and_validate
            self._log_val = log_dict

        def _validate(self, step: int) -> None:
            self._last_val_step = step
            was_training = self._model.training
            self._model.eval()
            total, tokens = 0.0, 0
            with torch.no_grad():
                for batch in self._val_dataloader:
                    utils.batch_to_device(batch, self._device)
                    count = int((batch["labels"] != self._loss_fn.ignore_index).sum())
                    if count == 0:
                        continue
                    total += float(self._loss_step(batch)) * count
                    tokens += count
            if was_training:
                self._model.train()
            if tokens > 0:
                self._log_val({"val_loss": total / tokens}, step=step)

        def train(self) -> None:
            super().train()
            if self._val_dataloader is not None and self.global_step > self._last_val_step:
                self._validate(self.global_step)

    return ValidatingRecipe


@config.parse
def recipe_main(cfg: DictConfig) -> None:
    recipe_class = with_validation(_base_recipe(cfg.get("ckbuild_base_recipe", "lora_finetune_single_device")))
    config.log_config(recipe_name=f"ckbuild validating {recipe_class.__mro__[1].__name__}", cfg=cfg)
    recipe = recipe_class(cfg=cfg)
    recipe.setup(cfg=cfg)
    recipe.train()
    recipe.cleanup()


if __name__ == "__main__":
    sys.exit(recipe_main())
