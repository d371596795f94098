"""Grading tests for the quantize exercise: symmetric quantisation per tensor and per channel, dequantisation,
and fake quantisation with a straight-through gradient.

Hand-worked values first (ties, the range, the all-zero case), then random tensors of several seeds and
shapes: in float32 the integers are compared with torch.quantize_per_tensor / torch.quantize_per_channel
(zero_point 0, qint8), where the contracts coincide (torch works in float32 only); in float64 with the
reference. fake_quantize's values and gradients are compared with torch.fake_quantize_per_tensor_affine(x,
scale, 0, -qmax, qmax) in float32 and float64. The bound |x - dequantize(q, scale)| <= scale / 2 is checked
on every random tensor. One test per function records, with a TorchFunctionMode and a TorchDispatchMode (which
torch._C.DisableTorchFunction does not switch off), any of torch's own quantisation functions or ops it calls."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from quiz.grading.scenario import expect_raises, observe

F32, F64 = torch.float32, torch.float64
DTYPES = [F32, F64]
DTYPE_IDS = ["float32", "float64"]
SHAPES = [(7,), (3, 5), (2, 3, 4), (1, 1)]
# torch's own functions, taken before any submission runs: the targets of the comparisons.
TORCH_PER_TENSOR = torch.quantize_per_tensor
TORCH_PER_CHANNEL = torch.quantize_per_channel
TORCH_FAKE = torch.fake_quantize_per_tensor_affine

SCALE = "scale = max|x| / qmax with qmax = 2 ** (num_bits - 1) - 1 (127 for 8 bits: the restricted range " \
        "[-127, 127]), a 0-dim tensor of x's dtype; max|x| is the largest magnitude, negative entries included"
Q = "q = clamp(round(x / scale), -qmax, qmax) as torch.int8, rounding to nearest with halves to even (torch.round)"
STE = ("straight-through gradient: 1 where round(x / scale) lies in [-qmax, qmax] (rounding treated as the identity), "
       "0 where the clamp changed the value, as torch.fake_quantize_per_tensor_affine: with scale 1, x = 127.2 and "
       "127.49 round to 127 and keep gradient 1, 127.5 and 127.6 round to 128 and get 0")


def _name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _randn(seed: int, shape, dtype, scale: float = 3.0) -> torch.Tensor:
    return (scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)).to(dtype)


def _tensor(values, dtype=F64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


def _torch_q(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """torch's qint8 integers for x with this scale and zero_point 0 (float32 only)."""
    with warnings.catch_warnings():  # torch 2.13 warns that quantized tensors are deprecated
        warnings.simplefilter("ignore")
        return TORCH_PER_TENSOR(x, float(scale), 0, torch.qint8).int_repr()


def _torch_q_per_channel(x: torch.Tensor, scales: torch.Tensor, axis: int) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zero_points = torch.zeros(scales.shape, dtype=torch.int64)
        return TORCH_PER_CHANNEL(x, scales.double(), zero_points, axis % x.dim(), torch.qint8).int_repr()


class _QuantizationCalls(TorchFunctionMode):
    """Records every torch function or Tensor method called under it whose name says quantisation
    (torch.quantize_per_tensor, torch.fake_quantize_per_tensor_affine, Tensor.int_repr, Tensor.dequantize...)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = f"{getattr(func, '__module__', None) or 'torch.Tensor'}.{getattr(func, '__name__', str(func))}"
        if ("quantize" in name or "int_repr" in name) and name not in self.seen:
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


class _QuantizationKernels(TorchDispatchMode):
    """Records every aten op reaching the dispatcher whose name says quantisation: it sees the ops under
    torch._C.DisableTorchFunction and inside an autograd.Function too, and those of the backward pass."""

    def __init__(self, seen: list[str]) -> None:
        super().__init__()
        self.seen = seen

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        if ("quantize" in name or "int_repr" in name) and name not in self.seen:
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


def _by_hand(name: str, call) -> None:
    spy = _QuantizationCalls()
    with spy, _QuantizationKernels(spy.seen):
        call()
    observe(f"torch quantisation functions called by {name}", ", ".join(spy.seen) or "none", expect="none",
            explain=f"{name} is written with tensor operations (abs, amax, round, clamp, to): it does not call "
                    "torch.quantize_per_tensor, torch.quantize_per_channel, torch.fake_quantize_per_tensor_affine, "
                    "Tensor.int_repr, Tensor.dequantize or the like")


def _contract_scales(x: torch.Tensor, axis: int, qmax: int = 127) -> torch.Tensor:
    others = [d for d in range(x.dim()) if d != axis % x.dim()]
    return (x.abs().amax(dim=others) if others else x.abs()) / qmax  # amax(dim=[]) would reduce every dim


def _within_half_a_step(x, q, scale, where: str, axis=None) -> None:
    """Observe the largest |x - q * scale| / scale (the reference's) and that it is at most 1/2. q * scale is
    computed here, so that this observes the quantisation alone, not the submission's dequantize."""
    if axis is not None:
        shape = [1] * x.dim()
        shape[axis] = -1
        scale = scale.reshape(shape)
    error = (x - q.to(scale.dtype) * scale).abs() / scale
    observe(f"the largest |x - q * scale| / scale for {where}", error.max(),
            explain="rounding to the nearest step puts every value within half a step of x")
    observe(f"every |x - q * scale| <= scale / 2 for {where}", bool((error <= 0.5 + 1e-6).all()), expect=True,
            explain="rounding to the nearest step puts every value within half a step of x: round, not truncate, "
                    "and the scale covers max|x|, so nothing is clamped")


# --- quantize_per_tensor ----------------------------------------------------------------------------------

@pytest.mark.task("quantize_per_tensor")
def test_quantize_per_tensor_worked_example(impl) -> None:
    x = _tensor([127.0, 63.7, -63.7, 0.2, -0.8, 10.49, -127.0])
    q, scale = impl.quantize_per_tensor(x)
    observe("scale of quantize_per_tensor([127, 63.7, -63.7, 0.2, -0.8, 10.49, -127])", scale,
            expect=_tensor(1.0), explain=f"127 / 127 = 1: {SCALE}")
    observe("q of quantize_per_tensor([127, 63.7, -63.7, 0.2, -0.8, 10.49, -127])", q,
            expect=torch.tensor([127, 64, -64, 0, -1, 10, -127], dtype=torch.int8),
            explain="round(x / scale) to the nearest integer: 63.7 -> 64, -63.7 -> -64, -0.8 -> -1 (a cast with "
                    ".to(torch.int8) truncates toward zero instead), stored as torch.int8")


@pytest.mark.task("quantize_per_tensor")
def test_quantize_per_tensor_rounds_half_to_even(impl) -> None:
    x = _tensor([127.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5])
    q, scale = impl.quantize_per_tensor(x)
    observe("scale of quantize_per_tensor([127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5])", scale,
            expect=_tensor(1.0), explain=f"127 / 127 = 1: {SCALE}")
    observe("q of quantize_per_tensor([127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5])", q,
            expect=torch.tensor([127, 0, 2, 2, 0, -2, -2, 4], dtype=torch.int8),
            explain="halves round to the even neighbour, as torch.round and torch.quantize_per_tensor do: "
                    "0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2, -2.5 -> -2 (neither half up, floor(x + 0.5), "
                    "nor half away from zero)")


@pytest.mark.task("quantize_per_tensor")
def test_quantize_per_tensor_scale_from_the_largest_magnitude(impl) -> None:
    x = _tensor([-254.0, 100.0, 3.0, -1.0])
    q, scale = impl.quantize_per_tensor(x)
    observe("scale of quantize_per_tensor([-254, 100, 3, -1])", scale, expect=_tensor(2.0),
            explain=f"max|x| = 254 (a negative entry), 254 / 127 = 2: {SCALE}")
    observe("q of quantize_per_tensor([-254, 100, 3, -1])", q,
            expect=torch.tensor([-127, 50, 2, 0], dtype=torch.int8),
            explain="x / 2 = [-127, 50, 1.5, -0.5], rounded half to even: [-127, 50, 2, 0]")


@pytest.mark.task("quantize_per_tensor")
def test_quantize_per_tensor_num_bits(impl) -> None:
    x = _tensor([7.0, -3.5, 2.5, 1.2, -7.0])
    q, scale = impl.quantize_per_tensor(x, num_bits=4)
    observe("scale of quantize_per_tensor([7, -3.5, 2.5, 1.2, -7], num_bits=4)", scale, expect=_tensor(1.0),
            explain="qmax = 2 ** 3 - 1 = 7 for 4 bits, so scale = 7 / 7 = 1")
    observe("q of quantize_per_tensor([7, -3.5, 2.5, 1.2, -7], num_bits=4)", q,
            expect=torch.tensor([7, -4, 2, 1, -7], dtype=torch.int8),
            explain="round half to even within [-7, 7], stored as torch.int8 whatever num_bits is")
    x = _tensor([0.3, -0.6, 0.9, -1.8])
    q, scale = impl.quantize_per_tensor(x, num_bits=2)
    observe("scale of quantize_per_tensor([0.3, -0.6, 0.9, -1.8], num_bits=2)", scale, expect=_tensor(1.8),
            explain="qmax = 2 ** 1 - 1 = 1 for 2 bits, so scale = max|x| = 1.8")
    observe("q of quantize_per_tensor([0.3, -0.6, 0.9, -1.8], num_bits=2)", q,
            expect=torch.tensor([0, 0, 0, -1], dtype=torch.int8),
            explain="x / 1.8 = [0.17, -0.33, 0.5, -1], rounded (0.5 -> 0, the even neighbour) within [-1, 1]")


@pytest.mark.task("quantize_per_tensor")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_quantize_per_tensor_all_zero(impl, dtype) -> None:
    x = torch.zeros(2, 3, dtype=dtype)
    q, scale = impl.quantize_per_tensor(x)
    observe(f"scale of quantize_per_tensor of an all-zero {_name(dtype)} tensor", scale,
            expect=torch.tensor(1.0, dtype=dtype),
            explain="an all-zero tensor has max|x| = 0 and gets scale 1.0 (0 / 0 would make q nan)")
    observe(f"q of quantize_per_tensor of an all-zero {_name(dtype)} tensor", q,
            expect=torch.zeros(2, 3, dtype=torch.int8), explain="all zeros, torch.int8, x's shape")


@pytest.mark.task("quantize_per_tensor")
def test_quantize_per_tensor_matches_torch(impl) -> None:
    for seed, shape in enumerate(SHAPES * 2):
        x = _randn(seed, shape, F32, scale=0.5 + seed)
        before = x.clone()
        q, scale = impl.quantize_per_tensor(x)
        where = f"a float32 x of shape {shape} (seed {seed})"
        observe(f"scale of quantize_per_tensor of {where}", scale, expect=x.abs().max() / 127, explain=SCALE)
        observe(f"q of quantize_per_tensor of {where}", q, expect=_torch_q(x, x.abs().max() / 127),
                explain=f"{Q}: the integers of torch.quantize_per_tensor(x, scale, 0, torch.qint8)")
        observe(f"x after quantize_per_tensor of {where}", x, expect=before, exact=True,
                explain="quantize_per_tensor does not modify x")


@pytest.mark.task("quantize_per_tensor")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_quantize_per_tensor_error_bound(impl, dtype) -> None:
    for seed, shape in enumerate(SHAPES):
        x = _randn(seed + 20, shape, dtype)
        q, scale = impl.quantize_per_tensor(x)
        where = f"quantize_per_tensor of a {_name(dtype)} x of shape {shape}"
        observe(f"scale of {where}", scale, explain=SCALE)
        observe(f"q of {where}", q, explain=Q)
        _within_half_a_step(x, q, scale, where)


@pytest.mark.task("quantize_per_tensor")
def test_quantize_per_tensor_rejects_num_bits_out_of_range(impl) -> None:
    x = _tensor([1.0, -2.0])
    for num_bits in (1, 9):
        with expect_raises(f"quantize_per_tensor(x, num_bits={num_bits})", ValueError,
                           explain="num_bits must be in [2, 8] (int8 storage): anything else raises ValueError"):
            impl.quantize_per_tensor(x, num_bits=num_bits)


@pytest.mark.task("quantize_per_tensor")
def test_quantize_per_tensor_written_by_hand(impl) -> None:
    _by_hand("quantize_per_tensor", lambda: impl.quantize_per_tensor(_randn(30, (3, 4), F32)))


# --- dequantize -------------------------------------------------------------------------------------------

@pytest.mark.task("dequantize")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_dequantize_worked_example(impl, dtype) -> None:
    q = torch.tensor([127, -2, 0, 5], dtype=torch.int8)
    observe(f"dequantize([127, -2, 0, 5], scale=0.5 as a {_name(dtype)} 0-dim tensor)",
            impl.dequantize(q, torch.tensor(0.5, dtype=dtype)),
            expect=torch.tensor([63.5, -1.0, 0.0, 2.5], dtype=dtype),
            explain="q * scale, a float tensor of scale's dtype")


@pytest.mark.task("dequantize")
def test_dequantize_matches_torch(impl) -> None:
    for seed, shape in enumerate(SHAPES):
        x = _randn(seed + 40, shape, F32)
        scale = x.abs().max() / 127
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantized = TORCH_PER_TENSOR(x, float(scale), 0, torch.qint8)
        observe(f"dequantize of torch's int8 values for a float32 x of shape {shape}",
                impl.dequantize(quantized.int_repr(), scale), expect=quantized.dequantize(),
                explain="q * scale, as the quantized tensor's dequantize()")


@pytest.mark.task("dequantize")
def test_dequantize_per_channel(impl) -> None:
    q = torch.tensor([[10, -20, 30], [1, 2, 3]], dtype=torch.int8)
    scales = _tensor([0.5, 2.0, 0.25], F32)
    observe("dequantize(q of shape (2, 3), scales [0.5, 2, 0.25], axis=1)", impl.dequantize(q, scales, axis=1),
            expect=_tensor([[5.0, -40.0, 7.5], [0.5, 4.0, 0.75]], F32),
            explain="with an axis, slice c along axis (here column c) is multiplied by scale[c]")
    observe("dequantize(q of shape (2, 3), scales [0.5, 2], axis=0)", impl.dequantize(q, scales[:2], axis=0),
            expect=_tensor([[5.0, -10.0, 15.0], [2.0, 4.0, 6.0]], F32),
            explain="with axis=0, row c is multiplied by scale[c]: the scales lie along axis 0")


@pytest.mark.task("dequantize")
def test_dequantize_written_by_hand(impl) -> None:
    q = torch.tensor([[10, -20, 30], [1, 2, 3]], dtype=torch.int8)
    _by_hand("dequantize", lambda: (impl.dequantize(q, torch.tensor(0.5)),
                                    impl.dequantize(q, _tensor([0.5, 2.0, 0.25], F32), axis=1)))


# --- quantize_per_channel ---------------------------------------------------------------------------------

ROWS = [[127.0, -63.5, 0.5], [0.0, 0.0, 0.0], [254.0, 127.0, -63.5]]


@pytest.mark.task("quantize_per_channel")
def test_quantize_per_channel_worked_example_rows(impl) -> None:
    q, scales = impl.quantize_per_channel(_tensor(ROWS), axis=0)
    observe("scales of quantize_per_channel(x of shape (3, 3), axis=0)", scales, expect=_tensor([1.0, 1.0, 2.0]),
            explain="one scale per row (the slices along axis 0), each from its own row's max|x| (the max over "
                    "every other dimension): 127 / 127 = 1, 1.0 for the all-zero row, 254 / 127 = 2; shape (3,)")
    observe("q of quantize_per_channel(x of shape (3, 3), axis=0)", q,
            expect=torch.tensor([[127, -64, 0], [0, 0, 0], [127, 64, -32]], dtype=torch.int8),
            explain="row c is divided by scales[c] (the scales viewed as (3, 1), so that they lie along axis 0; "
                    "as they are, (3,), they would broadcast along the last axis), rounded half to even: -63.5 -> "
                    "-64, 63.5 -> 64, 0.5 -> 0")


@pytest.mark.task("quantize_per_channel")
def test_quantize_per_channel_worked_example_columns(impl) -> None:
    q, scales = impl.quantize_per_channel(_tensor(ROWS), axis=1)
    observe("scales of quantize_per_channel(x of shape (3, 3), axis=1)", scales, expect=_tensor([2.0, 1.0, 0.5]),
            explain="one scale per column (the slices along axis 1): 254 / 127, 127 / 127, 63.5 / 127")
    observe("q of quantize_per_channel(x of shape (3, 3), axis=1)", q,
            expect=torch.tensor([[64, -64, 1], [0, 0, 0], [127, 127, -127]], dtype=torch.int8),
            explain="column c is divided by scales[c]: 127 / 2 = 63.5 -> 64 (half to even), 0.5 / 0.5 = 1")


@pytest.mark.task("quantize_per_channel")
def test_quantize_per_channel_matches_torch(impl) -> None:
    cases = [((4, 6), 0), ((4, 6), 1), ((3, 4, 5), 0), ((3, 4, 5), 1), ((3, 4, 5), 2), ((3, 4, 5), -1),
             ((2, 3, 2, 2), 1), ((5,), 0)]
    for seed, (shape, axis) in enumerate(cases):
        x = _randn(seed + 60, shape, F32)
        x = x * torch.linspace(0.1, 10, shape[axis]).reshape([-1 if d == axis % x.dim() else 1 for d in range(x.dim())])
        before = x.clone()
        q, scales = impl.quantize_per_channel(x, axis)
        expected_scales = _contract_scales(x, axis)
        where = f"a float32 x of shape {shape}, axis={axis}"
        observe(f"scales of quantize_per_channel of {where}", scales, expect=expected_scales,
                explain="scales[c] = max|x| over slice c along axis (all the other dimensions) / 127, shape "
                        "(x.shape[axis],)")
        observe(f"q of quantize_per_channel of {where}", q, expect=_torch_q_per_channel(x, expected_scales, axis),
                explain="slice c is clamp(round(x / scales[c]), -127, 127) as torch.int8: the integers of "
                        "torch.quantize_per_channel(x, scales, zeros, axis, torch.qint8)")
        observe(f"x after quantize_per_channel of {where}", x, expect=before, exact=True,
                explain="quantize_per_channel does not modify x")


@pytest.mark.task("quantize_per_channel")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_quantize_per_channel_slices_are_independent(impl, dtype) -> None:
    x = _randn(80, (4, 3, 5), dtype)
    louder = x.clone()
    louder[:, 1] *= 1000.0
    for what, tensor in (("x", x), ("x with slice 1 along axis 1 scaled by 1000", louder)):
        q, scales = impl.quantize_per_channel(tensor, axis=1, num_bits=6)
        observe(f"scales of quantize_per_channel({what}, axis=1, num_bits=6), {_name(dtype)}", scales,
                explain="each slice's scale comes from its own max|x| / 31 (qmax for 6 bits): scaling slice 1 "
                        "changes scales[1] only")
        observe(f"q of quantize_per_channel({what}, axis=1, num_bits=6), {_name(dtype)}", q,
                explain="each slice is quantised with its own scale: slices 0 and 2 keep their integers")
        _within_half_a_step(tensor, q, scales, f"quantize_per_channel({what}, axis=1, num_bits=6)", axis=1)


@pytest.mark.task("quantize_per_channel")
def test_quantize_per_channel_rejects_num_bits_out_of_range(impl) -> None:
    with expect_raises("quantize_per_channel(x, axis=0, num_bits=9)", ValueError,
                       explain="num_bits must be in [2, 8] (int8 storage): anything else raises ValueError"):
        impl.quantize_per_channel(_tensor(ROWS), axis=0, num_bits=9)


@pytest.mark.task("quantize_per_channel")
def test_quantize_per_channel_written_by_hand(impl) -> None:
    _by_hand("quantize_per_channel", lambda: impl.quantize_per_channel(_randn(31, (3, 4), F32), axis=0))


# --- fake_quantize ----------------------------------------------------------------------------------------

def _grad(fn, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    leaf = x.detach().clone().requires_grad_()
    (fn(leaf) * weights).sum().backward()
    return leaf.grad


def _torch_fake(scale: float, num_bits: int = 8):
    qmax = 2 ** (num_bits - 1) - 1
    return lambda x: TORCH_FAKE(x, scale, 0, -qmax, qmax)


@pytest.mark.task("fake_quantize")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_fake_quantize_worked_example(impl, dtype) -> None:
    x = _tensor([0.2, 0.25, 0.74, -0.75, 63.4, 63.6, 100.0, -100.0], dtype)
    observe(f"fake_quantize([0.2, 0.25, 0.74, -0.75, 63.4, 63.6, 100, -100], scale=0.5), {_name(dtype)}",
            impl.fake_quantize(x, 0.5), expect=_tensor([0.0, 0.0, 0.5, -1.0, 63.5, 63.5, 63.5, -63.5], dtype),
            explain="clamp(round(x / 0.5), -127, 127) * 0.5: 0.25 / 0.5 = 0.5 -> 0 (half to even), 63.6 / 0.5 = "
                    "127.2 -> 127, and 100 / 0.5 = 200 is clamped to 127, i.e. 63.5; x's dtype")


@pytest.mark.task("fake_quantize")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_fake_quantize_gradient_worked_example(impl, dtype) -> None:
    x = _tensor([126.9, 127.2, 127.49, 127.5, 127.6, -127.3, -127.5, -128.0, 0.3, 200.0], dtype)
    weights = _tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], dtype)
    observe(f"x.grad of sum(w * fake_quantize(x, scale=1.0)) for x near the edge of the range, {_name(dtype)}",
            _grad(lambda t: impl.fake_quantize(t, 1.0), x, weights), expect=_grad(_torch_fake(1.0), x, weights),
            explain=f"w where round(x) is in [-127, 127], else 0: {STE}")


@pytest.mark.task("fake_quantize")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_fake_quantize_matches_torch(impl, dtype) -> None:
    for seed, (shape, num_bits) in enumerate(zip(SHAPES * 2, [8, 8, 8, 8, 4, 6, 2, 3], strict=True)):
        x = _randn(seed + 100, shape, dtype)
        qmax = 2 ** (num_bits - 1) - 1
        scale = float(x.abs().max()) / qmax * 0.7  # the largest values fall outside the range: clamped
        before = x.clone()
        where = f"fake_quantize of a {_name(dtype)} x of shape {shape}, scale={scale:.4g}, num_bits={num_bits}"
        observe(where, impl.fake_quantize(x, scale, num_bits=num_bits), expect=_torch_fake(scale, num_bits)(x),
                explain=f"clamp(round(x / scale), -{qmax}, {qmax}) * scale, as torch.fake_quantize_per_tensor_affine")
        observe(f"x after {where}", x, expect=before, exact=True, explain="fake_quantize does not modify x")
        weights = _randn(seed + 150, shape, dtype, scale=1.0)
        ours = _grad(lambda t, scale=scale, num_bits=num_bits: impl.fake_quantize(t, scale, num_bits), x, weights)
        observe(f"x.grad of sum(w * {where}) for random w", ours,
                expect=_grad(_torch_fake(scale, num_bits), x, weights), explain=f"w times the mask: {STE}")


@pytest.mark.task("fake_quantize")
def test_fake_quantize_rejects_num_bits_out_of_range(impl) -> None:
    x = _tensor([1.0, -2.0])
    for num_bits in (1, 9):
        with expect_raises(f"fake_quantize(x, 0.1, num_bits={num_bits})", ValueError,
                           explain="num_bits must be in [2, 8] (int8 storage): anything else raises ValueError"):
            impl.fake_quantize(x, 0.1, num_bits=num_bits)


@pytest.mark.task("fake_quantize")
def test_fake_quantize_written_by_hand(impl) -> None:
    x = _randn(32, (3, 4), F32).requires_grad_()
    _by_hand("fake_quantize", lambda: impl.fake_quantize(x, 0.01).sum().backward())
