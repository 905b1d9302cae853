"""Rendering conversational preference groups to text with a chat template."""

from __future__ import annotations

import dataclasses

from rankreward.preference_data import PreferenceGroup
from rankreward.preference_errors import DataError


def render_chat(group: PreferenceGroup, tokenizer) -> PreferenceGroup:
    """Return the group with its conversations rendered by the tokenizer's template.

    The prompt becomes ``apply_chat_template(prompt)`` with the generation
    prompt (the assistant header) where the template writes one. Each
    response becomes the text that ``apply_chat_template(prompt + response)``
    adds after that prompt text, so that prompt text plus response text is
    the rendered conversation. A group of plain texts is returned unchanged.

    Raises ``ValueError`` if the tokenizer has no chat template, and
    ``DataError`` if the template does not render the prompt as the start of
    each whole conversation, because the response text cannot then be cut
    out.
    """
    if isinstance(group.prompt, str):
        return group
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            "the tokenizer has no chat template, so conversations cannot be "
            "rendered; set tokenizer.chat_template or give the data as text"
        )
    whole = [
        tokenizer.apply_chat_template(group.prompt + list(response), tokenize=False)
        for response in group.responses
    ]
    # Templates differ on whether the generation prompt matches the header of
    # a rendered assistant turn, so the prompt is tried with it, then without.
    for generation_prompt in (True, False):
        prompt = tokenizer.apply_chat_template(
            group.prompt, tokenize=False, add_generation_prompt=generation_prompt
        )
        if all(text.startswith(prompt) for text in whole):
            break
    else:
        raise DataError(
            f"{group.source}: the chat template does not render the prompt as the "
            "start of the prompt plus a response, so the response text cannot be "
            "cut out; use a template whose output for a prefix of a conversation "
            "starts the output for the whole conversation"
        )
    responses = tuple(text[len(prompt) :] for text in whole)
    for position, text in enumerate(responses):
        if not text.strip():
            raise DataError(
                f"{group.source}: response {position} renders to no text after the "
                "prompt; check that the chat template writes assistant turns"
            )
    return dataclasses.replace(group, prompt=prompt, responses=responses)
