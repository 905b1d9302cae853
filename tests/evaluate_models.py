"""Tiny reward models for the evaluate and score tests, saved to a folder.

``save_length_model`` builds a one-layer BERT whose weights are set by hand
so that its score is a known, increasing function of the share of response
tokens in the (prompt, response) pair. ``length_model_score`` computes that
function without the model, so tests can check the commands' numbers
against it.

How the weights give the score (hidden size 4, LayerNorm eps ``EPS``):

1. Word and position embeddings are 0, so a token's embedding is its
   token-type row: ``[1, -1, 0, 0]`` for the prompt (type 0, with [CLS] and
   the first [SEP]) and ``[0, 0, 1, -1]`` for the response (type 1, with the
   last [SEP]). The embedding LayerNorm scales both by sqrt(2): u and v.
2. Queries and keys are 0, so attention is uniform over the real tokens,
   and the values are the identity. [CLS] gets ``u + (1 - f) u + f v``,
   with f the share of type-1 tokens, and LayerNorm normalises it to h.
3. The feed-forward block outputs 0, so h passes through unchanged.
4. The pooler gives ``tanh(h[2])``, and the classifier copies it.

So ``score = tanh(h[2])`` with ``h`` the normalised ``[2 - f, f - 2, f, -f]``.
It rises with f, so of two responses to one prompt the one with more tokens
scores higher, and responses of equal token count tie exactly.
"""

from __future__ import annotations

import json
import math

EPS = 1e-12
POSITIONS = 128


def tokenizer_path() -> str:
    from rankreward.model import default_model_path

    return default_model_path()


def save_length_model(folder, chat_template: str | None = None) -> str:
    """Save the length model and MiniLM's tokenizer to ``folder``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path())
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=4,
        num_hidden_layers=1,
        num_attention_heads=1,
        intermediate_size=4,
        max_position_embeddings=POSITIONS,
        num_labels=1,
        layer_norm_eps=EPS,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        embeddings = model.bert.embeddings
        embeddings.token_type_embeddings.weight[0] = torch.tensor([1.0, -1, 0, 0])
        embeddings.token_type_embeddings.weight[1] = torch.tensor([0.0, 0, 1, -1])
        embeddings.LayerNorm.weight.fill_(1.0)
        layer = model.bert.encoder.layer[0]
        layer.attention.self.value.weight.copy_(torch.eye(4))
        layer.attention.output.dense.weight.copy_(torch.eye(4))
        layer.attention.output.LayerNorm.weight.fill_(1.0)
        layer.output.LayerNorm.weight.fill_(1.0)
        model.bert.pooler.dense.weight[0, 2] = 1.0
        model.classifier.weight[0, 0] = 1.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def length_model_score(tokenizer, prompt: str, response: str) -> float:
    """The length model's score for a pair short enough to need no truncation."""
    types = tokenizer(prompt, response)["token_type_ids"]
    f = sum(types) / len(types)
    h = [2 - f, f - 2, f, -f]
    mean = sum(h) / 4
    variance = sum((x - mean) ** 2 for x in h) / 4
    return math.tanh((h[2] - mean) / math.sqrt(variance + EPS))


def save_base_model(folder) -> str:
    """Save a BertModel checkpoint, which has no sequence-classification head."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=4,
        num_hidden_layers=1,
        num_attention_heads=1,
        intermediate_size=4,
        max_position_embeddings=POSITIONS,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def save_two_label_model(folder) -> str:
    """Save a two-label classifier, which is not a reward model."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=4,
        num_hidden_layers=1,
        num_attention_heads=1,
        intermediate_size=4,
        max_position_embeddings=POSITIONS,
        num_labels=2,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def write_jsonl(path, records) -> str:
    """Write records as JSONL and return the path as text."""
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return str(path)


# A plain template: each message as "role: content" on its own line, and
# "assistant:" as the generation prompt.
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)
