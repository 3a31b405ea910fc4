"""Condition tokens of latent diffusion: digit classes and short prompts.

``ClassTokens(context_dim, prefix_tokens=1)`` turns class labels y (N,) in 0..9, or
``NULL_CLASS`` (10, the "no condition" of classifier-free guidance), into the context
(N, prefix_tokens + 1, context_dim) that the UNet's cross-attention reads: ``prefix_tokens``
learned tokens shared by every sample followed by the class's learned token.

The tiny text encoder: ``parse_prompt(text)`` tokenises a prompt into words (lower case,
punctuation dropped) over a vocabulary where each digit and its number word are one token
(``"7"`` and ``"seven"`` -> 7); the words that name no number ("the", "digit", "number",
"a", ...) carry no condition and are dropped.  A prompt must name exactly one digit class, so
``"the digit seven"``, ``"Seven"`` and ``"7"`` give the same tokens and the same context.
"""
from __future__ import annotations

import re

import tinygrad_cv.nn as nn
from tinygrad_cv import backend
from tinygrad_cv.tensor import Tensor

__all__ = ["NUM_CLASSES", "NULL_CLASS", "NUMBER_WORDS", "FILLER_WORDS", "ClassTokens",
           "parse_class", "parse_prompt", "tokenize"]

NUM_CLASSES = 10
NULL_CLASS = NUM_CLASSES
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FILLER_WORDS = ("the", "a", "an", "digit", "number", "numeral", "figure", "of", "image",
                "picture", "handwritten", "drawing")
VOCABULARY = {**{str(i): i for i in range(NUM_CLASSES)},
              **{w: i for i, w in enumerate(NUMBER_WORDS)}}


def tokenize(text):
    """The class tokens named by the words of ``text`` (fillers dropped), in order."""
    if not isinstance(text, str):
        raise ValueError(f"a prompt must be text, got {type(text).__name__}")
    words = re.findall(r"[a-z0-9]+", text.lower())
    tokens = []
    for word in words:
        if word in VOCABULARY:
            tokens.append(VOCABULARY[word])
        elif word not in FILLER_WORDS:
            raise ValueError(f"unknown word {word!r} in prompt {text!r}; the vocabulary is the "
                             f"digits 0-9, the words {', '.join(NUMBER_WORDS)} and the fillers "
                             f"{', '.join(FILLER_WORDS)}")
    return tokens


def parse_prompt(text):
    """The digit class (0..9) a prompt names ("the digit seven", "7", "Seven!" -> 7)."""
    classes = sorted(set(tokenize(text)))
    if len(classes) != 1:
        what = "no digit" if not classes else f"several digits ({classes})"
        raise ValueError(f"prompt {text!r} names {what}; name exactly one digit class, e.g. "
                         "'the digit seven' or '7'")
    return classes[0]


def parse_class(value):
    """A class label 0..9 from an int or text ("7", "seven")."""
    if isinstance(value, bool):
        raise ValueError(f"expected a digit class 0-9, got {value!r}")
    if isinstance(value, int):
        label = value
    else:
        text = str(value).strip().lower()
        if text in NUMBER_WORDS:
            return NUMBER_WORDS.index(text)
        try:
            label = int(text)
        except ValueError:
            raise ValueError(f"expected a digit class 0-9 (or its name, e.g. seven), got "
                             f"{value!r}") from None
    if not 0 <= label < NUM_CLASSES:
        raise ValueError(f"class {label} is outside 0-9 (the digits classes)")
    return label


class ClassTokens(nn.Module):
    """y (N,) in 0..NUM_CLASSES (NULL_CLASS = unconditional) -> context (N, prefix + 1, D)."""

    def __init__(self, context_dim, prefix_tokens=1):
        super().__init__()
        self.context_dim, self.prefix_tokens = int(context_dim), int(prefix_tokens)
        self.tokens = nn.Embedding(NUM_CLASSES + 1 + self.prefix_tokens, self.context_dim)

    def forward(self, y):
        arr = y.array if isinstance(y, Tensor) else backend.ensure_array(y)
        arr = backend.to_device(arr, self.tokens.weight.device)
        xp = backend.get_array_module(arr)
        if arr.ndim != 1:
            raise ValueError(f"ClassTokens: expected labels of shape (N,), got {tuple(arr.shape)}")
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > NULL_CLASS):
            raise ValueError(f"ClassTokens: labels must lie in 0..{NULL_CLASS} ({NULL_CLASS}: "
                             "no condition)")
        prefix = NUM_CLASSES + 1 + xp.arange(self.prefix_tokens, dtype="int64")
        ids = xp.concatenate([xp.broadcast_to(prefix, (arr.shape[0], self.prefix_tokens)),
                              arr.astype("int64").reshape(-1, 1)], axis=1)
        return self.tokens(Tensor.wrap(ids))
