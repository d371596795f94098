"""Reference solution: an LSTM cell, a GRU cell and a one-layer LSTM over a sequence, as torch computes them."""

from __future__ import annotations

import torch


def _affine(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    out = x @ w.T  # w is (k * H, in): one row per output unit, as nn.Linear stores it
    return out if b is None else out + b


def lstm_cell(x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None, w_ih: torch.Tensor,
              w_hh: torch.Tensor, b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    unbatched = x.dim() == 1
    if unbatched:  # a single sample: work on a batch of one, then drop the batch dim again
        x = x.unsqueeze(0)
        state = None if state is None else (state[0].unsqueeze(0), state[1].unsqueeze(0))
    hidden = w_hh.shape[1]
    if state is None:
        zeros = x.new_zeros(x.shape[0], hidden)
        state = (zeros, zeros)
    h, c = state
    gates = _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=1)  # nn.LSTMCell's order: input, forget, cell (candidate), output
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_next = torch.sigmoid(o) * torch.tanh(c_next)
    if unbatched:
        return h_next.squeeze(0), c_next.squeeze(0)
    return h_next, c_next


def gru_cell(x: torch.Tensor, h: torch.Tensor | None, w_ih: torch.Tensor, w_hh: torch.Tensor,
             b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None) -> torch.Tensor:
    unbatched = x.dim() == 1
    if unbatched:
        x = x.unsqueeze(0)
        h = None if h is None else h.unsqueeze(0)
    if h is None:
        h = x.new_zeros(x.shape[0], w_hh.shape[1])
    x_r, x_z, x_n = _affine(x, w_ih, b_ih).chunk(3, dim=1)
    h_r, h_z, h_n = _affine(h, w_hh, b_hh).chunk(3, dim=1)  # h_n already holds W_hn h + b_hn
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)  # the reset gate scales W_hn h + b_hn, after the matmul
    h_next = (1 - z) * n + z * h
    return h_next.squeeze(0) if unbatched else h_next


def lstm_sequence(x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None, w_ih: torch.Tensor,
                  w_hh: torch.Tensor, b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    step_state = None if state is None else (state[0][0], state[1][0])  # (1, B, H) -> (B, H)
    outputs = []
    for x_t in x:  # time first: x is (T, B, in)
        step_state = lstm_cell(x_t, step_state, w_ih, w_hh, b_ih, b_hh)
        outputs.append(step_state[0])
    h_n, c_n = step_state
    return torch.stack(outputs), (h_n, c_n)
