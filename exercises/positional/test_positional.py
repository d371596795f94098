"""Grading tests for the positional exercise: worked examples first (each isolates one part of the formula),
then the reference on several shapes, dtypes and bases, then the properties the contract names (RoPE keeps
lengths, and its query-key dot products depend only on the distance between positions).

Values are compared within rtol = atol = 1e-5 in both dtypes: angles computed in float32 or float64, with
base ** (-2i / D) or exp(-2i / D * log(base)), all pass; a wrong formula is off by far more."""

from __future__ import annotations

import math

import pytest
import torch

from quiz.grading.scenario import expect_raises, observe

f32, f64 = torch.float32, torch.float64
TOL = {"rtol": 1e-5, "atol": 1e-5}

SINUSOIDAL = ("PE[p, 2i] = sin(p / base^(2i / dim)) and PE[p, 2i + 1] = cos(p / base^(2i / dim)): sin on even "
              "features, cos on odd ones, interleaved")
ROPE = ("pair i at position p turns counter-clockwise by p * base^(-2i / D): (a, b) -> (a cos - b sin, a sin + b cos); "
        "with interleaved=False the pairs are (x[i], x[i + D/2]), with interleaved=True (x[2i], x[2i + 1])")


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _randn(seed: int, *shape: int, dtype: torch.dtype = f64) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- sinusoidal_encoding -----------------------------------------------------------------------------------

@pytest.mark.task("sinusoidal_encoding")
def test_sinusoidal_feature_0_is_sin_of_position(impl) -> None:
    pe = impl.sinusoidal_encoding(6, 8, dtype=f64)
    observe("column 0 of sinusoidal_encoding(6, 8): feature 0 at positions 0..5", pe[:, 0],
            expect=torch.arange(6, dtype=f64).sin(), **TOL,
            explain="feature 0 (even) is sin(p): pair 0 turns at 1 / base^0 = 1 whatever dim is, and even "
                    "features take the sin (PE[0, 0] = sin 0 = 0), odd ones the cos")


@pytest.mark.task("sinusoidal_encoding")
def test_sinusoidal_feature_1_is_cos_of_the_same_angle(impl) -> None:
    pe = impl.sinusoidal_encoding(6, 8, dtype=f64)
    observe("column 1 of sinusoidal_encoding(6, 8): feature 1 at positions 0..5", pe[:, 1],
            expect=torch.arange(6, dtype=f64).cos(), **TOL,
            explain="feature 1 is cos(p), the cos of pair 0's angle: sin and cos are interleaved (features 2i and "
                    "2i + 1), not sin in the first half and cos in the second")


@pytest.mark.task("sinusoidal_encoding")
def test_sinusoidal_frequencies_worked_example(impl) -> None:
    pe = impl.sinusoidal_encoding(2, 8, dtype=f64)
    observe("even features of position 1 in sinusoidal_encoding(2, 8) (base 10000)", pe[1, 0::2],
            expect=torch.tensor([1.0, 0.1, 0.01, 0.001], dtype=f64).sin(), **TOL,
            explain="pair i turns at 1 / base^(2i / dim): with dim 8 the exponents are 0, 2/8, 4/8, 6/8, so position "
                    "1 gives sin(1), sin(0.1), sin(0.01), sin(0.001)")


@pytest.mark.task("sinusoidal_encoding")
def test_sinusoidal_base(impl) -> None:
    pe = impl.sinusoidal_encoding(3, 4, base=100.0, dtype=f64)
    observe("position 2 of sinusoidal_encoding(3, 4, base=100)", pe[2],
            expect=torch.tensor([math.sin(2), math.cos(2), math.sin(0.2), math.cos(0.2)], dtype=f64), **TOL,
            explain="the angle is p / base^(2i / dim) with the base given: 100^(2/4) = 10, so pair 1 of position 2 "
                    "is (sin 0.2, cos 0.2)")


@pytest.mark.task("sinusoidal_encoding")
@pytest.mark.parametrize("positions,dim,base", [(1, 2, 10000.0), (7, 4, 10000.0), (50, 16, 10000.0),
                                                (33, 10, 500.0), (64, 64, 10000.0)],
                         ids=["P1-D2", "P7-D4", "P50-D16", "P33-D10-base500", "P64-D64"])
@pytest.mark.parametrize("dtype", [f32, f64], ids=_name)
def test_sinusoidal_matches_reference(impl, positions: int, dim: int, base: float, dtype: torch.dtype) -> None:
    observe(f"sinusoidal_encoding({positions}, {dim}, base={base:g}, dtype={_name(dtype)})",
            impl.sinusoidal_encoding(positions, dim, base=base, dtype=dtype), **TOL,
            explain=f"{SINUSOIDAL}; shape (num_positions, dim), the dtype asked for")


@pytest.mark.task("sinusoidal_encoding")
def test_sinusoidal_default_dtype_and_no_grad(impl) -> None:
    pe = impl.sinusoidal_encoding(4, 6)
    observe("dtype of sinusoidal_encoding(4, 6) with the default dtype", str(pe.dtype), expect=str(f32),
            explain="the default dtype is float32")
    observe("requires_grad of sinusoidal_encoding(4, 6)", pe.requires_grad, expect=False,
            explain="the encodings are fixed, not parameters: a plain tensor that does not require grad")


@pytest.mark.task("sinusoidal_encoding")
def test_sinusoidal_no_positions(impl) -> None:
    observe("sinusoidal_encoding(0, 6)", impl.sinusoidal_encoding(0, 6),
            explain="zero positions give an empty float32 tensor of shape (0, 6)")


@pytest.mark.task("sinusoidal_encoding")
def test_sinusoidal_relative_shift_is_fixed(impl) -> None:
    pe = impl.sinusoidal_encoding(40, 12, dtype=f64)
    frequencies = 10000.0 ** (-torch.arange(0, 12, 2, dtype=f64) / 12)
    shift = 5
    observe(f"PE[p] . PE[p + {shift}] for p = 0..34 in sinusoidal_encoding(40, 12)",
            (pe[:-shift] * pe[shift:]).sum(-1), expect=(shift * frequencies).cos().sum().expand(40 - shift), **TOL,
            explain="sin(a)sin(b) + cos(a)cos(b) = cos(a - b), so the dot product of two encodings depends only on "
                    "how far apart they are: sum over pairs of cos(5 / base^(2i / dim))")


@pytest.mark.task("sinusoidal_encoding")
@pytest.mark.parametrize("dim", [5, 0], ids=["odd", "zero"])
def test_sinusoidal_rejects_bad_dim(impl, dim: int) -> None:
    with expect_raises(f"sinusoidal_encoding(4, {dim})", ValueError,
                       explain="dim must be a positive even number (features come in sin/cos pairs): ValueError"):
        impl.sinusoidal_encoding(4, dim)


@pytest.mark.task("sinusoidal_encoding")
def test_sinusoidal_rejects_negative_positions(impl) -> None:
    with expect_raises("sinusoidal_encoding(-1, 4)", ValueError, explain="num_positions < 0 raises ValueError"):
        impl.sinusoidal_encoding(-1, 4)


# --- apply_rope --------------------------------------------------------------------------------------------

@pytest.mark.task("apply_rope")
def test_rope_rotation_direction(impl) -> None:
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=f64)  # positions 0 and 1, D = 2: one pair, theta = 1
    y = torch.tensor([[0.0, 1.0], [0.0, 1.0]], dtype=f64)
    c, s = math.cos(1), math.sin(1)
    observe("apply_rope of (1, 0) at positions 0 and 1 (D = 2)", impl.apply_rope(x),
            expect=torch.tensor([[1.0, 0.0], [c, s]], dtype=f64), **TOL,
            explain="position 0 is not rotated; position 1 turns the pair counter-clockwise by 1 radian: "
                    "(a, b) -> (a cos - b sin, a sin + b cos), so (1, 0) -> (cos 1, sin 1)")
    observe("apply_rope of (0, 1) at positions 0 and 1 (D = 2)", impl.apply_rope(y),
            expect=torch.tensor([[0.0, 1.0], [-s, c]], dtype=f64), **TOL,
            explain="counter-clockwise: (0, 1) -> (-sin 1, cos 1)")


@pytest.mark.task("apply_rope")
def test_rope_half_split_pairs(impl) -> None:
    x = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]], dtype=f64)
    observe("apply_rope of (1, 0, 0, 0) at position 1, D = 4, interleaved=False", impl.apply_rope(x)[1],
            expect=torch.tensor([math.cos(1), 0.0, math.sin(1), 0.0], dtype=f64), **TOL,
            explain="with interleaved=False feature i pairs with feature i + D/2 (rotate_half): feature 0 turns with "
                    "feature 2, so (1, 0, 0, 0) -> (cos 1, 0, sin 1, 0)")


@pytest.mark.task("apply_rope")
def test_rope_interleaved_pairs(impl) -> None:
    x = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]], dtype=f64)
    observe("apply_rope of (1, 0, 0, 0) at position 1, D = 4, interleaved=True",
            impl.apply_rope(x, interleaved=True)[1],
            expect=torch.tensor([math.cos(1), math.sin(1), 0.0, 0.0], dtype=f64), **TOL,
            explain="with interleaved=True feature 2i pairs with its neighbour 2i + 1: feature 0 turns with feature "
                    "1, so (1, 0, 0, 0) -> (cos 1, sin 1, 0, 0)")


@pytest.mark.task("apply_rope")
@pytest.mark.parametrize("interleaved", [False, True], ids=["half_split", "interleaved"])
def test_rope_frequencies_worked_example(impl, interleaved: bool) -> None:
    ones = torch.ones(4, dtype=f64)
    zeros = torch.zeros(4, dtype=f64)
    first = torch.stack((ones, zeros), -1).flatten() if interleaved else torch.cat((ones, zeros))
    x = torch.stack((torch.zeros(8, dtype=f64), first))  # position 1: every pair is (1, 0)
    theta = torch.tensor([1.0, 0.1, 0.01, 0.001], dtype=f64)
    expected = (torch.stack((theta.cos(), theta.sin()), -1).flatten() if interleaved
                else torch.cat((theta.cos(), theta.sin())))
    observe(f"apply_rope at position 1 of every pair (1, 0), D = 8, interleaved={interleaved}",
            impl.apply_rope(x, interleaved=interleaved)[1], expect=expected, **TOL,
            explain="pair i turns by p * theta_i with theta_i = base^(-2i / D): with D = 8 and base 10000 the "
                    "angles at position 1 are 1, 0.1, 0.01, 0.001, so pair i becomes (cos theta_i, sin theta_i)")


@pytest.mark.task("apply_rope")
def test_rope_positions_argument(impl) -> None:
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=f64)
    observe("apply_rope of (1, 0) twice with positions=tensor([3, 7]) (D = 2)",
            impl.apply_rope(x, positions=torch.tensor([3, 7])),
            expect=torch.tensor([[math.cos(3), math.sin(3)], [math.cos(7), math.sin(7)]], dtype=f64), **TOL,
            explain="positions gives each row's position: row 0 is at position 3 and row 1 at 7, not 0 and 1 "
                    "(a decoder with a cache passes arange(start, start + T))")


@pytest.mark.task("apply_rope")
def test_rope_positions_along_dim_minus_2(impl) -> None:
    x = torch.zeros(2, 3, 4, 2, dtype=f64)
    x[..., 0] = 1.0  # every (b, h, t) row is (1, 0)
    t = torch.arange(4, dtype=f64)
    expected = torch.stack((t.cos(), t.sin()), -1).expand(2, 3, 4, 2)
    observe("apply_rope of (1, 0) rows in a (B=2, H=3, T=4, D=2) tensor", impl.apply_rope(x), expect=expected,
            **TOL, explain="positions run along dim -2 (T), the same for every batch row and head: row t of every "
                           "(b, h) turns by t radians")


@pytest.mark.task("apply_rope")
def test_rope_keeps_float32(impl) -> None:
    out = impl.apply_rope(_randn(7, 3, 4, dtype=f32))
    observe("dtype of apply_rope on a float32 x", str(out.dtype), expect=str(f32),
            explain="float32 in, float32 out: cast the cos/sin tables to x's dtype (float64 tables would promote "
                    "the result)")


@pytest.mark.task("apply_rope")
@pytest.mark.parametrize("shape", [(5, 4), (2, 6, 8), (2, 3, 7, 16), (1, 1, 1, 2)],
                         ids=["T5-D4", "B2-T6-D8", "B2-H3-T7-D16", "all-ones"])
@pytest.mark.parametrize("interleaved", [False, True], ids=["half_split", "interleaved"])
@pytest.mark.parametrize("dtype", [f32, f64], ids=_name)
def test_rope_matches_reference(impl, shape: tuple[int, ...], interleaved: bool, dtype: torch.dtype) -> None:
    x = _randn(sum(shape), *shape, dtype=dtype)
    observe(f"apply_rope on a {_name(dtype)} x of shape {shape}, interleaved={interleaved}",
            impl.apply_rope(x, interleaved=interleaved), **TOL, explain=f"{ROPE}; x's shape and dtype")


@pytest.mark.task("apply_rope")
@pytest.mark.parametrize("interleaved", [False, True], ids=["half_split", "interleaved"])
def test_rope_with_positions_and_base(impl, interleaved: bool) -> None:
    x = _randn(3, 2, 2, 5, 8, dtype=f32)
    positions = torch.tensor([40, 41, 42, 43, 44])
    observe(f"apply_rope at positions 40..44 with base=500, interleaved={interleaved} (float32)",
            impl.apply_rope(x, positions=positions, base=500.0, interleaved=interleaved), **TOL,
            explain=f"{ROPE}; the angles use the positions and the base given")


@pytest.mark.task("apply_rope")
@pytest.mark.parametrize("interleaved", [False, True], ids=["half_split", "interleaved"])
def test_rope_keeps_each_pair_length(impl, interleaved: bool) -> None:
    x = _randn(4, 3, 9, 12)
    out = impl.apply_rope(x, interleaved=interleaved)
    if interleaved:
        pairs_in, pairs_out = x.unflatten(-1, (6, 2)), out.unflatten(-1, (6, 2))
    else:
        pairs_in, pairs_out = x.unflatten(-1, (2, 6)).transpose(-1, -2), out.unflatten(-1, (2, 6)).transpose(-1, -2)
    observe(f"length of every pair after apply_rope (interleaved={interleaved})", pairs_out.norm(dim=-1),
            expect=pairs_in.norm(dim=-1), **TOL,
            explain="RoPE rotates each pair, and a rotation keeps its length: both features of a pair must get the "
                    "same angle (the same theta_i), one with cos and the other with sin")


@pytest.mark.task("apply_rope")
@pytest.mark.parametrize("interleaved", [False, True], ids=["half_split", "interleaved"])
def test_rope_scores_depend_only_on_distance(impl, interleaved: bool) -> None:
    q, k = _randn(5, 1, 16), _randn(6, 1, 16)
    m, n = 2, 9
    base_score = (impl.apply_rope(q, torch.tensor([m]), interleaved=interleaved)
                  * impl.apply_rope(k, torch.tensor([n]), interleaved=interleaved)).sum()
    for shift in (1, 13, 50):
        score = (impl.apply_rope(q, torch.tensor([m + shift]), interleaved=interleaved)
                 * impl.apply_rope(k, torch.tensor([n + shift]), interleaved=interleaved)).sum()
        observe(f"q . k with q at position {m + shift} and k at {n + shift} (interleaved={interleaved})", score,
                expect=base_score, **TOL,
                explain=f"the relative-position property: rotated q at m and k at n give the same dot product as at "
                        f"m + s and n + s, so this equals q . k at positions {m} and {n}")


@pytest.mark.task("apply_rope")
def test_rope_does_not_modify_x(impl) -> None:
    x = _randn(8, 2, 5, 6)
    original = x.clone()
    impl.apply_rope(x)
    observe("x after apply_rope(x)", x, expect=original, exact=True,
            explain="apply_rope returns a new tensor and leaves x as it was (no in-place updates of x's halves)")


@pytest.mark.task("apply_rope")
@pytest.mark.parametrize("interleaved", [False, True], ids=["half_split", "interleaved"])
def test_rope_gradient(impl, interleaved: bool) -> None:
    x = _randn(9, 2, 5, 8).requires_grad_()
    upstream = _randn(10, 2, 5, 8)
    (impl.apply_rope(x, interleaved=interleaved) * upstream).sum().backward()
    observe(f"gradient of apply_rope with respect to x (interleaved={interleaved})", x.grad, **TOL,
            explain="gradients flow back into x: each pair's gradient is the upstream gradient turned back by the "
                    "same angle")


@pytest.mark.task("apply_rope")
def test_rope_rejects_odd_dim(impl) -> None:
    with expect_raises("apply_rope on x of shape (2, 3, 5) (odd D)", ValueError,
                       explain="the last dimension is split into pairs, so an odd D raises ValueError"):
        impl.apply_rope(torch.zeros(2, 3, 5))
