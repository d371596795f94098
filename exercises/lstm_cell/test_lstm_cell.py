"""Grading tests for the lstm_cell exercise. First hand-built cells that isolate one part of the arithmetic each
(weights zero, biases chosen per gate: the forget and input gates, the order of the four blocks, h = o * tanh(c),
both biases; GRU's reset gate after the hidden matmul, its bias, the update gate), then outputs and gradients
with respect to the inputs, the state and every weight, compared with nn.LSTMCell, nn.GRUCell and nn.LSTM given
the same weights, in float32 and float64, for several seeds and sizes, batched and unbatched, with and without a
state and biases."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from quiz.grading.scenario import observe

f64 = torch.float64
DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["float32", "float64"]
SIZES = [(3, 5, 4, 1), (1, 2, 7, 2), (8, 6, 3, 3)]  # (B, I, H, seed)
SIZE_IDS = ["B3-I5-H4", "B1-I2-H7", "B8-I6-H3"]
LN3 = math.log(3.0)  # sigmoid(ln 3) = 0.75, sigmoid(-ln 3) = 0.25
LSTM = ("gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh in blocks i, f, g, o; c' = sigmoid(f) * c + sigmoid(i) * "
        "tanh(g); h' = sigmoid(o) * tanh(c'), as nn.LSTMCell")
GRU = ("r, z from sigmoid, n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)), h' = (1 - z) * n + z * h, blocks "
       "r, z, n, as nn.GRUCell")


def _randn(seed: int, *shape: int, dtype=torch.float32, scale: float = 1.0) -> torch.Tensor:
    return (scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=f64)).to(dtype)


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _weights(seed: int, gates: int, i: int, h: int, dtype, bias: bool = True) -> list[torch.Tensor | None]:
    """[w_ih, w_hh, b_ih, b_hh] for ``gates`` blocks (4 for LSTM, 3 for GRU), random, or None biases."""
    out = [_randn(seed, gates * h, i, dtype=dtype, scale=0.6), _randn(seed + 1, gates * h, h, dtype=dtype, scale=0.6)]
    out += [_randn(seed + 2, gates * h, dtype=dtype, scale=0.5), _randn(seed + 3, gates * h, dtype=dtype, scale=0.5)] \
        if bias else [None, None]
    return out


def _module(kind, weights: list[torch.Tensor | None], names: list[str]) -> nn.Module:
    """A torch cell or LSTM holding exactly ``weights`` (cloned into its parameters)."""
    w_ih, w_hh, b_ih, _ = weights
    hidden = w_hh.shape[1]
    module = kind(w_ih.shape[1], hidden, bias=b_ih is not None).to(w_ih.dtype)
    with torch.no_grad():
        for name, value in zip(names, weights, strict=True):
            if value is not None:
                getattr(module, name).copy_(value)
    return module


def _lstm_cell(weights):
    return _module(nn.LSTMCell, weights, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"])


def _gru_cell(weights):
    return _module(nn.GRUCell, weights, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"])


def _lstm(weights):
    return _module(nn.LSTM, weights, ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"])


def _blocks(*blocks: list[float], dtype=f64) -> torch.Tensor:
    return torch.tensor([value for block in blocks for value in block], dtype=dtype)


def _zero_weights(gates: int, i: int, h: int, b_ih: torch.Tensor, b_hh: torch.Tensor | None = None):
    b_hh = torch.zeros(gates * h, dtype=f64) if b_hh is None else b_hh
    return [torch.zeros(gates * h, i, dtype=f64), torch.zeros(gates * h, h, dtype=f64), b_ih, b_hh]


def _leaves(*tensors: torch.Tensor | None) -> list[torch.Tensor | None]:
    return [None if t is None else t.detach().clone().requires_grad_() for t in tensors]


def _grads(tensors) -> list[torch.Tensor | None]:
    return [None if t is None else t.grad for t in tensors]


# Shared inputs of the hand-built cells: every call gets clones, so a submission that writes into its arguments
# (checked where the random cells are compared with torch's) cannot change the inputs of later tests.
H0 = torch.tensor([[0.3, -0.6], [1.0, 0.2]], dtype=f64)
C0 = torch.tensor([[2.0, -1.0], [0.5, 1.5]], dtype=f64)
X0 = torch.tensor([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]], dtype=f64)


# --- lstm_cell ----------------------------------------------------------------------------------------------

@pytest.mark.task("lstm_cell")
def test_lstm_cell_forget_and_input_gates(impl) -> None:
    # Blocks i, f, g, o: i = sigmoid(ln 3) = 0.75, f = 0.25, and g's block equal to o's, so only f and i matter.
    weights = _zero_weights(4, 3, 2, _blocks([LN3, LN3], [-LN3, -LN3], [0.3, -0.8], [0.3, -0.8]))
    _, c = impl.lstm_cell(X0.clone(), (H0.clone(), C0.clone()), *weights)
    _, c_nn = _lstm_cell(weights)(X0, (H0, C0))
    observe("c' of an LSTM cell with zero weights, bias blocks i = ln 3, f = -ln 3, g = o = [0.3, -0.8], "
            "c = [[2, -1], [0.5, 1.5]]", c, expect=c_nn,
            explain="c' = f * c + i * g: the forget gate (rows H:2H, here sigmoid(-ln 3) = 0.25) scales the old c, "
                    "the input gate (rows 0:H, 0.75) scales g = tanh(g block)")


@pytest.mark.task("lstm_cell")
def test_lstm_cell_gate_order(impl) -> None:
    weights = _zero_weights(4, 3, 2, _blocks([0.4, -0.3], [-0.2, 0.9], [1.5, -0.7], [-1.0, 2.0]))
    _, c = impl.lstm_cell(X0.clone(), (H0.clone(), C0.clone()), *weights)
    _, c_nn = _lstm_cell(weights)(X0, (H0, C0))
    observe("c' of an LSTM cell with zero weights and a different bias in each block (i, f, g, o = [0.4, -0.3], "
            "[-0.2, 0.9], [1.5, -0.7], [-1, 2])", c, expect=c_nn,
            explain="the 4H rows are the blocks i, f, g, o in that order (nn.LSTMCell's layout): g is the third "
                    "block, through tanh, and o the fourth; c' = sigmoid(b_f) * c + sigmoid(b_i) * tanh(b_g)")


@pytest.mark.task("lstm_cell")
def test_lstm_cell_h_is_o_times_tanh_c(impl) -> None:
    weights = _zero_weights(4, 3, 2, _blocks([1.0, 2.0], [1.5, 0.5], [2.0, -1.5], [0.0, 1.0]))
    h, _ = impl.lstm_cell(X0.clone(), (H0.clone(), C0.clone()), *weights)
    h_nn, _ = _lstm_cell(weights)(X0, (H0, C0))
    observe("h' of an LSTM cell with zero weights, bias blocks i, f, g, o = [1, 2], [1.5, 0.5], [2, -1.5], [0, 1]", h,
            expect=h_nn, explain="h' = o * tanh(c'): the output gate times tanh of the NEW cell state (not c' itself)")


@pytest.mark.task("lstm_cell")
def test_lstm_cell_adds_both_biases(impl) -> None:
    b_ih = _blocks([0.5, -0.5], [0.2, 0.1], [-0.4, 0.8], [0.3, -0.2])
    b_hh = _blocks([-1.0, 0.6], [0.7, -0.3], [1.1, 0.2], [-0.5, 0.9])
    weights = _zero_weights(4, 3, 2, b_ih, b_hh)
    h, c = impl.lstm_cell(X0.clone(), (H0.clone(), C0.clone()), *weights)
    h_nn, c_nn = _lstm_cell(weights)(X0, (H0, C0))
    observe("(h', c') of an LSTM cell with zero weights and both b_ih and b_hh nonzero", [h, c], expect=[h_nn, c_nn],
            explain="gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh: both biases are added (nn.LSTMCell has two)")


@pytest.mark.task("lstm_cell")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_lstm_cell_matches_nn_lstm_cell(impl, dtype, size) -> None:
    b, i, hidden, seed = size
    weights = _weights(10 * seed, 4, i, hidden, dtype)
    x, h0, c0 = _randn(seed, b, i, dtype=dtype), _randn(seed + 1, b, hidden, dtype=dtype), \
        _randn(seed + 2, b, hidden, dtype=dtype, scale=2.0)
    before = [t.clone() for t in (x, h0, c0, *weights)]
    h, c = impl.lstm_cell(x, (h0, c0), *weights)
    h_nn, c_nn = _lstm_cell(weights)(x, (h0, c0))
    where = f"x ({b}, {i}), H = {hidden}, {_name(dtype)}"
    observe(f"h' of lstm_cell, {where}", h, expect=h_nn.detach(), explain=LSTM)
    observe(f"c' of lstm_cell, {where}", c, expect=c_nn.detach(), explain=LSTM)
    observe("x, h, c and the four weights after lstm_cell", [x, h0, c0, *weights], expect=before, exact=True,
            explain="lstm_cell modifies none of its arguments")


@pytest.mark.task("lstm_cell")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_lstm_cell_gradients(impl, dtype, size) -> None:
    b, i, hidden, seed = size
    weights = _weights(10 * seed + 5, 4, i, hidden, dtype)
    inputs = [_randn(seed + 3, b, i, dtype=dtype), _randn(seed + 4, b, hidden, dtype=dtype),
              _randn(seed + 5, b, hidden, dtype=dtype)]
    u, v = _randn(seed + 6, b, hidden, dtype=dtype), _randn(seed + 7, b, hidden, dtype=dtype)
    ours = _leaves(*inputs, *weights)
    h, c = impl.lstm_cell(ours[0], (ours[1], ours[2]), *ours[3:])
    ((u * h).sum() + (v * c).sum()).backward()
    cell = _lstm_cell(weights)
    theirs = _leaves(*inputs)
    h_nn, c_nn = cell(theirs[0], (theirs[1], theirs[2]))
    ((u * h_nn).sum() + (v * c_nn).sum()).backward()
    where = f"sum(u * h') + sum(v * c') for x ({b}, {i}), H = {hidden}, {_name(dtype)}"
    observe(f"gradients of {where} w.r.t. x, h and c", _grads(ours[:3]), expect=_grads(theirs),
            explain="the gradients reach the input and both parts of the state, as through nn.LSTMCell")
    observe(f"gradients of {where} w.r.t. w_ih, w_hh, b_ih, b_hh", _grads(ours[3:]),
            expect=[cell.weight_ih.grad, cell.weight_hh.grad, cell.bias_ih.grad, cell.bias_hh.grad],
            explain="the weights' gradients equal nn.LSTMCell's weight_ih.grad, weight_hh.grad, bias_ih.grad, "
                    "bias_hh.grad")


@pytest.mark.task("lstm_cell")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_lstm_cell_zero_state_and_no_bias(impl, dtype) -> None:
    weights = _weights(40, 4, 5, 4, dtype)
    x = _randn(41, 3, 5, dtype=dtype)
    h, c = impl.lstm_cell(x, None, *weights)
    h_nn, c_nn = _lstm_cell(weights)(x)
    observe(f"(h', c') of lstm_cell with state=None, x (3, 5), H = 4, {_name(dtype)}", [h, c],
            expect=[h_nn.detach(), c_nn.detach()], explain="state=None means h = c = zeros of shape (B, H)")
    weights = _weights(42, 4, 5, 4, dtype, bias=False)
    state = (_randn(43, 3, 4, dtype=dtype), _randn(44, 3, 4, dtype=dtype))
    h, c = impl.lstm_cell(x, state, *weights)
    h_nn, c_nn = _lstm_cell(weights)(x, state)
    observe(f"(h', c') of lstm_cell with b_ih = b_hh = None, {_name(dtype)}", [h, c],
            expect=[h_nn.detach(), c_nn.detach()], explain="no biases: as nn.LSTMCell(..., bias=False)")


@pytest.mark.task("lstm_cell")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_lstm_cell_unbatched(impl, dtype) -> None:
    weights = _weights(50, 4, 5, 3, dtype)
    x, state = _randn(51, 5, dtype=dtype), (_randn(52, 3, dtype=dtype), _randn(53, 3, dtype=dtype))
    cell = _lstm_cell(weights)
    h, c = impl.lstm_cell(x, state, *weights)
    h_nn, c_nn = cell(x, state)
    observe(f"(h', c') of lstm_cell for an unbatched x of shape (5,) and a state of shape (3,), {_name(dtype)}",
            [h, c], expect=[h_nn.detach(), c_nn.detach()],
            explain="an unbatched x (I,) with a state (H,) gives h' and c' of shape (H,), as nn.LSTMCell: no batch "
                    "dim added")
    h, c = impl.lstm_cell(x, None, *weights)
    h_nn, c_nn = cell(x)
    observe(f"(h', c') of lstm_cell for an unbatched x of shape (5,) with state=None, {_name(dtype)}",
            [h, c], expect=[h_nn.detach(), c_nn.detach()], explain="state=None is zeros of shape (H,) here")


# --- gru_cell -----------------------------------------------------------------------------------------------

@pytest.mark.task("gru_cell")
def test_gru_cell_reset_gate_after_the_hidden_matmul(impl) -> None:
    # Only W_hn is nonzero; r differs per unit, z = 0.5, b_hn = 0.
    w_hh = torch.zeros(6, 2, dtype=f64)
    w_hh[4:] = torch.tensor([[1.5, -2.0], [0.5, 1.0]], dtype=f64)
    weights = [torch.zeros(6, 3, dtype=f64), w_hh, _blocks([-2.0, 1.5], [0.0, 0.0], [0.3, -0.2]),
               torch.zeros(6, dtype=f64)]
    h = impl.gru_cell(X0.clone(), H0.clone(), *weights)
    observe("h' of a GRU cell where only W_hn is nonzero, r = sigmoid([-2, 1.5]) per unit, z = 0.5, b_hn = 0", h,
            expect=_gru_cell(weights)(X0, H0).detach(),
            explain="n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)): the reset gate multiplies the hidden part "
                    "AFTER the matmul, as nn.GRUCell, not h before it (W_hn (r * h) is the original paper's variant)")


@pytest.mark.task("gru_cell")
def test_gru_cell_reset_gate_scales_b_hn(impl) -> None:
    weights = _zero_weights(3, 3, 2, _blocks([-2.0, 1.5], [0.0, 0.0], [0.3, -0.2]),
                            _blocks([0.0, 0.0], [0.0, 0.0], [1.2, -0.9]))
    h = impl.gru_cell(X0.clone(), H0.clone(), *weights)
    observe("h' of a GRU cell with zero weights, r = sigmoid([-2, 1.5]), z = 0.5 and b_hn = [1.2, -0.9]", h,
            expect=_gru_cell(weights)(X0, H0).detach(),
            explain="the reset gate multiplies b_hn too: n = tanh(b_in + r * b_hn) here (b_hn sits inside "
                    "r * (h W_hn^T + b_hn), unlike b_in)")


@pytest.mark.task("gru_cell")
def test_gru_cell_update_gate(impl) -> None:
    weights = _zero_weights(3, 3, 2, _blocks([0.5, -0.5], [2.5, -1.0], [0.8, -1.5]))
    h = impl.gru_cell(X0.clone(), H0.clone(), *weights)
    observe("h' of a GRU cell with zero weights, z = sigmoid([2.5, -1]) per unit, h = [[0.3, -0.6], [1, 0.2]]", h,
            expect=_gru_cell(weights)(X0, H0).detach(),
            explain="h' = (1 - z) * n + z * h: an update gate near 1 (first unit, 0.92) keeps the old h, near 0 "
                    "(second unit, 0.27) takes mostly the candidate n")


@pytest.mark.task("gru_cell")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_gru_cell_matches_nn_gru_cell(impl, dtype, size) -> None:
    b, i, hidden, seed = size
    weights = _weights(10 * seed + 60, 3, i, hidden, dtype)
    x, h0 = _randn(seed + 60, b, i, dtype=dtype), _randn(seed + 61, b, hidden, dtype=dtype)
    before = [t.clone() for t in (x, h0, *weights)]
    h = impl.gru_cell(x, h0, *weights)
    observe(f"h' of gru_cell, x ({b}, {i}), H = {hidden}, {_name(dtype)}", h,
            expect=_gru_cell(weights)(x, h0).detach(), explain=GRU)
    observe("x, h and the four weights after gru_cell", [x, h0, *weights], expect=before, exact=True,
            explain="gru_cell modifies none of its arguments")


@pytest.mark.task("gru_cell")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_gru_cell_gradients(impl, dtype, size) -> None:
    b, i, hidden, seed = size
    weights = _weights(10 * seed + 70, 3, i, hidden, dtype)
    inputs = [_randn(seed + 70, b, i, dtype=dtype), _randn(seed + 71, b, hidden, dtype=dtype)]
    u = _randn(seed + 72, b, hidden, dtype=dtype)
    ours = _leaves(*inputs, *weights)
    (u * impl.gru_cell(ours[0], ours[1], *ours[2:])).sum().backward()
    cell = _gru_cell(weights)
    theirs = _leaves(*inputs)
    (u * cell(theirs[0], theirs[1])).sum().backward()
    where = f"sum(u * h') for x ({b}, {i}), H = {hidden}, {_name(dtype)}"
    observe(f"gradients of {where} w.r.t. x and h", _grads(ours[:2]), expect=_grads(theirs),
            explain="the gradients reach the input and the state, as through nn.GRUCell")
    observe(f"gradients of {where} w.r.t. w_ih, w_hh, b_ih, b_hh", _grads(ours[2:]),
            expect=[cell.weight_ih.grad, cell.weight_hh.grad, cell.bias_ih.grad, cell.bias_hh.grad],
            explain="the weights' gradients equal nn.GRUCell's weight_ih.grad, weight_hh.grad, bias_ih.grad, "
                    "bias_hh.grad")


@pytest.mark.task("gru_cell")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_gru_cell_zero_state_no_bias_unbatched(impl, dtype) -> None:
    weights = _weights(80, 3, 5, 4, dtype)
    x = _randn(81, 3, 5, dtype=dtype)
    observe(f"h' of gru_cell with h=None, x (3, 5), H = 4, {_name(dtype)}", impl.gru_cell(x, None, *weights),
            expect=_gru_cell(weights)(x).detach(), explain="h=None means zeros of shape (B, H)")
    plain = _weights(82, 3, 5, 4, dtype, bias=False)
    h0 = _randn(83, 3, 4, dtype=dtype)
    observe(f"h' of gru_cell with b_ih = b_hh = None, {_name(dtype)}", impl.gru_cell(x, h0, *plain),
            expect=_gru_cell(plain)(x, h0).detach(), explain="no biases: as nn.GRUCell(..., bias=False)")
    x1, h1 = _randn(84, 5, dtype=dtype), _randn(85, 4, dtype=dtype)
    observe(f"h' of gru_cell for an unbatched x of shape (5,) and h of shape (4,), {_name(dtype)}",
            impl.gru_cell(x1, h1, *weights), expect=_gru_cell(weights)(x1, h1).detach(),
            explain="an unbatched x (I,) with h (H,) gives h' of shape (H,), as nn.GRUCell")
    observe(f"h' of gru_cell for an unbatched x of shape (5,) with h=None, {_name(dtype)}",
            impl.gru_cell(x1, None, *weights), expect=_gru_cell(weights)(x1).detach(),
            explain="h=None is zeros of shape (H,) here")


# --- lstm_sequence ------------------------------------------------------------------------------------------

@pytest.mark.task("lstm_sequence")
def test_lstm_sequence_shapes(impl) -> None:
    weights = _weights(90, 4, 5, 6, torch.float32)
    state = (_randn(91, 1, 3, 6), _randn(92, 1, 3, 6))
    outputs, (h_n, c_n) = impl.lstm_sequence(_randn(93, 4, 3, 5), state, *weights)
    observe("shapes of outputs, h_n and c_n from lstm_sequence for x (T=4, B=3, I=5), H = 6",
            [tuple(outputs.shape), tuple(h_n.shape), tuple(c_n.shape)], expect=[(4, 3, 6), (1, 3, 6), (1, 3, 6)],
            explain="outputs is (T, B, H); h_n and c_n are (num_layers, B, H) = (1, B, H), as nn.LSTM returns them")


@pytest.mark.task("lstm_sequence")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("size", [(5, 3, 4, 6, 1), (1, 2, 3, 2, 2), (7, 1, 2, 5, 3)],
                         ids=["T5-B3-I4-H6", "T1-B2-I3-H2", "T7-B1-I2-H5"])
def test_lstm_sequence_matches_nn_lstm(impl, dtype, size) -> None:
    t, b, i, hidden, seed = size
    weights = _weights(10 * seed + 100, 4, i, hidden, dtype)
    x = _randn(seed + 100, t, b, i, dtype=dtype)
    state = (_randn(seed + 101, 1, b, hidden, dtype=dtype), _randn(seed + 102, 1, b, hidden, dtype=dtype))
    before = [tensor.clone() for tensor in (x, *state, *weights)]
    outputs, (h_n, c_n) = impl.lstm_sequence(x, state, *weights)
    outputs_nn, (h_n_nn, c_n_nn) = _lstm(weights)(x, state)
    where = f"x (T={t}, B={b}, I={i}), H = {hidden}, {_name(dtype)}"
    observe(f"outputs[0] of lstm_sequence, {where}", outputs[0], expect=outputs_nn[0].detach(),
            explain="outputs[0] is h after the first step, which starts from the given (h_0, c_0): " + LSTM)
    observe(f"outputs[1:] of lstm_sequence, {where}", outputs[1:], expect=outputs_nn[1:].detach(),
            explain="outputs[t] is h after step t, which starts from the (h, c) that step t - 1 produced: carry "
                    "both h and c from step to step, as nn.LSTM")
    observe(f"(h_n, c_n) of lstm_sequence, {where}", [h_n, c_n], expect=[h_n_nn.detach(), c_n_nn.detach()],
            explain="h_n and c_n are the state after the last step, shape (1, B, H)")
    observe("x, h_0, c_0 and the four weights after lstm_sequence", [x, *state, *weights], expect=before, exact=True,
            explain="lstm_sequence modifies none of its arguments")


@pytest.mark.task("lstm_sequence")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_lstm_sequence_gradients(impl, dtype) -> None:
    t, b, i, hidden = 5, 3, 4, 3
    weights = _weights(110, 4, i, hidden, dtype)
    inputs = [_randn(111, t, b, i, dtype=dtype), _randn(112, 1, b, hidden, dtype=dtype),
              _randn(113, 1, b, hidden, dtype=dtype)]
    u, v = _randn(114, t, b, hidden, dtype=dtype), _randn(115, 1, b, hidden, dtype=dtype)
    ours = _leaves(*inputs, *weights)
    outputs, (_, c_n) = impl.lstm_sequence(ours[0], (ours[1], ours[2]), *ours[3:])
    ((u * outputs).sum() + (v * c_n).sum()).backward()
    lstm = _lstm(weights)
    theirs = _leaves(*inputs)
    outputs_nn, (_, c_n_nn) = lstm(theirs[0], (theirs[1], theirs[2]))
    ((u * outputs_nn).sum() + (v * c_n_nn).sum()).backward()
    where = f"sum(u * outputs) + sum(v * c_n) for x (T={t}, B={b}, I={i}), H = {hidden}, {_name(dtype)}"
    observe(f"gradients of {where} w.r.t. x, h_0 and c_0", _grads(ours[:3]), expect=_grads(theirs),
            explain="backpropagation through time: the gradient of every step reaches x, h_0 and c_0, as through "
                    "nn.LSTM")
    observe(f"gradients of {where} w.r.t. w_ih, w_hh, b_ih, b_hh", _grads(ours[3:]),
            expect=[lstm.weight_ih_l0.grad, lstm.weight_hh_l0.grad, lstm.bias_ih_l0.grad, lstm.bias_hh_l0.grad],
            explain="the same weights are used at every step: their gradients sum over the steps, as nn.LSTM's")


@pytest.mark.task("lstm_sequence")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_lstm_sequence_zero_state_and_no_bias(impl, dtype) -> None:
    weights = _weights(120, 4, 3, 4, dtype)
    x = _randn(121, 6, 2, 3, dtype=dtype)
    outputs, (h_n, c_n) = impl.lstm_sequence(x, None, *weights)
    outputs_nn, (h_n_nn, c_n_nn) = _lstm(weights)(x)
    observe(f"outputs, h_n and c_n of lstm_sequence with state=None, x (6, 2, 3), H = 4, {_name(dtype)}",
            [outputs, h_n, c_n], expect=[outputs_nn.detach(), h_n_nn.detach(), c_n_nn.detach()],
            explain="state=None means h_0 = c_0 = zeros, as nn.LSTM without a state")
    plain = _weights(122, 4, 3, 4, dtype, bias=False)
    outputs, (h_n, c_n) = impl.lstm_sequence(x, None, *plain)
    outputs_nn, (h_n_nn, c_n_nn) = _lstm(plain)(x)
    observe(f"outputs, h_n and c_n of lstm_sequence with b_ih = b_hh = None, {_name(dtype)}", [outputs, h_n, c_n],
            expect=[outputs_nn.detach(), h_n_nn.detach(), c_n_nn.detach()],
            explain="no biases: as nn.LSTM(..., bias=False)")


# --- written by hand ----------------------------------------------------------------------------------------

def _torch_rnn_calls(monkeypatch) -> list[str]:
    calls: list[str] = []
    targets = [(torch, "lstm_cell"), (torch, "gru_cell"), (torch, "lstm"), (torch, "gru"),
               (torch._VF, "lstm_cell"), (torch._VF, "gru_cell"), (torch._VF, "lstm"), (torch._VF, "gru"),
               (nn.LSTMCell, "forward"), (nn.GRUCell, "forward"), (nn.LSTM, "forward"), (nn.GRU, "forward")]
    for owner, name in targets:
        original = getattr(owner, name)

        def spy(*args, _original=original, _name=f"{getattr(owner, '__name__', 'torch._VF')}.{name}", **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, spy)
    return calls


def _rnn_operators(call) -> list[str]:
    """The torch operators with lstm, gru or rnn in their name that ``call()`` runs, as torch.profiler records them
    (it sees torch.ops.aten.lstm_cell or a torch.lstm_cell bound at import time, which the spies above miss)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        call()
    return sorted({event.key for event in profile.key_averages()
                   if any(word in event.key.lower() for word in ("lstm", "gru", "rnn"))})


@pytest.mark.task("lstm_cell")
def test_lstm_cell_by_hand(impl, monkeypatch) -> None:
    weights = _weights(130, 4, 3, 2, f64)
    calls = _torch_rnn_calls(monkeypatch)
    operators = _rnn_operators(lambda: impl.lstm_cell(X0.clone(), (H0.clone(), C0.clone()), *weights))
    observe("calls into torch's LSTM / GRU implementations during lstm_cell", calls, expect=[],
            explain="written by hand with matmuls, sigmoid and tanh: no nn.LSTMCell, torch.lstm_cell or torch._VF")
    observe("torch operators named lstm, gru or rnn that ran during lstm_cell (torch.profiler)", operators, expect=[],
            explain="written by hand with matmuls, sigmoid and tanh: no aten::lstm_cell, however it is reached")


@pytest.mark.task("gru_cell")
def test_gru_cell_by_hand(impl, monkeypatch) -> None:
    weights = _weights(131, 3, 3, 2, f64)
    calls = _torch_rnn_calls(monkeypatch)
    operators = _rnn_operators(lambda: impl.gru_cell(X0.clone(), H0.clone(), *weights))
    observe("calls into torch's LSTM / GRU implementations during gru_cell", calls, expect=[],
            explain="written by hand with matmuls, sigmoid and tanh: no nn.GRUCell, torch.gru_cell or torch._VF")
    observe("torch operators named lstm, gru or rnn that ran during gru_cell (torch.profiler)", operators, expect=[],
            explain="written by hand with matmuls, sigmoid and tanh: no aten::gru_cell, however it is reached")


@pytest.mark.task("lstm_sequence")
def test_lstm_sequence_by_hand(impl, monkeypatch) -> None:
    weights = _weights(132, 4, 3, 2, f64)
    calls = _torch_rnn_calls(monkeypatch)
    x = _randn(133, 4, 2, 3, dtype=f64)
    operators = _rnn_operators(lambda: impl.lstm_sequence(x, None, *weights))
    observe("calls into torch's LSTM / GRU implementations during lstm_sequence", calls, expect=[],
            explain="a loop over the time steps, each one your LSTM cell: no nn.LSTM, torch.lstm or torch._VF")
    observe("torch operators named lstm, gru or rnn that ran during lstm_sequence (torch.profiler)", operators,
            expect=[], explain="a loop over the time steps, each one your LSTM cell: no aten::lstm or aten::lstm_cell, "
                               "however it is reached")
