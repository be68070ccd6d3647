"""A character-level language model (a small GRU) on public-domain text that ships with
lrkit (``problems/data/public_domain.txt``: the US Declaration of Independence, the
Preamble to the Constitution, and Lincoln's Gettysburg and Second Inaugural addresses,
about 14 KB). The first 90% of the characters train, the last 10% are held out; the loss
is the mean cross-entropy per character in nats. Training backpropagates through windows of
16 characters (the recurrence is sequential, so the window length sets the cost of a step),
64 windows per batch."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import torch
from torch import nn

from lrkit.problems._common import held_out_loss, seeded
from lrkit.problems.base import Problem

SEQUENCE_LENGTH = 16
BATCH_SIZE = 64
HELD_OUT_FRACTION = 0.1


def load_text() -> str:
    """The text of the ``char-lm`` problem."""
    return resources.files("lrkit.problems").joinpath("data/public_domain.txt").read_text("utf-8")


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    text = load_text()
    vocabulary = sorted(set(text))
    index = {char: i for i, char in enumerate(vocabulary)}
    codes = torch.tensor([index[char] for char in text], dtype=torch.int64)
    cut = int(len(codes) * (1 - HELD_OUT_FRACTION))
    held_out = codes[cut:]
    n_windows = (len(held_out) - 1) // SEQUENCE_LENGTH
    windows = held_out[: n_windows * SEQUENCE_LENGTH + 1]
    inputs = windows[:-1].view(n_windows, SEQUENCE_LENGTH)
    targets = windows[1:].view(n_windows, SEQUENCE_LENGTH)
    return {
        "vocabulary": vocabulary,
        "train": codes[:cut],
        "held_out": (inputs, targets),
    }


class CharGRU(nn.Module):
    """Embedding (32) -> one GRU layer (64 units) -> logits over the characters."""

    def __init__(self, vocabulary_size: int, embedding: int = 32, hidden: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocabulary_size, embedding)
        self.gru = nn.GRU(embedding, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocabulary_size)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.gru(self.embed(codes))
        return self.head(hidden)


def _model(seed: int) -> nn.Module:
    size = len(_data()["vocabulary"])
    return seeded(seed, lambda: CharGRU(size))


def _loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    inputs, targets = batch
    logits = model(inputs)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def _batches(seed: int) -> Any:
    """Random windows of the training text, start positions drawn from a seeded generator."""
    codes = _data()["train"]
    generator = torch.Generator().manual_seed(int(seed))
    offsets = torch.arange(SEQUENCE_LENGTH + 1)
    while True:
        starts = torch.randint(
            0, len(codes) - SEQUENCE_LENGTH - 1, (BATCH_SIZE, 1), generator=generator
        )
        windows = codes[starts + offsets]
        yield windows[:, :-1], windows[:, 1:]


def _adam(params: Any, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr)


def _evaluate(model: nn.Module) -> float:
    return held_out_loss(model, _loss, _data()["held_out"])


def make_char_lm() -> Problem:
    """The ``char-lm`` problem."""
    return Problem(
        name="char-lm",
        description="character-level GRU language model on 14 KB of public-domain text, Adam",
        make_model=_model,
        make_optimizer=_adam,
        loss_fn=_loss,
        batches=_batches,
        evaluate=_evaluate,
        steps=200,
        default_lr=1e-3,
        optimizer="adam",
        tags=("sequence", "recurrent", "language-model"),
    )
