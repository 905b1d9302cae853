import json

import pytest

from rankreward.sotu_data import (
    CLOSED_LENGTHS,
    OPEN_LENGTHS,
    build_sotu_rankings,
    check_length_scale,
    read_jsonl,
    scaled_lengths,
    write_jsonl,
)


@pytest.fixture(scope="module")
def split():
    return build_sotu_rankings(200, 64, length_scale=1.0, seed=3)


def test_sizes_and_both_kinds_held_out(split):
    train, held = split
    assert len(train) == 200
    assert len(held) == 64
    assert {r["kind"] for r in held} == {"open", "closed"}


def test_responses_are_prefixes_best_first(split):
    train, _ = split
    for record in train[:50]:
        responses = record["responses"]
        assert len(responses) == 8
        words = [len(r.split()) for r in responses]
        lengths = OPEN_LENGTHS if record["kind"] == "open" else CLOSED_LENGTHS
        assert words == list(reversed(lengths))
        assert record["prefix_words"] == words
        for longer, shorter in zip(responses, responses[1:], strict=False):
            assert longer.startswith(shorter)


def test_prompt_names_speech_and_kind(split):
    train, _ = split
    for record in train[:50]:
        source = record["source"]
        assert (
            f"{source['president']}'s {source['year']} State of the Union"
            in record["prompt"]
        )
        sentence = (
            "This prompt is open-ended."
            if record["kind"] == "open"
            else "This prompt is closed-ended."
        )
        assert record["prompt"].endswith(sentence)


def test_paragraphs_are_distinct_and_split_disjoint(split):
    train, held = split
    keys = [json.dumps(r["source"], sort_keys=True) for r in train + held]
    assert len(set(keys)) == len(keys)


def test_seed_fixes_the_data():
    first = build_sotu_rankings(20, 4, seed=5)
    again = build_sotu_rankings(20, 4, seed=5)
    other = build_sotu_rankings(20, 4, seed=6)
    assert first == again
    assert first != other


def test_kinds_are_roughly_balanced():
    train, _ = build_sotu_rankings(2000, 64, seed=0)
    share = sum(r["kind"] == "open" for r in train) / len(train)
    assert 0.45 < share < 0.55


def test_scaled_lengths():
    assert scaled_lengths("open", 0.5) == (5, 10, 15, 20, 25, 30, 35, 40)
    assert scaled_lengths("closed", 0.5) == (8, 11, 14, 17, 28, 31, 34, 37)
    with pytest.raises(ValueError, match="makes two prefix lengths equal"):
        scaled_lengths("closed", 0.05)


def test_length_scale_must_fit_shortest_paragraph():
    assert check_length_scale(1.25) == 100
    with pytest.raises(ValueError, match="prefixes of 240 words, longer than"):
        check_length_scale(3)


def test_too_many_prompts_rejected():
    with pytest.raises(ValueError, match="the corpus gives .* passages of 80 words"):
        build_sotu_rankings(100000, 64)


def test_later_passages_fill_large_requests():
    # The corpus has about 6,600 paragraphs of 100+ words; 8,192 prompts
    # need later 80-word passages of the training paragraphs.
    train, held = build_sotu_rankings(8192, 64, length_scale=1.0)
    assert len(train) == 8192
    offsets = [r["source"]["word_offset"] for r in train]
    assert max(offsets) >= 80
    assert all(offset % 80 == 0 for offset in offsets)
    assert len({r["id"] for r in train + held}) == len(train) + len(held)
    held_paragraphs = {(r["source"]["address"], r["source"]["paragraph"]) for r in held}
    train_paragraphs = {
        (r["source"]["address"], r["source"]["paragraph"]) for r in train
    }
    assert not held_paragraphs & train_paragraphs
    later = next(r for r in train if r["source"]["word_offset"] > 0)
    assert len(later["responses"][0].split()) == 80


def test_jsonl_round_trip(tmp_path, split):
    train, _ = split
    path = tmp_path / "sub" / "train.jsonl"
    write_jsonl(train[:5], path)
    assert read_jsonl(path) == train[:5]
    assert not (tmp_path / "sub" / "train.jsonl.tmp").exists()
