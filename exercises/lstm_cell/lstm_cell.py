"""An LSTM cell, a GRU cell and a one-layer LSTM over a sequence, by hand, computing what torch's own compute.

Write them with matrix products, ``torch.sigmoid``, ``torch.tanh`` and elementwise arithmetic: no ``nn.LSTM``,
``nn.LSTMCell``, ``nn.GRUCell`` or ``torch._VF``. The weights come in the layout torch stores them in, so a
cell's parameters can be passed straight in (``cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh``),
and the grader compares your outputs, and the gradients of a loss of them with respect to the inputs, the state
and every weight, with nn.LSTMCell, nn.GRUCell and nn.LSTM given the same weights, in float32 and float64.

Shapes: ``B`` the batch, ``I`` the input size, ``H`` the hidden size (read it from ``w_hh``, which is
``(k * H, H)``). Nothing here modifies its arguments; outputs have ``x``'s dtype.
"""

from __future__ import annotations

import torch


def lstm_cell(x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None, w_ih: torch.Tensor,
              w_hh: torch.Tensor, b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step, as ``nn.LSTMCell``: returns ``(h', c')``.

    Args:
        x: ``(B, I)``, or ``(I,)`` for a single unbatched sample.
        state: ``(h, c)``, each ``(B, H)`` (``(H,)`` when x is unbatched); None means zeros for both.
        w_ih: ``(4H, I)``; w_hh: ``(4H, H)``; b_ih, b_hh: ``(4H,)`` or None (no bias). The 4H rows are four
            blocks of H in the order **i, f, g, o** (input gate, forget gate, cell candidate, output gate),
            as nn.LSTMCell stores ``weight_ih``, ``weight_hh``, ``bias_ih`` and ``bias_hh``.

    With ``gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh`` split into its four blocks::

        i = sigmoid(gates_i)   f = sigmoid(gates_f)   g = tanh(gates_g)   o = sigmoid(gates_o)
        c' = f * c + i * g
        h' = o * tanh(c')

    Returns:
        ``(h', c')``, each ``(B, H)``, or ``(H,)`` for an unbatched x (no batch dim added).
    """
    raise NotImplementedError


def gru_cell(x: torch.Tensor, h: torch.Tensor | None, w_ih: torch.Tensor, w_hh: torch.Tensor,
             b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None) -> torch.Tensor:
    """One GRU step, as ``nn.GRUCell``: returns ``h'``.

    Args:
        x: ``(B, I)`` or ``(I,)``. h: ``(B, H)`` (``(H,)`` when unbatched), None means zeros.
        w_ih: ``(3H, I)``; w_hh: ``(3H, H)``; b_ih, b_hh: ``(3H,)`` or None. Blocks in the order **r, z, n**
            (reset gate, update gate, candidate), as nn.GRUCell stores them.

    As nn.GRUCell computes it (the reset gate multiplies the hidden part *after* its matmul, bias included)::

        r = sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
        z = sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
        n = tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
        h' = (1 - z) * n + z * h

    Returns:
        ``h'``, ``(B, H)``, or ``(H,)`` for an unbatched x.
    """
    raise NotImplementedError


def lstm_sequence(x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None, w_ih: torch.Tensor,
                  w_hh: torch.Tensor, b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """A one-layer LSTM over a whole sequence, as ``nn.LSTM(I, H)`` (batch_first=False) with these weights.

    Args:
        x: ``(T, B, I)``, time first, ``T >= 1``.
        state: ``(h_0, c_0)``, each ``(1, B, H)`` (nn.LSTM's (num_layers, B, H)); None means zeros.
        w_ih, w_hh, b_ih, b_hh: as in ``lstm_cell`` (nn.LSTM's ``weight_ih_l0`` ... ``bias_hh_l0``).

    Step t applies the LSTM cell to ``x[t]`` and the state that step t - 1 produced (step 0 starts from
    ``state``).

    Returns:
        ``(outputs, (h_n, c_n))``: ``outputs`` ``(T, B, H)`` holds h after every step (``outputs[t]`` is h after
        step t); ``h_n`` and ``c_n`` are the state after the last step, each ``(1, B, H)``, as nn.LSTM returns.
    """
    raise NotImplementedError
