"""Exercise: an LSTM classifier for padded batches of variable-length sequences.

Sequences of different lengths are padded to one length to form a batch. A correct model gives each
sequence the same output whatever padding surrounds it: pack the batch with
``torch.nn.utils.rnn.pack_padded_sequence`` so the LSTM stops at each sequence's real end, and classify
from the last real hidden state.
"""

from __future__ import annotations

import torch
from torch import nn


class LSTMClassifier(nn.Module):
    """Embedding -> LSTM over packed sequences -> linear classifier on the final hidden state.

    ``__init__(vocab_size, embed_dim, hidden_size, num_classes, num_layers=1, bidirectional=False,
    padding_idx=0)`` creates exactly these attributes (the tests load the reference's ``state_dict``
    with ``strict=True``):

    - ``self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)``
    - ``self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
      bidirectional=bidirectional)`` (no dropout)
    - ``self.fc = nn.Linear(hidden_size * D, num_classes)`` where ``D = 2`` if bidirectional else ``1``

    ``forward(tokens, lengths)``:

    - ``tokens``: int64 tensor ``(B, T)``, batch first. Row ``i`` holds a sequence of ``lengths[i]`` real
      tokens followed by ``T - lengths[i]`` padding tokens (``padding_idx``). ``B >= 1``.
    - ``lengths``: int64 CPU tensor ``(B,)`` with ``1 <= lengths[i] <= T``, in any order (not sorted).
    - Returns float32 logits ``(B, num_classes)``; row ``i`` depends only on sequence ``i``'s real tokens:
      not on how much padding follows it, nor on the other sequences or their order in the batch.
    - Pack the embedded batch with ``pack_padded_sequence(..., batch_first=True, enforce_sorted=False)``
      and take the final hidden state ``h_n`` of the LSTM's **top layer**: for each sequence this is the
      state after its last real token. If bidirectional, concatenate the top layer's forward-direction
      state and then its backward-direction state (the backward direction ends at the first token), in
      that order, along the feature dimension. Apply ``self.fc`` to that (no softmax).
    - Do not modify ``tokens`` or ``lengths``.
    """

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
        raise NotImplementedError

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
