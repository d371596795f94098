"""Grading tests for the init exercise. Fans and gains are checked exactly against hand-worked values (those of
torch.nn.init). The draws are random and a correct solution may draw them differently from nn.init, so they are
checked statistically on tensors of about 50 000 entries: the largest |value| against the uniform bound, the mean
and the standard deviation, each within a tolerance of five or more standard errors. Then: filled in place and
returned, a Parameter that requires grad stays a leaf, a generator seeded alike reproduces the values without
touching the global RNG, and nothing is handed to torch.nn.init."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from quiz.grading.scenario import expect_raises, observe

DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["float32", "float64"]
SQRT2 = math.sqrt(2.0)
NN_INIT = ("xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "calculate_gain",
           "_calculate_fan_in_and_fan_out", "_calculate_correct_fan", "uniform_", "normal_", "_no_grad_uniform_",
           "_no_grad_normal_")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _observe_uniform(where: str, out: torch.Tensor, bound: float, formula: str) -> None:
    """U(-b, b) over n >= 50 000 draws: max |w| is within 0.2% of b (P of less is 0.998^n), mean and std near."""
    values = out.detach().double()
    observe(f"largest |w| {where}", float(values.abs().max()), expect=bound, rtol=2e-3,
            explain=f"U(-b, b) with b = {formula} = {bound:.6g}: no draw beyond b, and over {values.numel()} draws "
                    "the largest |w| comes within 0.2% of b")
    observe(f"mean of w {where}", float(values.mean()), expect=0.0, atol=0.015 * bound,
            explain="U(-b, b) is centred on 0")
    observe(f"std of w {where}", float(values.std()), expect=bound / math.sqrt(3.0), rtol=0.015,
            explain=f"U(-b, b) has std b / sqrt(3) = {bound / math.sqrt(3.0):.6g}")


def _observe_normal(where: str, out: torch.Tensor, std: float, formula: str) -> None:
    """N(0, std^2) over n >= 50 000 draws: the sample std within 2% (6 standard errors), the mean, the shape."""
    values = out.detach().double()
    observe(f"std of w {where}", float(values.std()), expect=std, rtol=0.02,
            explain=f"N(0, std^2) with std = {formula} = {std:.6g}")
    observe(f"mean of w {where}", float(values.mean()), expect=0.0, atol=0.03 * std,
            explain="N(0, std^2) is centred on 0")
    observe(f"fraction of w within one std of 0 {where}", float((values.abs() < std).double().mean()),
            expect=0.6827, atol=0.012,
            explain="a normal distribution has 68.3% of its mass within one std (a uniform one with the same std "
                    "has 57.7%): draw with normal_ or randn")


def _observe_in_place(impl, name: str, **options) -> None:
    w = torch.zeros(96, 64, dtype=torch.float64)
    out = getattr(impl, name)(w, generator=_gen(40), **options)
    observe(f"{name}(w) returns w itself (out is w)", out is w, expect=True,
            explain=f"{name} fills the tensor it is given in place and returns that same tensor, as nn.init does")
    observe(f"dtype and shape of w after {name}(w) on a (96, 64) float64 w of zeros", [str(w.dtype), tuple(w.shape)],
            expect=["torch.float64", (96, 64)], explain="filling in place keeps the dtype and the shape")
    observe(f"fraction of the caller's w still 0 after {name}(w) on zeros", float((w == 0).double().mean()),
            expect=0.0, atol=1e-3, explain="the caller's tensor itself is filled (in place), not a new one")


def _observe_parameter(impl, name: str, **options) -> None:
    torch.manual_seed(41)
    layer = nn.Linear(64, 48)
    out = getattr(impl, name)(layer.weight, generator=_gen(42), **options)
    observe(f"{name}(layer.weight) on an nn.Linear(64, 48) weight: out is the weight, requires_grad, is_leaf",
            [out is layer.weight, layer.weight.requires_grad, layer.weight.is_leaf], expect=[True, True, True],
            explain="fill under torch.no_grad(): the Parameter is filled in place and stays a leaf that requires grad")
    layer(torch.ones(2, 64)).sum().backward()
    observe(f"layer.weight.grad after {name}(layer.weight) and a backward of sum(layer(ones(2, 64)))",
            layer.weight.grad, expect=torch.full((48, 64), 2.0),
            explain="the filled weight is still an ordinary trainable leaf: backward reaches its .grad")


def _observe_generator(impl, name: str, **options) -> None:
    function = getattr(impl, name)
    first = function(torch.empty(64, 48), generator=_gen(11), **options).clone()
    again = function(torch.empty(64, 48), generator=_gen(11), **options).clone()
    other = function(torch.empty(64, 48), generator=_gen(12), **options).clone()
    observe(f"{name}(w) with a generator seeded 11, minus the same call again", first - again,
            expect=torch.zeros(64, 48), exact=True,
            explain="every random number comes from the generator: seeded alike, it gives the same values")
    observe(f"fraction of entries equal between {name}(w) with generators seeded 11 and 12",
            float((first == other).double().mean()), expect=0.0, atol=0.01,
            explain="two independently seeded generators give different values")


def _observe_global_rng(impl, name: str, **options) -> None:
    getattr(impl, name)(torch.empty(64, 48), generator=_gen(13), **options)
    observe(f"torch.rand(5) right after {name}(w, generator=g) (global seed 0 before the test)", torch.rand(5),
            exact=True, explain="with a generator given, every draw comes from it: the global RNG is not advanced")
    torch.manual_seed(14)
    first = getattr(impl, name)(torch.empty(64, 48), **options).clone()
    second = getattr(impl, name)(torch.empty(64, 48), **options).clone()
    torch.manual_seed(14)
    again = getattr(impl, name)(torch.empty(64, 48), **options).clone()
    observe(f"{name}(w) with generator=None after torch.manual_seed(14), minus the same after reseeding", first - again,
            expect=torch.zeros(64, 48), exact=True, explain="with generator=None the draws come from the global RNG")
    observe(f"fraction of entries equal between two successive {name}(w) calls with generator=None",
            float((first == second).double().mean()), expect=0.0, atol=0.01,
            explain="the global RNG advances from one call to the next: two calls give different values")


def _observe_by_hand(impl, name: str, monkeypatch, call) -> None:
    calls = []
    for function in NN_INIT:
        original = getattr(nn.init, function)

        def spy(*args, _original=original, _name=function, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(nn.init, function, spy)
    call()
    held = sorted(key for key, value in vars(impl).items()
                  if callable(value) and getattr(value, "__module__", None) == "torch.nn.init")
    observe("names of the submission's module bound to torch.nn.init's functions", ", ".join(held), expect="",
            explain="written by hand: no function imported from torch.nn.init (from torch.nn.init import ... binds "
                    "it past the grader's count of calls)")
    observe(f"calls into torch.nn.init during {name}", calls, expect=[],
            explain="written by hand: Python arithmetic for the fans and gains, uniform_ / normal_ (or rand / randn) "
                    "on the tensor for the draws, not torch.nn.init's functions")


# --- fan_in_and_fan_out -----------------------------------------------------------------------------------

@pytest.mark.task("fan_in_and_fan_out")
def test_fans_of_linear_weights(impl) -> None:
    for shape in ((3, 5), (7, 2), (4, 4)):
        observe(f"fan_in_and_fan_out of a Linear weight of shape {shape} (out_features, in_features)",
                impl.fan_in_and_fan_out(torch.empty(shape)), expect=(shape[1], shape[0]),
                explain="(fan_in, fan_out) = (size(1), size(0)): a Linear weight is (out_features, in_features)")


@pytest.mark.task("fan_in_and_fan_out")
def test_fans_of_conv_weights(impl) -> None:
    cases = [("a Conv2d(8, 16, 3) weight", (16, 8, 3, 3), (72, 144)),
             ("a Conv1d(4, 6, 5) weight", (6, 4, 5), (20, 30)),
             ("a Conv3d(2, 4, (3, 5, 2)) weight", (4, 2, 3, 5, 2), (60, 120)),
             ("a Conv2d(8, 12, (3, 2), groups=4) weight", (12, 2, 3, 2), (12, 72))]
    for what, shape, fans in cases:
        observe(f"fan_in_and_fan_out of {what}, shape {shape}", impl.fan_in_and_fan_out(torch.empty(shape)),
                expect=fans, explain="both fans are multiplied by the receptive field, the product of shape[2:] (the "
                                     "kernel's number of elements): (size(1) * rf, size(0) * rf)")


@pytest.mark.task("fan_in_and_fan_out")
def test_fans_reject_fewer_than_two_dims(impl) -> None:
    for what, tensor in (("a 1-d tensor of shape (5,)", torch.empty(5)), ("a 0-d tensor", torch.tensor(1.0))):
        with expect_raises(f"fan_in_and_fan_out of {what}", ValueError,
                           explain="fans need at least 2 dims (out, in, ...): ValueError otherwise, as torch"):
            impl.fan_in_and_fan_out(tensor)


@pytest.mark.task("fan_in_and_fan_out")
def test_fans_by_hand(impl, monkeypatch) -> None:
    _observe_by_hand(impl, "fan_in_and_fan_out", monkeypatch, lambda: impl.fan_in_and_fan_out(torch.empty(4, 3, 2)))


# --- calculate_gain ---------------------------------------------------------------------------------------

@pytest.mark.task("calculate_gain")
def test_gain_values(impl) -> None:
    expected = {"linear": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "conv_transpose1d": 1.0,
                "conv_transpose2d": 1.0, "conv_transpose3d": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": SQRT2,
                "selu": 0.75}
    for nonlinearity, gain in expected.items():
        observe(f"calculate_gain({nonlinearity!r})", float(impl.calculate_gain(nonlinearity)), expect=gain,
                explain="1 for linear, conv* and sigmoid; 5/3 for tanh; sqrt(2) for relu; 3/4 for selu")


@pytest.mark.task("calculate_gain")
def test_gain_leaky_relu_slope(impl) -> None:
    for param, slope_text in ((None, "the default slope 0.01"), (0.2, "slope 0.2"), (0, "slope 0"),
                              (math.sqrt(5.0), "slope sqrt(5)")):
        slope = 0.01 if param is None else param
        gain = math.sqrt(2.0 / (1 + slope**2))
        observe(f"calculate_gain('leaky_relu', {param})", float(impl.calculate_gain("leaky_relu", param)),
                expect=gain, explain=f"sqrt(2 / (1 + slope^2)) with {slope_text} = {gain:.6g}; param=None means "
                                     "0.01, but param=0 is a slope of 0 (sqrt(2))")
    observe("calculate_gain('relu', 0.2)", float(impl.calculate_gain("relu", 0.2)), expect=SQRT2,
            explain="param is used by leaky_relu only")


@pytest.mark.task("calculate_gain")
def test_gain_rejects_unknown_nonlinearities(impl) -> None:
    for nonlinearity in ("gelu", "softmax", "ReLU"):
        with expect_raises(f"calculate_gain({nonlinearity!r})", ValueError,
                           explain="a name outside the table raises ValueError, as torch.nn.init.calculate_gain"):
            impl.calculate_gain(nonlinearity)


@pytest.mark.task("calculate_gain")
def test_gain_by_hand(impl, monkeypatch) -> None:
    _observe_by_hand(impl, "calculate_gain", monkeypatch, lambda: impl.calculate_gain("leaky_relu", 0.3))


# --- xavier_uniform_ --------------------------------------------------------------------------------------

@pytest.mark.task("xavier_uniform_")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_xavier_uniform_draws(impl, dtype) -> None:
    cases = [((256, 256), 1.0, 1), ((128, 512), 1.0, 2), ((64, 32, 5, 5), 5.0 / 3, 3), ((512, 128), SQRT2, 4)]
    for shape, gain, seed in cases:
        fan_in, fan_out = shape[1] * math.prod(shape[2:]), shape[0] * math.prod(shape[2:])
        bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
        out = impl.xavier_uniform_(torch.empty(shape, dtype=dtype), gain=gain, generator=_gen(seed))
        _observe_uniform(f"after xavier_uniform_(w, gain={gain:.4g}), w of shape {shape}, {_name(dtype)}", out, bound,
                         f"gain * sqrt(6 / (fan_in + fan_out)) = {gain:.4g} * sqrt(6 / ({fan_in} + {fan_out}))")


@pytest.mark.task("xavier_uniform_")
def test_xavier_uniform_in_place(impl) -> None:
    _observe_in_place(impl, "xavier_uniform_")


@pytest.mark.task("xavier_uniform_")
def test_xavier_uniform_on_a_parameter_that_requires_grad(impl) -> None:
    _observe_parameter(impl, "xavier_uniform_")


@pytest.mark.task("xavier_uniform_")
def test_xavier_uniform_generator_reproduces(impl) -> None:
    _observe_generator(impl, "xavier_uniform_")


@pytest.mark.task("xavier_uniform_")
def test_xavier_uniform_global_rng(impl) -> None:
    _observe_global_rng(impl, "xavier_uniform_")


@pytest.mark.task("xavier_uniform_")
def test_xavier_uniform_by_hand(impl, monkeypatch) -> None:
    _observe_by_hand(impl, "xavier_uniform_", monkeypatch, lambda: impl.xavier_uniform_(torch.empty(8, 4)))


@pytest.mark.task("xavier_uniform_")
def test_xavier_uniform_rejects_a_1d_tensor(impl) -> None:
    with expect_raises("xavier_uniform_ of a 1-d tensor of shape (5,)", ValueError,
                       explain="fans need at least 2 dims: ValueError"):
        impl.xavier_uniform_(torch.empty(5))


# --- xavier_normal_ ---------------------------------------------------------------------------------------

@pytest.mark.task("xavier_normal_")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_xavier_normal_draws(impl, dtype) -> None:
    cases = [((256, 256), 1.0, 5), ((128, 512), 1.0, 6), ((64, 32, 5, 5), 5.0 / 3, 7), ((512, 128), 0.5, 8)]
    for shape, gain, seed in cases:
        fan_in, fan_out = shape[1] * math.prod(shape[2:]), shape[0] * math.prod(shape[2:])
        std = gain * math.sqrt(2.0 / (fan_in + fan_out))
        out = impl.xavier_normal_(torch.empty(shape, dtype=dtype), gain=gain, generator=_gen(seed))
        _observe_normal(f"after xavier_normal_(w, gain={gain:.4g}), w of shape {shape}, {_name(dtype)}", out, std,
                        f"gain * sqrt(2 / (fan_in + fan_out)) = {gain:.4g} * sqrt(2 / ({fan_in} + {fan_out}))")


@pytest.mark.task("xavier_normal_")
def test_xavier_normal_in_place(impl) -> None:
    _observe_in_place(impl, "xavier_normal_")


@pytest.mark.task("xavier_normal_")
def test_xavier_normal_on_a_parameter_that_requires_grad(impl) -> None:
    _observe_parameter(impl, "xavier_normal_")


@pytest.mark.task("xavier_normal_")
def test_xavier_normal_generator_reproduces(impl) -> None:
    _observe_generator(impl, "xavier_normal_")


@pytest.mark.task("xavier_normal_")
def test_xavier_normal_global_rng(impl) -> None:
    _observe_global_rng(impl, "xavier_normal_")


@pytest.mark.task("xavier_normal_")
def test_xavier_normal_by_hand(impl, monkeypatch) -> None:
    _observe_by_hand(impl, "xavier_normal_", monkeypatch, lambda: impl.xavier_normal_(torch.empty(8, 4)))


# --- kaiming_uniform_ -------------------------------------------------------------------------------------

# (shape, keyword arguments, their text, gain, fan name, seed); the first uses the defaults
KAIMING = [((128, 512), {}, "defaults (a=0, mode='fan_in', nonlinearity='leaky_relu')", SQRT2, "fan_in", 21),
           ((128, 512), {"mode": "fan_out", "nonlinearity": "relu"}, "mode='fan_out', nonlinearity='relu'", SQRT2,
            "fan_out", 22),
           ((128, 512), {"a": math.sqrt(5.0)}, "a=sqrt(5) (as nn.Linear initialises its weight)",
            math.sqrt(2.0 / 6.0), "fan_in", 23),
           ((64, 32, 5, 5), {"nonlinearity": "relu"}, "nonlinearity='relu'", SQRT2, "fan_in", 24),
           ((64, 32, 5, 5), {"mode": "fan_out", "nonlinearity": "tanh"}, "mode='fan_out', nonlinearity='tanh'",
            5.0 / 3, "fan_out", 25),
           ((32, 64, 3, 3), {"a": 0.2, "mode": "fan_out"}, "a=0.2, mode='fan_out'", math.sqrt(2.0 / 1.04),
            "fan_out", 26)]
KAIMING_IDS = ["defaults", "fan_out-relu", "a-sqrt5", "conv-relu", "conv-fan_out-tanh", "conv-a0.2-fan_out"]


def _fan(shape: tuple[int, ...], mode: str) -> int:
    return (shape[1] if mode == "fan_in" else shape[0]) * math.prod(shape[2:])


@pytest.mark.task("kaiming_uniform_")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_kaiming_uniform_draws(impl, dtype) -> None:
    for shape, options, text, gain, mode, seed in KAIMING:
        fan = _fan(shape, mode)
        bound = math.sqrt(3.0) * gain / math.sqrt(fan)
        out = impl.kaiming_uniform_(torch.empty(shape, dtype=dtype), generator=_gen(seed), **options)
        _observe_uniform(f"after kaiming_uniform_(w, {text}), w of shape {shape}, {_name(dtype)}", out, bound,
                         f"sqrt(3) * gain / sqrt({mode}) = sqrt(3) * {gain:.6g} / sqrt({fan})")


@pytest.mark.task("kaiming_uniform_")
def test_kaiming_uniform_in_place(impl) -> None:
    _observe_in_place(impl, "kaiming_uniform_", nonlinearity="relu")


@pytest.mark.task("kaiming_uniform_")
def test_kaiming_uniform_on_a_parameter_that_requires_grad(impl) -> None:
    _observe_parameter(impl, "kaiming_uniform_", a=math.sqrt(5.0))


@pytest.mark.task("kaiming_uniform_")
def test_kaiming_uniform_generator_reproduces(impl) -> None:
    _observe_generator(impl, "kaiming_uniform_")


@pytest.mark.task("kaiming_uniform_")
def test_kaiming_uniform_global_rng(impl) -> None:
    _observe_global_rng(impl, "kaiming_uniform_", mode="fan_out")


@pytest.mark.task("kaiming_uniform_")
def test_kaiming_uniform_by_hand(impl, monkeypatch) -> None:
    _observe_by_hand(impl, "kaiming_uniform_", monkeypatch,
                     lambda: impl.kaiming_uniform_(torch.empty(8, 4), a=1.0, mode="fan_out"))


@pytest.mark.task("kaiming_uniform_")
def test_kaiming_uniform_rejects_bad_arguments(impl) -> None:
    for what, options in (("mode='fan_avg'", {"mode": "fan_avg"}), ("nonlinearity='gelu'", {"nonlinearity": "gelu"})):
        with expect_raises(f"kaiming_uniform_(w, {what})", ValueError,
                           explain="mode is 'fan_in' or 'fan_out' and the nonlinearity one of calculate_gain's: "
                                   "ValueError otherwise"):
            impl.kaiming_uniform_(torch.empty(4, 3), **options)


# --- kaiming_normal_ --------------------------------------------------------------------------------------

@pytest.mark.task("kaiming_normal_")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_kaiming_normal_draws(impl, dtype) -> None:
    for shape, options, text, gain, mode, seed in KAIMING:
        fan = _fan(shape, mode)
        out = impl.kaiming_normal_(torch.empty(shape, dtype=dtype), generator=_gen(seed + 10), **options)
        _observe_normal(f"after kaiming_normal_(w, {text}), w of shape {shape}, {_name(dtype)}", out,
                        gain / math.sqrt(fan), f"gain / sqrt({mode}) = {gain:.6g} / sqrt({fan})")


@pytest.mark.task("kaiming_normal_")
def test_kaiming_normal_in_place(impl) -> None:
    _observe_in_place(impl, "kaiming_normal_", mode="fan_out")


@pytest.mark.task("kaiming_normal_")
def test_kaiming_normal_on_a_parameter_that_requires_grad(impl) -> None:
    _observe_parameter(impl, "kaiming_normal_", nonlinearity="relu")


@pytest.mark.task("kaiming_normal_")
def test_kaiming_normal_generator_reproduces(impl) -> None:
    _observe_generator(impl, "kaiming_normal_")


@pytest.mark.task("kaiming_normal_")
def test_kaiming_normal_global_rng(impl) -> None:
    _observe_global_rng(impl, "kaiming_normal_")


@pytest.mark.task("kaiming_normal_")
def test_kaiming_normal_by_hand(impl, monkeypatch) -> None:
    _observe_by_hand(impl, "kaiming_normal_", monkeypatch,
                     lambda: impl.kaiming_normal_(torch.empty(8, 4), nonlinearity="tanh"))


@pytest.mark.task("kaiming_normal_")
def test_kaiming_normal_rejects_bad_arguments(impl) -> None:
    for what, options in (("mode='fan_avg'", {"mode": "fan_avg"}), ("nonlinearity='gelu'", {"nonlinearity": "gelu"})):
        with expect_raises(f"kaiming_normal_(w, {what})", ValueError,
                           explain="mode is 'fan_in' or 'fan_out' and the nonlinearity one of calculate_gain's: "
                                   "ValueError otherwise"):
            impl.kaiming_normal_(torch.empty(4, 3), **options)
