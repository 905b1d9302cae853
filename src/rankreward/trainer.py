"""Training reward models on ranked prompts with ``transformers.Trainer``.

``RankingTrainer`` only replaces how the loss is computed, so checkpoints,
resuming, gradient accumulation, mixed precision, logging back ends and
multi-process launchers behave as they do for any ``Trainer``.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from transformers import Trainer

from rankreward.loss import RankingLoss
from rankreward.model import RewardHead

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class NonFiniteLossError(RuntimeError):
    """Training stopped at a NaN or infinite loss, after saving a checkpoint."""


class RankingTrainer(Trainer):
    """A ``Trainer`` whose loss is ``RankingLoss`` over bounded rewards.

    The data set yields tokenized ranked prompts and the collator is
    ``RankingCollator``; pass ``remove_unused_columns=False`` in the
    arguments so that the edge columns reach the loss.
    """

    # compute_loss returns a mean over this batch's prompts, so the Trainer
    # divides it by the number of accumulation steps itself.
    loss_is_scaled_for_ga = False

    def __init__(self, *args, loss_fn: RankingLoss, reward_head: RewardHead, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_fn = loss_fn
        self.reward_head = reward_head
        self._metric_sums: dict[str, torch.Tensor | float] = defaultdict(float)
        self._metric_count = 0
        self._eval_sums: dict[str, torch.Tensor | float] = defaultdict(float)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        # Ranked prompts carry no "labels", so Trainer's own prediction step
        # would skip the loss; evaluation only needs the loss and accuracy.
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None

    def evaluate(self, *args, metric_key_prefix: str = "eval", **kwargs):
        """Evaluate as ``Trainer`` does, adding the held-out pairwise accuracy.

        The accuracy is over this process's share of the held-out edges.
        """
        self._eval_sums.clear()
        metrics = super().evaluate(*args, metric_key_prefix=metric_key_prefix, **kwargs)
        if self._eval_sums["edges"]:
            accuracy = float(self._eval_sums["correct"]) / self._eval_sums["edges"]
            metrics[f"{metric_key_prefix}_rewards/accuracy"] = round(accuracy, 4)
            self.log({f"{metric_key_prefix}_rewards/accuracy": round(accuracy, 4)})
        return metrics

    def compute_loss(
        self, model, inputs, return_outputs=False, num_items_in_batch=None
    ):
        model_inputs = {k: inputs[k] for k in MODEL_INPUTS if k in inputs}
        logits = model(**model_inputs).logits.squeeze(-1)  # (N,)
        rewards = self.reward_head(logits)  # (N,)
        out = self.loss_fn(
            rewards,
            inputs["edges"],
            inputs["edge_prompt"],
            inputs["edge_weight"],
            inputs["prompt_utility"],
        )
        loss = out.loss.mean()
        if model.training and not torch.isfinite(loss):
            self._stop_on_nonfinite(model, inputs, loss)

        # Metrics stay tensors until they are logged: .item() here would
        # make every step wait for the device.
        if not model.training:
            correct = out.edge_correct.float()
            self._eval_sums["correct"] += correct.sum()
            self._eval_sums["edges"] += correct.numel()
        if model.training:
            detached = rewards.detach().float()
            self._metric_sums["rewards/accuracy"] += out.edge_correct.float().mean()
            self._metric_sums["rewards/margin"] += out.edge_margin.mean()
            self._metric_sums["rewards/mean"] += detached.mean()
            self._metric_sums["rewards/std"] += detached.std()
            self._metric_count += 1
        if return_outputs:
            return loss, {"rewards": rewards, "loss_per_prompt": out.loss}
        return loss

    def _stop_on_nonfinite(self, model, inputs, loss) -> None:
        # The weights now are those the last step with a finite loss left,
        # so they are saved before the run stops.
        step = self.state.global_step + 1
        checkpoint = f"{self.args.output_dir}/checkpoint-{self.state.global_step}"
        self._save_checkpoint(model, trial=None)
        sources = inputs.get("sources") or ["(sources not recorded)"]
        raise NonFiniteLossError(
            f"the loss was {float(loss)} at step {step}, on the prompts "
            f"{', '.join(map(str, sources))}; the weights before this step are "
            f"saved in {checkpoint}. Lower the learning rate, or check those "
            "prompts and the model's weights"
        )

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        # The extra arguments (start_time since transformers 4.47) pass through.
        # Merge the batch metrics gathered since the last log into this entry.
        if self._metric_count and "loss" in logs:
            for name, total in self._metric_sums.items():
                logs[name] = round(float(total) / self._metric_count, 4)
            self._metric_sums.clear()
            self._metric_count = 0
        super().log(logs, *args, **kwargs)


def ranking_training_arguments(**overrides):
    """``TrainingArguments`` with the settings ranked prompts need."""
    from transformers import TrainingArguments

    defaults = dict(
        remove_unused_columns=False,
        report_to="none",
        save_strategy="no",
        logging_strategy="steps",
        logging_steps=10,
        disable_tqdm=False,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
    )
    defaults.update(overrides)
    return TrainingArguments(**defaults)
