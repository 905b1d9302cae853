import pytest
import torch

from rankreward.collator import RankingCollator, tokenize_ranking
from rankreward.model import default_model_path


def example(lengths, edges, utility_index, with_types=True):
    ids = [list(range(1, n + 1)) for n in lengths]
    ex = {
        "input_ids": ids,
        "edges": edges,
        "edge_weights": [1.0] * len(edges),
        "utility_index": utility_index,
    }
    if with_types:
        ex["token_type_ids"] = [[0] * (n - 1) + [1] for n in lengths]
    return ex


def test_worked_example_layout():
    # Two prompts: a > b > c and d > e; rows a, b, c, d, e.
    batch = RankingCollator(pad_token_id=0)(
        [
            example([3, 2, 4], [[0, 1], [0, 2], [1, 2]], utility_index=1),
            example([2, 5], [[0, 1]], utility_index=0),
        ]
    )
    assert batch["input_ids"].shape == (5, 5)
    assert batch["response_prompt"].tolist() == [0, 0, 0, 1, 1]
    assert batch["edges"].tolist() == [[0, 1], [0, 2], [1, 2], [3, 4]]
    assert batch["edge_prompt"].tolist() == [0, 0, 0, 1]
    assert batch["edge_weight"].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert batch["prompt_utility"].tolist() == [1, 0]
    # Rows are right-padded to the batch's longest row, and the mask marks them.
    assert batch["input_ids"][1].tolist() == [1, 2, 0, 0, 0]
    assert batch["attention_mask"][1].tolist() == [1, 1, 0, 0, 0]
    assert batch["attention_mask"].sum(dim=1).tolist() == [3, 2, 4, 2, 5]
    assert batch["token_type_ids"][0].tolist() == [0, 0, 1, 0, 0]


def test_each_response_encoded_once():
    # 8 responses with all 28 pairs give 8 rows, not 56.
    edges = [[i, j] for i in range(8) for j in range(i + 1, 8)]
    batch = RankingCollator(0)([example([4] * 8, edges, 0)])
    assert batch["input_ids"].shape[0] == 8
    assert batch["edges"].shape == (28, 2)


def test_token_types_left_out_when_missing():
    batch = RankingCollator(0)([example([2, 3], [[0, 1]], 0, with_types=False)])
    assert "token_type_ids" not in batch
    assert batch["input_ids"].dtype == torch.long


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_model_path())


def test_tokenize_pairs_prompt_and_response(tokenizer):
    ex = tokenize_ranking(
        tokenizer,
        "Name a colour.",
        ["Red is one.", "Red."],
        [[0, 1]],
        utility_index=0,
        max_length=64,
    )
    first = tokenizer.decode(ex["input_ids"][0])
    assert first == "[CLS] name a colour. [SEP] red is one. [SEP]"
    assert ex["token_type_ids"][1] == [0] * 6 + [1] * 3
    assert ex["edges"] == [[0, 1]]
    assert ex["edge_weights"] == [1.0]


def test_tokenize_cuts_prompt_from_the_left(tokenizer):
    prompt = "filler " * 50 + "This prompt is closed-ended."
    ex = tokenize_ranking(
        tokenizer, prompt, ["the response stays whole"], [], 0, max_length=24
    )
    text = tokenizer.decode(ex["input_ids"][0])
    assert len(ex["input_ids"][0]) == 24
    assert text.startswith("[CLS] filler")
    assert text.endswith(
        "this prompt is closed - ended. [SEP] the response stays whole [SEP]"
    )


def test_tokenize_cuts_overlong_response_at_its_end(tokenizer):
    response = " ".join(f"w{i}" for i in range(200))
    ex = tokenize_ranking(tokenizer, "Short prompt.", [response], [], 0, max_length=32)
    ids = ex["input_ids"][0]
    assert len(ids) <= 32
    text = tokenizer.decode(ids)
    assert "short prompt." in text
    assert "w0" in text
    assert "w199" not in text
