"""Grading tests for the losses exercise. Each test observes; the judge compares with the reference's run.

Every loss is observed three ways: its value, whether it is attached to the autograd graph, and its gradient
with respect to the logits (of a randomly weighted sum of its elements, so that a wrong per-element gradient
cannot hide behind a plain sum). float32 values are compared with rtol = atol = 1e-5, which leaves room for a
different but equally stable formula a few ulps away; float64 values with torch.testing's tight defaults.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from quiz.grading.scenario import expect_raises, observe

# (N, C, dtype): a batch of one, two classes, odd sizes, and double precision.
CE_CASES = [(1, 3, torch.float32), (5, 2, torch.float32), (9, 7, torch.float64), (16, 10, torch.float32)]
REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [torch.float32, torch.float64]
ATTACHED = "the loss is computed from the logits with autograd: a tensor that requires grad (not detached)"


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _tolerance(dtype: torch.dtype) -> dict:
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {}


def _value_and_grad(fn, logits: torch.Tensor, *args, **kwargs):
    """Call a loss on a fresh leaf copy of logits; return the loss and d(weighted sum of loss)/d(logits)."""
    leaf = logits.detach().clone().requires_grad_(True)
    loss = fn(leaf, *args, **kwargs)
    g = torch.Generator().manual_seed(99)
    upstream = torch.rand(loss.shape, generator=g, dtype=loss.dtype) + 0.5
    (grad,) = torch.autograd.grad((loss * upstream).sum(), leaf)
    return loss, grad


def _observe_loss(fn, logits: torch.Tensor, *args, what: str, explain: str = "", expect=None, **kwargs) -> None:
    """Observe the loss, that it requires grad, and its gradient; ``expect``: (value, gradient) worked out here."""
    leaf = logits.detach().clone().requires_grad_(True)
    loss = fn(leaf, *args, **kwargs)
    tolerance = _tolerance(logits.dtype)
    observe(f"{what}: the loss", loss, **tolerance, expect=None if expect is None else expect[0],
            explain=explain)
    observe(f"{what}: requires_grad of the loss", loss.requires_grad, expect=True, explain=ATTACHED)
    g = torch.Generator().manual_seed(99)
    upstream = torch.rand(loss.shape, generator=g, dtype=loss.dtype) + 0.5
    (grad,) = torch.autograd.grad((loss * upstream).sum(), leaf)
    observe(f"{what}: the gradient with respect to the logits", grad, **tolerance,
            expect=None if expect is None else expect[1],
            explain="the loss is right but its gradient is not" + (f"; {explain}" if explain else ""))


# ----------------------------------------------------------------------------------------- cross_entropy


def _ce_inputs(seed: int, n: int, c: int, dtype: torch.dtype, scale: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=dtype) * scale
    targets = torch.randint(0, c, (n,), generator=g)
    weight = torch.rand(c, generator=g, dtype=dtype) * 4 + 0.1
    return logits, targets, weight


@pytest.mark.task("cross_entropy")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_plain(impl, reduction):
    for seed, (n, c, dtype) in enumerate(CE_CASES):
        logits, targets, _ = _ce_inputs(seed, n, c, dtype)
        _observe_loss(impl.cross_entropy, logits, targets, reduction=reduction,
                      what=f"cross_entropy(reduction={reduction!r}) on {_name(dtype)} logits of shape {(n, c)}",
                      explain="loss[i] = -log_softmax(logits)[i, y[i]]; 'none' gives shape (N,), 'sum' and "
                              "'mean' a 0-dim tensor, in the logits' dtype")


@pytest.mark.task("cross_entropy")
def test_cross_entropy_weighted_mean_hand_computed(impl):
    # Two samples, uniform logits over 2 classes: every -log p is log 2. Target weights are 3 and 1, so
    # the weighted mean is (3 log 2 + 1 log 2) / (3 + 1) = log 2, whereas dividing by N=2 gives 2 log 2.
    logits = torch.zeros(2, 2)
    targets = torch.tensor([0, 1])
    weight = torch.tensor([3.0, 1.0])
    observe("cross_entropy of zero logits (2x2), targets [0, 1], weight [3, 1], reduction='mean'",
            impl.cross_entropy(logits, targets, weight=weight), expect=torch.tensor(math.log(2.0)),
            explain="(3 log 2 + 1 log 2) / (3 + 1) = log 2: the weighted mean divides by the sum of the targets' "
                    "weights (4 here), not by N")


@pytest.mark.task("cross_entropy")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_weights(impl, reduction):
    for seed, (n, c, dtype) in enumerate(CE_CASES):
        logits, targets, weight = _ce_inputs(10 + seed, n, c, dtype)
        _observe_loss(impl.cross_entropy, logits, targets, weight=weight, reduction=reduction,
                      what=f"cross_entropy with class weights (reduction={reduction!r}) on {_name(dtype)} logits "
                           f"of shape {(n, c)}",
                      explain="loss[i] = -w[y[i]] * log_softmax(logits)[i, y[i]]; 'mean' divides the summed loss "
                              "by sum_i w[y[i]], the sum of the targets' weights")


@pytest.mark.task("cross_entropy")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_label_smoothing(impl, reduction):
    for seed, (n, c, dtype) in enumerate(CE_CASES):
        logits, targets, _ = _ce_inputs(20 + seed, n, c, dtype)
        for eps in (0.1, 0.35, 1.0):
            _observe_loss(impl.cross_entropy, logits, targets, label_smoothing=eps, reduction=reduction,
                          what=f"cross_entropy(label_smoothing={eps}, reduction={reduction!r}) on {_name(dtype)} "
                               f"logits of shape {(n, c)}",
                          explain="loss = (1 - eps) * nll + (eps / C) * smooth: eps is spread over all C classes, "
                                  "the target included (eps / C each)")


@pytest.mark.task("cross_entropy")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_label_smoothing_with_weights(impl, reduction):
    for seed, (n, c, dtype) in enumerate(CE_CASES):
        logits, targets, weight = _ce_inputs(30 + seed, n, c, dtype)
        _observe_loss(impl.cross_entropy, logits, targets, weight=weight, label_smoothing=0.2, reduction=reduction,
                      what=f"cross_entropy with class weights and label_smoothing=0.2 (reduction={reduction!r}) "
                           f"on {_name(dtype)} logits of shape {(n, c)}",
                      explain="smooth[i] = -sum_c w[c] * logp[i, c]: the smoothing term weights each class c by its "
                              "own w[c]; 'mean' divides by sum_i w[y[i]]")


@pytest.mark.task("cross_entropy")
def test_cross_entropy_large_logits_are_stable(impl):
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(6, 4, generator=g) * 1e4
    # Aim the targets at the least likely class: its softmax probability rounds to 0 in float32.
    targets = logits.argmin(dim=1)
    for kwargs in ({}, {"label_smoothing": 0.1}):
        what = f"cross_entropy({', '.join(f'{k}={v}' for k, v in kwargs.items())}) on logits of size 1e4"
        loss, grad = _value_and_grad(impl.cross_entropy, logits, targets, **kwargs)
        observe(f"{what}: the loss is finite", bool(torch.isfinite(loss).all()), expect=True,
                explain="compute log_softmax stably (subtract the row maximum / use logsumexp), never "
                        "log(softmax(x)) or log(sum(exp(x)))")
        observe(f"{what}: the gradient is finite", bool(torch.isfinite(grad).all()), expect=True,
                explain="compute log_softmax stably (subtract the row maximum / use logsumexp), never "
                        "log(softmax(x)) or log(sum(exp(x)))")
        _observe_loss(impl.cross_entropy, logits, targets, **kwargs, what=what)


@pytest.mark.task("cross_entropy")
def test_cross_entropy_does_not_modify_inputs(impl):
    logits, targets, weight = _ce_inputs(40, 8, 5, torch.float32)
    before = {"logits": logits.clone(), "targets": targets.clone(), "weight": weight.clone()}
    impl.cross_entropy(logits, targets, weight=weight, label_smoothing=0.1)
    for name, tensor in (("logits", logits), ("targets", targets), ("weight", weight)):
        observe(f"{name} after cross_entropy(logits, targets, weight=weight, label_smoothing=0.1)", tensor,
                expect=before[name], exact=True, explain=f"cross_entropy must not change its input {name!r} in place")


@pytest.mark.task("cross_entropy")
def test_cross_entropy_rejects_unknown_reduction(impl):
    logits, targets, _ = _ce_inputs(41, 3, 3, torch.float32)
    with expect_raises("cross_entropy with reduction='avg'", ValueError,
                       explain="reduction must be 'mean', 'sum' or 'none': anything else raises ValueError"):
        impl.cross_entropy(logits, targets, reduction="avg")


# --------------------------------------------------------------------------------------- bce_with_logits


def _bce_inputs(seed: int, shape: tuple[int, ...], dtype: torch.dtype, scale: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(shape, generator=g, dtype=dtype) * scale
    targets = torch.rand(shape, generator=g, dtype=dtype)  # soft labels in [0, 1]
    hard = (torch.rand(shape, generator=g, dtype=dtype) > 0.5).to(dtype)
    pos_weight = torch.rand(shape[-1], generator=g, dtype=dtype) * 5 + 0.2
    return logits, targets, hard, pos_weight


BCE_SHAPES = [
    ((1,), torch.float32),
    ((7,), torch.float64),
    ((5, 3), torch.float32),
    ((4, 2, 6), torch.float32),
]


@pytest.mark.task("bce_with_logits")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches(impl, reduction):
    for seed, (shape, dtype) in enumerate(BCE_SHAPES):
        logits, soft, hard, _ = _bce_inputs(seed, shape, dtype)
        for targets, kind in ((soft, "soft"), (hard, "0/1")):
            _observe_loss(impl.bce_with_logits, logits, targets, reduction=reduction,
                          what=f"bce_with_logits(reduction={reduction!r}) with {kind} targets on {_name(dtype)} "
                               f"logits of shape {shape}",
                          explain="loss = -(targets * log(sigmoid(x)) + (1 - targets) * log(1 - sigmoid(x))) "
                                  "elementwise; 'none' keeps the shape, 'sum' and 'mean' give a 0-dim tensor")


@pytest.mark.task("bce_with_logits")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_pos_weight(impl, reduction):
    for seed, (shape, dtype) in enumerate(BCE_SHAPES):
        logits, soft, _, pos_weight = _bce_inputs(10 + seed, shape, dtype)
        _observe_loss(impl.bce_with_logits, logits, soft, pos_weight=pos_weight, reduction=reduction,
                      what=f"bce_with_logits with pos_weight (reduction={reduction!r}) on {_name(dtype)} logits of "
                           f"shape {shape}",
                      explain="pos_weight multiplies only the positive term targets * log(sigmoid(x)), "
                              "broadcast along the last dimension")


@pytest.mark.task("bce_with_logits")
def test_bce_with_logits_large_logits_are_stable(impl):
    logits = torch.tensor([200.0, -200.0, 1e4, -1e4, 30.0, -30.0])
    targets = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0])  # every one confidently wrong
    what = "bce_with_logits(reduction='none') on confidently wrong logits ±30, ±200, ±1e4"
    loss, grad = _value_and_grad(impl.bce_with_logits, logits, targets, reduction="none")
    explain = ("compute log(sigmoid(x)) from the logits (e.g. -softplus(-x)), never as log(sigmoid(x)) after the "
               "sigmoid has rounded to 0 or 1")
    observe(f"{what}: the loss is finite", bool(torch.isfinite(loss).all()), expect=True, explain=explain)
    observe(f"{what}: the gradient is finite", bool(torch.isfinite(grad).all()), expect=True, explain=explain)
    _observe_loss(impl.bce_with_logits, logits, targets, reduction="none", what=what)


@pytest.mark.task("bce_with_logits")
def test_bce_with_logits_does_not_modify_inputs(impl):
    logits, soft, _, pos_weight = _bce_inputs(42, (4, 3), torch.float32)
    before = {"logits": logits.clone(), "targets": soft.clone(), "pos_weight": pos_weight.clone()}
    impl.bce_with_logits(logits, soft, pos_weight=pos_weight)
    for name, tensor in (("logits", logits), ("targets", soft), ("pos_weight", pos_weight)):
        observe(f"{name} after bce_with_logits(logits, targets, pos_weight=pos_weight)", tensor,
                expect=before[name], exact=True,
                explain=f"bce_with_logits must not change its input {name!r} in place")


@pytest.mark.task("bce_with_logits")
def test_bce_with_logits_rejects_unknown_reduction(impl):
    with expect_raises("bce_with_logits with reduction='batchmean'", ValueError,
                       explain="reduction must be 'mean', 'sum' or 'none': anything else raises ValueError"):
        impl.bce_with_logits(torch.zeros(3), torch.ones(3), reduction="batchmean")


# ------------------------------------------------------------------------------------------ focal_loss


def _torch_bce(logits: torch.Tensor, targets: torch.Tensor, reduction: str):
    """PyTorch's own binary cross-entropy and its gradient, the same way _observe_loss takes them."""
    return _value_and_grad(lambda x: F.binary_cross_entropy_with_logits(x, targets, reduction=reduction), logits)


@pytest.mark.task("focal_loss")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_loss_gamma_zero_is_bce(impl, reduction):
    for seed, (shape, dtype) in enumerate(BCE_SHAPES):
        logits, _, hard, _ = _bce_inputs(20 + seed, shape, dtype)
        value, grad = _torch_bce(logits, hard, reduction)
        _observe_loss(impl.focal_loss, logits, hard, gamma=0.0, alpha=None, reduction=reduction,
                      what=f"focal_loss(gamma=0, alpha=None, reduction={reduction!r}) on {_name(dtype)} logits of "
                           f"shape {shape}",
                      expect=(value.detach(), grad),
                      explain="with gamma = 0 and no alpha the focal loss is the binary cross-entropy "
                              "(F.binary_cross_entropy_with_logits)")


@pytest.mark.task("focal_loss")
def test_focal_loss_hand_computed(impl):
    # Logit 0 means p = 0.5, so p_t = 0.5 for either label and (1 - p_t)^2 = 0.25, -log p_t = log 2.
    # alpha = 0.25: the positive gets 0.25, the negative 0.75.
    got = impl.focal_loss(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0]), gamma=2.0, alpha=0.25,
                          reduction="none")
    observe("focal_loss(gamma=2, alpha=0.25, reduction='none') at logits [0, 0] (p = 0.5), targets [1, 0]", got,
            expect=torch.tensor([0.25 * 0.25 * math.log(2.0), 0.75 * 0.25 * math.log(2.0)]),
            explain="alpha_t * (1 - p_t)^2 * -log(p_t) = alpha_t * 0.25 * log 2, with alpha_t = 0.25 for the "
                    "positive and 1 - 0.25 = 0.75 for the negative")
    # A confident, correct positive (p = sigmoid(3)) and a confident, correct negative (p = sigmoid(-3))
    # are equally easy: the modulating factor must be (1 - p_t)^gamma, not (1 - p)^gamma.
    got = impl.focal_loss(torch.tensor([3.0, -3.0]), torch.tensor([1.0, 0.0]), gamma=2.0, reduction="none")
    p_t = torch.sigmoid(torch.tensor(3.0))
    easy = (1 - p_t) ** 2 * -torch.log(p_t)
    observe("focal_loss(gamma=2, reduction='none') of an easy positive (logit 3) and an easy negative (logit -3)",
            got, expect=torch.stack([easy, easy]),
            explain="the two are equally easy, so their losses are equal: the factor is (1 - p_t)^gamma, where p_t "
                    "is the probability of the true class")


@pytest.mark.task("focal_loss")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_loss_matches(impl, reduction):
    for seed, (shape, dtype) in enumerate(BCE_SHAPES):
        logits, _, hard, _ = _bce_inputs(30 + seed, shape, dtype)
        for gamma in (0.5, 2.0, 3.0):
            for alpha in (None, 0.25, 0.9):
                _observe_loss(impl.focal_loss, logits, hard, gamma=gamma, alpha=alpha, reduction=reduction,
                              what=f"focal_loss(gamma={gamma}, alpha={alpha}, reduction={reduction!r}) on "
                                   f"{_name(dtype)} logits of shape {shape}",
                              explain="loss = -alpha_t * (1 - p_t) ** gamma * log(p_t) elementwise, alpha_t = alpha "
                                      "for positives and 1 - alpha for negatives (1 when alpha is None)")


@pytest.mark.task("focal_loss")
def test_focal_loss_large_logits_are_stable(impl):
    logits = torch.tensor([200.0, -200.0, 1e4, -1e4, 200.0, -200.0])
    targets = torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])  # four confidently wrong, two confidently right
    for alpha in (None, 0.25):
        what = f"focal_loss(alpha={alpha}, reduction='none') on logits ±200 and ±1e4"
        loss, grad = _value_and_grad(impl.focal_loss, logits, targets, alpha=alpha, reduction="none")
        explain = "compute log(p_t) stably from the logits (it is minus the binary cross-entropy with logits)"
        observe(f"{what}: the loss is finite", bool(torch.isfinite(loss).all()), expect=True, explain=explain)
        observe(f"{what}: the gradient is finite", bool(torch.isfinite(grad).all()), expect=True, explain=explain)
        _observe_loss(impl.focal_loss, logits, targets, alpha=alpha, reduction="none", what=what)


# Confident predictions whose sigmoid rounds to exactly 0 or 1: |x| = 30 in float32, 100 and 1e4 in both dtypes.
CONFIDENT = [30.0, -30.0, 100.0, -100.0, 1e4, -1e4]


@pytest.mark.task("focal_loss")
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("correct", [True, False], ids=["confidently_right", "confidently_wrong"])
def test_focal_loss_gradient_is_finite_when_confident(impl, dtype, gamma, correct):
    logits = torch.tensor(CONFIDENT, dtype=dtype)
    right = (logits > 0).to(dtype)
    targets = right if correct else 1.0 - right
    kind = "right" if correct else "wrong"
    for alpha in (None, 0.25):
        what = (f"focal_loss(gamma={gamma}, alpha={alpha}, reduction='none') on {_name(dtype)} logits ±30, ±100, "
                f"±1e4, all confidently {kind}")
        loss, grad = _value_and_grad(impl.focal_loss, logits, targets, gamma=gamma, alpha=alpha, reduction="none")
        observe(f"{what}: the loss is finite", bool(torch.isfinite(loss).all()), expect=True,
                explain="compute log(p_t) stably from the logits (it is minus the binary cross-entropy with logits)")
        observe(f"{what}: the gradient is finite", bool(torch.isfinite(grad).all()), expect=True,
                explain="the gradient stays finite where sigmoid(x) rounds to 0 or 1: for 0 < gamma < 1, "
                        "(1 - p_t) ** gamma has an infinite slope at p_t = 1 and inf * 0 gives NaN, so take "
                        "(1 - p_t) ** gamma from the logits too, e.g. exp(gamma * logsigmoid(-x)) for a positive")
        _observe_loss(impl.focal_loss, logits, targets, gamma=gamma, alpha=alpha, reduction="none", what=what)


@pytest.mark.task("focal_loss")
def test_focal_loss_does_not_modify_inputs(impl):
    logits, _, hard, _ = _bce_inputs(43, (4, 3), torch.float32)
    before = {"logits": logits.clone(), "targets": hard.clone()}
    impl.focal_loss(logits, hard, gamma=2.0, alpha=0.25)
    for name, tensor in (("logits", logits), ("targets", hard)):
        observe(f"{name} after focal_loss(logits, targets, gamma=2, alpha=0.25)", tensor, expect=before[name],
                exact=True, explain=f"focal_loss must not change its input {name!r} in place")


@pytest.mark.task("focal_loss")
def test_focal_loss_rejects_unknown_reduction(impl):
    with expect_raises("focal_loss with reduction='elementwise_mean'", ValueError,
                       explain="reduction must be 'mean', 'sum' or 'none': anything else raises ValueError"):
        impl.focal_loss(torch.zeros(3), torch.ones(3), reduction="elementwise_mean")
