# MUTANT: skips packing and classifies from the output at the last padded time step
"""Reference solution: an LSTM classifier over padded, variable-length batches."""

from __future__ import annotations

import torch
from torch import nn


class LSTMClassifier(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_classes: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        padding_idx: int = 0,
    ) -> None:
        super().__init__()
        # padding_idx: that row starts at zero and never receives a gradient.
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.lstm = nn.LSTM(
            embed_dim, hidden_size, num_layers=num_layers, batch_first=True, bidirectional=bidirectional
        )
        num_directions = 2 if bidirectional else 1
        self.fc = nn.Linear(hidden_size * num_directions, num_classes)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        embedded = self.embedding(tokens)  # (B, T, E)
        output, _ = self.lstm(embedded)  # (B, T, D * H), padding included
        # The last column is padding for every sequence shorter than T.
        return self.fc(output[:, -1, :])
