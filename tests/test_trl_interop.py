"""A reward model trained by TRL's RewardTrainer, evaluated by rankreward.

TRL trains on pairwise rows flattened from the built-in State of the Union
rankings; rankreward then evaluates the saved model on held-out rankings of
the same kind, as a user comparing the two trainers would.
"""

import itertools
import json

import pytest

from rankreward.cli import main
from rankreward.sotu_data import build_sotu_rankings

trl = pytest.importorskip("trl", reason="the trl extra is part of the test install")


def pairwise_rows(records):
    # Every pair of a ranking, best first, in TRL's prompt/chosen/rejected layout.
    return [
        {
            "prompt": r["prompt"],
            "chosen": r["responses"][i],
            "rejected": r["responses"][j],
        }
        for r in records
        for i, j in itertools.combinations(range(len(r["responses"])), 2)
    ]


def test_trl_reward_model_evaluates(tiny_model_dir, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    train, held_out = build_sotu_rankings(8, 6, length_scale=0.25, seed=3)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, num_labels=1
    )
    # The settings a CPU needs: no bf16, no gradient checkpointing, and an
    # end-of-sequence token that the BERT tokenizer has.
    config = trl.RewardConfig(
        output_dir=str(tmp_path / "trl"),
        max_steps=2,
        per_device_train_batch_size=8,
        learning_rate=1e-3,
        bf16=False,
        gradient_checkpointing=False,
        eos_token="[SEP]",
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = trl.RewardTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(pairwise_rows(train)),
        processing_class=tokenizer,
    )
    trainer.train()
    trainer.save_model(str(tmp_path / "trl"))
    tokenizer.save_pretrained(tmp_path / "trl")

    data = tmp_path / "held-out.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in held_out))
    out = tmp_path / "report"
    code = main(
        [
            "evaluate",
            "--model",
            str(tmp_path / "trl"),
            "--data",
            str(data),
            "--out",
            str(out),
            "--group-field",
            "kind",
            "--utility",
            "logsigmoid:1",
            "--encoding",
            "concat",
        ]
    )
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["reward_map"]["name"] == "minmax"  # TRL saves no rankreward.json
    assert report["encoding"] == "concat"
    assert report["summary"]["prompts"] == len(held_out)
    assert 0.0 <= report["summary"]["rewards/accuracy"] <= 1.0
    assert {row["group"] for row in report["profiles"]} == {"open", "closed"}
    assert report["summary"]["collapse/w1"] is not None
    assert (out / "report.md").exists()
    assert (out / "profiles.png").stat().st_size > 5_000


def test_concat_encoding_is_trls(tiny_model_dir):
    # TRL 1.x tokenizes prompt + response + EOS as one text; the concat
    # encoding must give the very same token ids.
    from transformers import AutoTokenizer

    from rankreward.collator import tokenize_concatenated

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.eos_token = "[SEP]"
    prompt, response = "Name a colour. ", "Blue, like the sea."
    ours = tokenize_concatenated(tokenizer, prompt, [response], [], 0, 64)
    theirs = tokenizer(prompt + response + "[SEP]")["input_ids"]
    assert ours["input_ids"] == [theirs]
