"""Reference solution: an LSTM classifier over padded, variable-length batches."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


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
        # Packing makes the LSTM stop at each sequence's real end, so padding never enters the state.
        # enforce_sorted=False sorts internally and puts h_n back in the batch's original order.
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        # h_n: (num_layers * num_directions, B, H), layers stacked, directions inside each layer. With a
        # packed input it holds each sequence's state at its last real step (for the backward direction:
        # after reading back to the first token).
        if self.lstm.bidirectional:
            last = torch.cat([h_n[-2], h_n[-1]], dim=1)  # top layer: forward, then backward
        else:
            last = h_n[-1]  # top layer
        return self.fc(last)
