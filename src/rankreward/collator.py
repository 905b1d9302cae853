"""Tokenized ranked prompts, and the collator that batches them.

One example is one prompt with all its responses, tokenized as
``(prompt, response)`` pairs, and its preference edges over those responses
as local indices. Each distinct response is encoded once per step, however
many edges it appears in.

Batch layout, for P prompts holding N responses and E edges in all, each
response padded to L tokens:

    input_ids       (N, L) long   prompt-and-response tokens, right-padded
    attention_mask  (N, L) long   1 on real tokens, 0 on padding
    token_type_ids  (N, L) long   0 on the prompt, 1 on the response (if the
                                  tokenizer makes them)
    response_prompt (N,)   long   the prompt each row belongs to
    edges           (E, 2) long   (better, worse) rows of input_ids
    edge_prompt     (E,)   long   the prompt each edge belongs to
    edge_weight     (E,)   float  how many times the edge was given
    prompt_utility  (P,)   long   index into the loss's utility table

Worked example: two prompts, the first ranking three responses (a > b > c)
and the second two (d > e). Rows are a, b, c, d, e, so
``response_prompt = [0, 0, 0, 1, 1]``,
``edges = [[0, 1], [0, 2], [1, 2], [3, 4]]`` and
``edge_prompt = [0, 0, 0, 1]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from rankreward.reward_settings import ENCODINGS


def tokenize_ranking(
    tokenizer,
    prompt: str,
    responses: Sequence[str],
    edges: Sequence[Sequence[int]],
    utility_index: int,
    max_length: int,
    edge_weights: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Tokenize one prompt's responses as (prompt, response) pairs.

    An over-long pair loses tokens from the start of the prompt, so that the
    end of the prompt (where an instruction's last sentence sits) and the
    whole response stay. A response longer than three quarters of
    ``max_length`` keeps only its first tokens up to that size, and the
    prompt fills what is left.
    """
    responses = [_cut_response(tokenizer, r, max_length) for r in responses]
    previous_side = tokenizer.truncation_side
    tokenizer.truncation_side = "left"
    try:
        encoded = tokenizer(
            [prompt] * len(responses),
            responses,
            truncation="only_first",
            max_length=max_length,
        )
    finally:
        tokenizer.truncation_side = previous_side
    example = _example(encoded["input_ids"], edges, edge_weights, utility_index)
    if "token_type_ids" in encoded:
        example["token_type_ids"] = encoded["token_type_ids"]
    return example


def tokenize_concatenated(
    tokenizer,
    prompt: str,
    responses: Sequence[str],
    edges: Sequence[Sequence[int]],
    utility_index: int,
    max_length: int,
    edge_weights: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Tokenize each response as one text, prompt + response + end of sequence.

    This is how TRL's RewardTrainer (1.x) encodes a pair, so a model trained
    there is scored on the inputs it saw. The end-of-sequence token is added
    where the tokenizer has one and the response does not end with it. An
    over-long text loses tokens from its start, the prompt's, as in
    ``tokenize_ranking``.
    """
    eos = tokenizer.eos_token or ""
    texts = [
        prompt + response + (eos if eos and not response.endswith(eos) else "")
        for response in responses
    ]
    previous_side = tokenizer.truncation_side
    tokenizer.truncation_side = "left"
    try:
        encoded = tokenizer(texts, truncation=True, max_length=max_length)
    finally:
        tokenizer.truncation_side = previous_side
    return _example(encoded["input_ids"], edges, edge_weights, utility_index)


def tokenize_responses(encoding: str, *args, **kwargs) -> dict[str, Any]:
    """Tokenize with the named encoding: ``pair`` (text pairs) or ``concat``."""
    if encoding == "pair":
        return tokenize_ranking(*args, **kwargs)
    if encoding == "concat":
        return tokenize_concatenated(*args, **kwargs)
    raise ValueError(
        f"encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}"
    )


def _example(input_ids, edges, edge_weights, utility_index) -> dict[str, Any]:
    # The fields every tokenized prompt has, whatever its encoding.
    return {
        "input_ids": input_ids,
        "edges": [list(map(int, e)) for e in edges],
        "edge_weights": (
            [1.0] * len(edges)
            if edge_weights is None
            else list(map(float, edge_weights))
        ),
        "utility_index": int(utility_index),
    }


def _cut_response(tokenizer, response: str, max_length: int) -> str:
    limit = (3 * max_length) // 4 - tokenizer.num_special_tokens_to_add(pair=True)
    encoded = tokenizer(response, add_special_tokens=False, return_offsets_mapping=True)
    offsets = encoded["offset_mapping"]
    if len(offsets) <= limit:
        return response
    return response[: offsets[max(limit, 1) - 1][1]]


class RankingCollator:
    """Pad a list of tokenized ranked prompts into one batch (layout above)."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        rows: list[list[int]] = []
        types: list[list[int]] = []
        response_prompt: list[int] = []
        edges: list[list[int]] = []
        edge_prompt: list[int] = []
        edge_weight: list[float] = []
        prompt_utility: list[int] = []
        has_types = all("token_type_ids" in ex for ex in examples)

        for p, ex in enumerate(examples):
            offset = len(rows)
            rows.extend(ex["input_ids"])
            if has_types:
                types.extend(ex["token_type_ids"])
            response_prompt.extend([p] * len(ex["input_ids"]))
            edges.extend([[offset + b, offset + w] for b, w in ex["edges"]])
            edge_prompt.extend([p] * len(ex["edges"]))
            edge_weight.extend(ex["edge_weights"])
            prompt_utility.append(ex["utility_index"])

        # Pad every row to the longest row of this batch, not a global length.
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        token_type_ids = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            attention_mask[i, : len(row)] = 1
            if has_types:
                token_type_ids[i, : len(row)] = torch.tensor(types[i], dtype=torch.long)

        batch = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "response_prompt": torch.tensor(response_prompt, dtype=torch.long),
            "edges": torch.tensor(edges, dtype=torch.long).reshape(-1, 2),
            "edge_prompt": torch.tensor(edge_prompt, dtype=torch.long),
            "edge_weight": torch.tensor(edge_weight, dtype=torch.float32),
            "prompt_utility": torch.tensor(prompt_utility, dtype=torch.long),
        }
        if has_types:
            batch["token_type_ids"] = token_type_ids
        if all("source" in ex for ex in examples):
            # Where each prompt came from (file and line), for error messages.
            batch["sources"] = [ex["source"] for ex in examples]
        return batch
