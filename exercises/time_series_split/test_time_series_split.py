"""Grading tests for the time_series_split exercise. Leakage is checked by construction: a series whose
values are its own step numbers shows which steps every window and every split uses, and a huge spike put
into the validation window must change nothing that is fitted or trained on."""

from __future__ import annotations

import pytest
import torch

from quiz.grading.scenario import expect_raises, observe

f64 = torch.float64
DTYPES = [torch.float32, torch.float64]


def _randn(seed: int, *shape: int, dtype: torch.dtype = f64) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _steps(t: int, f: int = 1, dtype: torch.dtype = f64) -> torch.Tensor:
    """A (t, f) series whose value at step s, feature j, is s + 1000 * j: every value names its step."""
    return (torch.arange(t, dtype=dtype)[:, None] + 1000 * torch.arange(f, dtype=dtype)).contiguous()


# --- time_split -------------------------------------------------------------------------------------------

@pytest.mark.task("time_split")
def test_time_split_worked_example(impl) -> None:
    train, val = impl.time_split(10, 3)
    observe("train_idx from time_split(10, 3)", train, expect=torch.arange(7), exact=True,
            explain="the training window is the first n - n_val steps, 0 .. 6, in order (no shuffling), int64")
    observe("val_idx from time_split(10, 3)", val, expect=torch.arange(7, 10), exact=True,
            explain="the validation window is the last n_val steps, 7 .. 9, in order: strictly after training")


@pytest.mark.task("time_split")
@pytest.mark.parametrize("n,n_val", [(2, 1), (100, 20), (365, 28)], ids=["2-1", "100-20", "365-28"])
def test_time_split_is_chronological(impl, n: int, n_val: int) -> None:
    train, val = impl.time_split(n, n_val)
    observe(f"(len(train_idx), len(val_idx)) from time_split({n}, {n_val})", (len(train), len(val)),
            expect=(n - n_val, n_val), explain="n - n_val training steps and n_val validation steps")
    observe(f"last training step and first validation step from time_split({n}, {n_val})",
            (int(train.max()), int(val.min())) if len(train) and len(val) else None, expect=(n - n_val - 1, n - n_val),
            explain="no shuffling: every validation step comes after every training step, with no overlap")
    observe(f"train_idx and val_idx concatenated, time_split({n}, {n_val})", torch.cat((train, val)),
            expect=torch.arange(n), exact=True, explain="together the two parts are every step once, in order")


@pytest.mark.task("time_split")
@pytest.mark.parametrize("n,n_val", [(10, 0), (10, 10), (10, -1)], ids=["n_val-0", "n_val-n", "n_val-negative"])
def test_time_split_rejects_empty_parts(impl, n: int, n_val: int) -> None:
    with expect_raises(f"time_split({n}, {n_val})", ValueError,
                       explain="both parts must be non-empty: n_val must be in [1, n)"):
        impl.time_split(n, n_val)


# --- StandardScaler ---------------------------------------------------------------------------------------

@pytest.mark.task("StandardScaler")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_scaler_statistics(impl, dtype: torch.dtype) -> None:
    x = _randn(1, 12, 3, dtype=dtype) * torch.tensor([1.0, 5.0, 0.1], dtype=dtype) + torch.tensor(
        [0.0, -20.0, 3.0], dtype=dtype)
    scaler = impl.StandardScaler()
    returned = scaler.fit(x)
    observe("StandardScaler().fit(x) returns the scaler itself", returned is scaler, expect=True,
            explain="fit returns self, so StandardScaler().fit(train) can be chained")
    observe(f"mean_ after fit on a (12, 3) {dtype} tensor", scaler.mean_, expect=x.mean(0),
            explain="mean_ is the mean over the time axis (dim 0), one per feature, x's dtype")
    observe(f"std_ after fit on a (12, 3) {dtype} tensor", scaler.std_, expect=x.std(0, correction=0),
            explain="std_ is the population standard deviation over dim 0 (divide by T, correction=0), one per "
                    "feature")


@pytest.mark.task("StandardScaler")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_scaler_transforms_other_data_with_the_fitted_statistics(impl, dtype: torch.dtype) -> None:
    train = _randn(2, 20, 2, dtype=dtype) * 3 + 7
    val = _randn(3, 6, 2, dtype=dtype) * 10 - 50
    mean, std = train.mean(0), train.std(0, correction=0)
    scaler = impl.StandardScaler().fit(train)
    scaled_train = scaler.transform(train)
    observe("mean and population std of transform(train) over dim 0",
            torch.stack((scaled_train.mean(0), scaled_train.std(0, correction=0))),
            expect=torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=dtype),
            explain="the training window itself transforms to mean 0 and std 1 per feature")
    observe("transform(val) of a scaler fitted on train", scaler.transform(val), expect=(val - mean) / std,
            explain="(x - mean_) / std_ with the training window's statistics: validation data is scaled with "
                    "them, never with its own")
    observe("mean_ and std_ after transform(val)", torch.stack((scaler.mean_, scaler.std_)),
            expect=torch.stack((mean, std)), explain="transform never refits: the statistics stay the training "
                                                     "window's")
    observe("val after the call", val, expect=_randn(3, 6, 2, dtype=dtype) * 10 - 50, exact=True,
            explain="transform returns a new tensor and leaves its input as it was")


@pytest.mark.task("StandardScaler")
def test_scaler_inverse_transform(impl) -> None:
    train = _randn(4, 15, 3) * 4 + 2
    scaler = impl.StandardScaler().fit(train)
    z = _randn(5, 2, 5, 3)  # any (..., F) shape: here forecast windows (B, H, F)
    observe("inverse_transform(z) on a (2, 5, 3) tensor", scaler.inverse_transform(z),
            expect=z * train.std(0, correction=0) + train.mean(0),
            explain="inverse_transform is z * std_ + mean_: forecasts back in the original units")
    observe("inverse_transform(transform(train)) - train", scaler.inverse_transform(scaler.transform(train)) - train,
            expect=torch.zeros(15, 3, dtype=f64), explain="the two are inverses of each other")


@pytest.mark.task("StandardScaler")
def test_scaler_constant_feature(impl) -> None:
    x = torch.cat((_randn(6, 8, 1), torch.full((8, 1), 4.0, dtype=f64)), dim=1)
    scaler = impl.StandardScaler().fit(x)
    observe("std_ of a feature that is constant (4.0) in the training window", scaler.std_[1],
            expect=torch.tensor(1.0, dtype=f64), explain="a std of 0 is replaced by 1, so nothing divides by 0")
    observe("transform(x)[:, 1] for that constant feature", scaler.transform(x)[:, 1],
            expect=torch.zeros(8, dtype=f64), explain="a constant feature transforms to 0, not nan")


@pytest.mark.task("StandardScaler")
def test_scaler_before_fit(impl) -> None:
    scaler = impl.StandardScaler()
    observe("(mean_, std_) of a new StandardScaler()", (scaler.mean_, scaler.std_), expect=(None, None),
            explain="an unfitted scaler has no statistics yet")
    with expect_raises("transform before fit", RuntimeError,
                       explain="transform needs fitted statistics: RuntimeError before fit"):
        scaler.transform(_randn(7, 3, 2))


# --- make_windows -----------------------------------------------------------------------------------------

@pytest.mark.task("make_windows")
def test_make_windows_worked_example(impl) -> None:
    inputs, targets = impl.make_windows(_steps(8), 3, 2)
    observe("inputs from make_windows(steps 0..7, input_len=3, horizon=2), as step numbers", inputs[..., 0],
            expect=torch.tensor([[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]], dtype=f64),
            explain="window i's inputs are steps i .. i + input_len - 1, time on dim 1 of (N, input_len, F), and "
                    "every window that fits is made: N = T - input_len - horizon + 1 = 4")
    observe("targets from make_windows(steps 0..7, input_len=3, horizon=2), as step numbers", targets[..., 0],
            expect=torch.tensor([[3, 4], [4, 5], [5, 6], [6, 7]], dtype=f64),
            explain="window i's targets are the next horizon steps after its inputs, i + input_len .. "
                    "i + input_len + horizon - 1: they never overlap the inputs")
    observe("shapes of inputs and targets", (tuple(inputs.shape), tuple(targets.shape)),
            expect=((4, 3, 1), (4, 2, 1)), explain="inputs (N, input_len, F) and targets (N, horizon, F)")


@pytest.mark.task("make_windows")
def test_make_windows_stride(impl) -> None:
    inputs, targets = impl.make_windows(_steps(11), 4, 1, stride=3)
    observe("first input step and target step of each window, make_windows(steps 0..10, 4, 1, stride=3)",
            torch.stack((inputs[:, 0, 0], targets[:, 0, 0]), dim=1),
            expect=torch.tensor([[0, 4], [3, 7], [6, 10]], dtype=f64),
            explain="window i starts at step i * stride; N = (T - input_len - horizon) // stride + 1 = 3")


@pytest.mark.task("make_windows")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_make_windows_several_features(impl, dtype: torch.dtype) -> None:
    series = _randn(8, 9, 3, dtype=dtype)
    inputs, targets = impl.make_windows(series, 4, 3)
    observe(f"inputs from make_windows on a (9, 3) {dtype} series, input_len=4, horizon=3", inputs,
            expect=torch.stack([series[i:i + 4] for i in range(3)]),
            explain="inputs[i] is series[i : i + input_len], all features, time first: (N, input_len, F)")
    observe(f"targets from make_windows on a (9, 3) {dtype} series", targets,
            expect=torch.stack([series[i + 4:i + 7] for i in range(3)]),
            explain="targets[i] is series[i + input_len : i + input_len + horizon]: (N, horizon, F)")


@pytest.mark.task("make_windows")
def test_make_windows_exact_length(impl) -> None:
    inputs, targets = impl.make_windows(_steps(5, 2), 3, 2)
    observe("shapes from make_windows on a series of exactly input_len + horizon = 5 steps",
            (tuple(inputs.shape), tuple(targets.shape)), expect=((1, 3, 2), (1, 2, 2)),
            explain="a series of input_len + horizon steps holds exactly one window")


@pytest.mark.task("make_windows")
@pytest.mark.parametrize("t,input_len,horizon,stride", [(4, 3, 2, 1), (8, 0, 2, 1), (8, 3, 0, 1), (8, 3, 2, 0)],
                         ids=["too-short", "input_len-0", "horizon-0", "stride-0"])
def test_make_windows_rejects(impl, t: int, input_len: int, horizon: int, stride: int) -> None:
    with expect_raises(f"make_windows on {t} steps with input_len={input_len}, horizon={horizon}, stride={stride}",
                       ValueError, explain="ValueError when not even one window fits, or when input_len, horizon "
                                           "or stride is below 1"):
        impl.make_windows(_steps(t), input_len, horizon, stride)


# --- build_datasets ---------------------------------------------------------------------------------------

@pytest.mark.task("build_datasets")
def test_build_datasets_uses_the_right_steps(impl) -> None:
    series = _steps(20)
    train_x, train_y, val_x, val_y, scaler = impl.build_datasets(series, 6, 3, 2)
    mean, std = series[:14].mean(0), series[:14].std(0, correction=0)
    observe("scaler.mean_ and scaler.std_ from build_datasets(steps 0..19, n_val=6, 3, 2)",
            torch.stack((scaler.mean_, scaler.std_)), expect=torch.stack((mean, std)),
            explain="the scaler is fitted on the training window (steps 0..13) only")
    observe("step numbers of the training targets, unscaled", (train_y * std + mean)[..., 0],
            expect=torch.stack([torch.arange(i + 3, i + 5, dtype=f64) for i in range(10)]),
            explain="training windows lie inside steps 0..13: the last one's targets are steps 12 and 13, never a "
                    "validation step")
    observe("step numbers of the training inputs, unscaled", (train_x * std + mean)[..., 0],
            expect=torch.stack([torch.arange(i, i + 3, dtype=f64) for i in range(10)]),
            explain="training window i's inputs are steps i .. i + 2 of the training window")
    observe("step numbers of the validation inputs, unscaled", (val_x * std + mean)[..., 0],
            expect=torch.stack([torch.arange(i, i + 3, dtype=f64) for i in range(14, 16)]),
            explain="validation windows lie inside steps 14..19, scaled with the training window's statistics")
    observe("step numbers of the validation targets, unscaled", (val_y * std + mean)[..., 0],
            expect=torch.stack([torch.arange(i + 3, i + 5, dtype=f64) for i in range(14, 16)]),
            explain="validation window i's targets are the 2 steps after its inputs, all in the validation window")


@pytest.mark.task("build_datasets")
def test_build_datasets_ignores_a_validation_spike(impl) -> None:
    series = _randn(10, 40, 2) * 5 + 100
    spiked = series.clone()
    spiked[33, 0] = 1e6  # a huge spike inside the validation window (steps 30..39)
    clean = impl.build_datasets(series, 10, 4, 2)
    spike = impl.build_datasets(spiked, 10, 4, 2)
    observe("change of scaler.mean_ and scaler.std_ when a validation step becomes 1e6",
            torch.stack((spike[4].mean_ - clean[4].mean_, spike[4].std_ - clean[4].std_)),
            expect=torch.zeros(2, 2, dtype=f64), exact=True,
            explain="the statistics come from the training window only: nothing in the validation window moves them")
    observe("change of train_x and train_y when a validation step becomes 1e6",
            [spike[0] - clean[0], spike[1] - clean[1]],
            expect=[torch.zeros(25, 4, 2, dtype=f64), torch.zeros(25, 2, 2, dtype=f64)], exact=True,
            explain="no training window contains a validation step, as input or as target, and the scaling is the "
                    "training window's")
    observe("the spike in the validation inputs, scaled", spike[2][:, :, 0].max(),
            expect=(1e6 - series[:30, 0].mean()) / series[:30, 0].std(correction=0),
            explain="the validation window is scaled with the training statistics, so the spike stays huge")
    observe("val_x and val_y of the spiked series", [spike[2], spike[3]],
            explain="the validation windows, each inside steps 30..39, scaled with the training statistics")


@pytest.mark.task("build_datasets")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_build_datasets_values(impl, dtype: torch.dtype) -> None:
    series = _randn(11, 30, 3, dtype=dtype) * 2 + 1
    train_x, train_y, val_x, val_y, scaler = impl.build_datasets(series, 9, 5, 3)
    observe(f"shapes from build_datasets on a (30, 3) {dtype} series, n_val=9, input_len=5, horizon=3",
            [tuple(t.shape) for t in (train_x, train_y, val_x, val_y)],
            expect=[(14, 5, 3), (14, 3, 3), (2, 5, 3), (2, 3, 3)],
            explain="each part makes its own windows: 21 - 5 - 3 + 1 = 14 training, 9 - 5 - 3 + 1 = 2 validation")
    observe(f"train_x, train_y, val_x, val_y from build_datasets ({dtype})", [train_x, train_y, val_x, val_y],
            explain="split by time, scaled with the training window's statistics, windowed inside each part")


@pytest.mark.task("build_datasets")
def test_build_datasets_rejects_a_short_validation_window(impl) -> None:
    with expect_raises("build_datasets with n_val=4 when input_len + horizon = 5", ValueError,
                       explain="the validation window must hold at least one window: ValueError"):
        impl.build_datasets(_randn(12, 30, 1), 4, 3, 2)


# --- ForecastHead and forecast_loss -------------------------------------------------------------------------

def _head(impl, seed: int, input_len: int, horizon: int, n_features: int, hidden: int):
    torch.manual_seed(seed)
    head = impl.ForecastHead(input_len, horizon, n_features, hidden).to(f64)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(head.named_parameters()):
            p.copy_(torch.randn(p.shape, generator=gen, dtype=f64))
    return head


def _expected_head(seed: int, x: torch.Tensor, horizon: int, n_features: int, hidden: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    in_f = x.size(1) * x.size(2)
    # sorted names: hidden.bias, hidden.weight, out.bias, out.weight
    hb = torch.randn(hidden, generator=gen, dtype=f64)
    hw = torch.randn(hidden, in_f, generator=gen, dtype=f64)
    ob = torch.randn(horizon * n_features, generator=gen, dtype=f64)
    ow = torch.randn(horizon * n_features, hidden, generator=gen, dtype=f64)
    h = torch.relu(x.flatten(1) @ hw.T + hb)
    return (h @ ow.T + ob).view(x.size(0), horizon, n_features)


@pytest.mark.task("ForecastHead")
def test_head_parameters(impl) -> None:
    torch.manual_seed(20)
    head = impl.ForecastHead(6, 3, 2, 16)
    observe("parameter names and shapes of ForecastHead(6, 3, 2, hidden=16)",
            {name: tuple(p.shape) for name, p in head.named_parameters()},
            expect={"hidden.weight": (16, 12), "hidden.bias": (16,), "out.weight": (6, 16), "out.bias": (6,)},
            explain="hidden = nn.Linear(input_len * n_features, hidden), out = nn.Linear(hidden, horizon * "
                    "n_features)")


@pytest.mark.task("ForecastHead")
def test_head_outputs_raw_values(impl) -> None:
    head = _head(impl, 21, 4, 3, 2, 8)
    x = _randn(22, 5, 4, 2)
    out = head(x)
    observe("ForecastHead(4, 3, 2, 8) output on a (5, 4, 2) batch", out, expect=_expected_head(21, x, 3, 2, 8),
            explain="out(relu(hidden(x.flatten(1)))) reshaped to (B, horizon, n_features), with no activation "
                    "after out: raw values, negative or far above 1")


@pytest.mark.task("ForecastHead")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_head_shape_and_dtype(impl, dtype: torch.dtype) -> None:
    torch.manual_seed(23)
    head = impl.ForecastHead(5, 2, 1, 12).to(dtype)
    out = head(_randn(24, 7, 5, 1, dtype=dtype))
    observe(f"shape and dtype of ForecastHead(5, 2, 1, 12) output on a (7, 5, 1) {dtype} batch",
            (tuple(out.shape), str(out.dtype)), expect=((7, 2, 1), str(dtype)),
            explain="one forecast per window, horizon steps, n_features features: (B, horizon, n_features)")
    observe(f"ForecastHead(5, 2, 1, 12) output ({dtype}, weights from torch.manual_seed(23))", out,
            explain="build hidden first, then out, with nn.Linear's own initialisation")


@pytest.mark.task("ForecastHead")
@pytest.mark.parametrize("kind", ["mse", "l1"])
def test_forecast_loss_values_and_gradient(impl, kind: str) -> None:
    pred = _randn(25, 4, 3, 2).requires_grad_()
    target = _randn(26, 4, 3, 2) * 3
    loss = impl.forecast_loss(pred, target, kind)
    diff = pred.detach() - target
    expected = diff.pow(2).mean() if kind == "mse" else diff.abs().mean()
    observe(f"forecast_loss(pred, target, {kind!r})", loss, expect=expected,
            explain="mse: mean of (pred - target) ** 2; l1: mean of |pred - target|; over every element, a 0-dim "
                    "tensor")
    loss.backward()
    grad = 2 * diff / diff.numel() if kind == "mse" else diff.sign() / diff.numel()
    observe(f"gradient of forecast_loss({kind!r}) with respect to pred", pred.grad, expect=grad,
            explain="the loss is computed on the raw forecasts, so gradients reach them: 2 (pred - target) / N for "
                    "mse, sign(pred - target) / N for l1")


@pytest.mark.task("ForecastHead")
@pytest.mark.parametrize("case", ["cross_entropy", "shape_mismatch"])
def test_forecast_loss_rejects(impl, case: str) -> None:
    pred, target = _randn(27, 4, 3, 1), _randn(28, 4, 3, 1)
    if case == "cross_entropy":
        with expect_raises("forecast_loss(pred, target, 'cross_entropy')", ValueError,
                           explain="only 'mse' and 'l1': there is no classification loss for a sales figure"):
            impl.forecast_loss(pred, target, "cross_entropy")
    else:
        with expect_raises("forecast_loss with pred (4, 3, 1) and target (4, 1, 3)", ValueError,
                           explain="pred and target must have the same shape (no silent broadcasting)"):
            impl.forecast_loss(pred, target.transpose(1, 2))


@pytest.mark.task("ForecastHead")
def test_head_trains_on_windows(impl) -> None:
    steps = torch.arange(80, dtype=f64)
    series = torch.stack((torch.sin(steps / 5) * 50 + 200, torch.cos(steps / 7) * 20 - 10), dim=1)
    train_x, train_y, _, _, _ = impl.build_datasets(series, 20, 8, 2)
    torch.manual_seed(29)
    head = impl.ForecastHead(8, 2, 2, 16).to(f64)
    optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = impl.forecast_loss(head(train_x), train_y, "mse")
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    observe("training MSE after 30 SGD steps is below a third of the first step's", losses[-1] < losses[0] / 3,
            expect=True, explain="a regression head on raw outputs, trained with MSE on scaled windows, learns a "
                                 "smooth series quickly")
    observe("ForecastHead weights after 30 SGD steps on the training windows", head.state_dict(),
            explain="the whole pipeline and head: same windows, same scaling, same loss, same weights")
