"""Grading tests for the losses exercise: values and gradients against the reference."""

import math

import pytest
import torch

# (N, C, dtype): a batch of one, two classes, odd sizes, and double precision.
CE_CASES = [(1, 3, torch.float32), (5, 2, torch.float32), (9, 7, torch.float64), (16, 10, torch.float32)]
REDUCTIONS = ["mean", "sum", "none"]


def _ce_inputs(seed: int, n: int, c: int, dtype: torch.dtype, scale: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=dtype) * scale
    targets = torch.randint(0, c, (n,), generator=g)
    weight = torch.rand(c, generator=g, dtype=dtype) * 4 + 0.1
    return logits, targets, weight


def _value_and_grad(fn, logits: torch.Tensor, *args, **kwargs):
    """Call a loss on a fresh leaf copy of logits; return the loss and d(sum of loss)/d(logits)."""
    leaf = logits.detach().clone().requires_grad_(True)
    loss = fn(leaf, *args, **kwargs)
    assert isinstance(loss, torch.Tensor), f"expected a tensor, got {type(loss).__name__}"
    assert loss.requires_grad, "the loss does not depend on the logits through autograd (was it detached?)"
    # Weight the elements so that a wrong per-element gradient cannot hide behind a sum.
    g = torch.Generator().manual_seed(99)
    upstream = torch.rand(loss.shape, generator=g, dtype=loss.dtype) + 0.5
    (grad,) = torch.autograd.grad((loss * upstream).sum(), leaf)
    return loss.detach(), grad


def _compare(submission_fn, reference_fn, logits, *args, what: str, **kwargs) -> None:
    got, got_grad = _value_and_grad(submission_fn, logits, *args, **kwargs)
    want, want_grad = _value_and_grad(reference_fn, logits, *args, **kwargs)
    # float32 leaves room for a different but equally stable formula (a few ulps apart); float64 is tight.
    tol = {"rtol": 1e-5, "atol": 1e-5} if logits.dtype == torch.float32 else {}
    torch.testing.assert_close(
        got, want, **tol, msg=lambda m: f"{what}: the loss differs from the expected one.\n{m}"
    )
    torch.testing.assert_close(
        got_grad, want_grad, **tol, msg=lambda m: f"{what}: the loss is right but its gradient is not.\n{m}"
    )


# ----------------------------------------------------------------------------------------- cross_entropy


@pytest.mark.task("cross_entropy")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_plain(submission, reference, reduction):
    for seed, (n, c, dtype) in enumerate(CE_CASES):
        logits, targets, _ = _ce_inputs(seed, n, c, dtype)
        _compare(
            submission.cross_entropy,
            reference.cross_entropy,
            logits,
            targets,
            reduction=reduction,
            what=f"cross_entropy(reduction={reduction!r}) on logits of shape {(n, c)}, {dtype}",
        )


@pytest.mark.task("cross_entropy")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_weights(submission, reference, reduction):
    for seed, (n, c, dtype) in enumerate(CE_CASES):
        logits, targets, weight = _ce_inputs(10 + seed, n, c, dtype)
        _compare(
            submission.cross_entropy,
            reference.cross_entropy,
            logits,
            targets,
            weight=weight,
            reduction=reduction,
            what=f"cross_entropy with class weights (reduction={reduction!r}, shape {(n, c)}); the weighted "
            "mean divides by the sum of the targets' weights, not by the batch size",
        )


@pytest.mark.task("cross_entropy")
def test_cross_entropy_weighted_mean_hand_computed(submission):
    # Two samples, uniform logits over 2 classes: every -log p is log 2. Target weights are 3 and 1, so
    # the weighted mean is (3 log 2 + 1 log 2) / (3 + 1) = log 2, whereas dividing by N=2 gives 2 log 2.
    logits = torch.zeros(2, 2)
    targets = torch.tensor([0, 1])
    weight = torch.tensor([3.0, 1.0])
    loss = submission.cross_entropy(logits, targets, weight=weight)
    torch.testing.assert_close(
        loss.detach(),
        torch.tensor(math.log(2.0)),
        msg=lambda m: f"the weighted mean must divide by the sum of the targets' weights (4 here).\n{m}",
    )


@pytest.mark.task("cross_entropy")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_label_smoothing(submission, reference, reduction):
    for seed, (n, c, dtype) in enumerate(CE_CASES):
        logits, targets, _ = _ce_inputs(20 + seed, n, c, dtype)
        for eps in (0.1, 0.35, 1.0):
            _compare(
                submission.cross_entropy,
                reference.cross_entropy,
                logits,
                targets,
                label_smoothing=eps,
                reduction=reduction,
                what=f"cross_entropy(label_smoothing={eps}, reduction={reduction!r}); eps is spread over all "
                "C classes, the target included (eps / C each)",
            )


@pytest.mark.task("cross_entropy")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_label_smoothing_with_weights(submission, reference, reduction):
    for seed, (n, c, dtype) in enumerate(CE_CASES):
        logits, targets, weight = _ce_inputs(30 + seed, n, c, dtype)
        _compare(
            submission.cross_entropy,
            reference.cross_entropy,
            logits,
            targets,
            weight=weight,
            label_smoothing=0.2,
            reduction=reduction,
            what=f"cross_entropy with weights and label_smoothing=0.2 (reduction={reduction!r}); the "
            "smoothing term weights each class c by w[c]",
        )


@pytest.mark.task("cross_entropy")
def test_cross_entropy_large_logits_are_stable(submission, reference):
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(6, 4, generator=g) * 1e4
    # Aim the targets at the least likely class: its softmax probability rounds to 0 in float32.
    targets = logits.argmin(dim=1)
    for kwargs in ({}, {"label_smoothing": 0.1}):
        got, got_grad = _value_and_grad(submission.cross_entropy, logits, targets, **kwargs)
        assert torch.isfinite(got).all() and torch.isfinite(got_grad).all(), (
            f"cross_entropy({kwargs}) with logits of size 1e4 gave {got.item()} or a non-finite gradient: "
            "compute log_softmax stably (subtract the row maximum / use logsumexp), never log(softmax(x))"
        )
        _compare(
            submission.cross_entropy,
            reference.cross_entropy,
            logits,
            targets,
            **kwargs,
            what=f"cross_entropy({kwargs}) with logits of size 1e4",
        )


@pytest.mark.task("cross_entropy")
def test_cross_entropy_does_not_modify_inputs(submission):
    logits, targets, weight = _ce_inputs(40, 8, 5, torch.float32)
    before = (logits.clone(), targets.clone(), weight.clone())
    submission.cross_entropy(logits, targets, weight=weight, label_smoothing=0.1)
    for name, old, new in zip(
        ("logits", "targets", "weight"), before, (logits, targets, weight), strict=True
    ):
        assert torch.equal(old, new), f"cross_entropy changed its input {name!r} in place"


@pytest.mark.task("cross_entropy")
def test_cross_entropy_rejects_unknown_reduction(submission):
    logits, targets, _ = _ce_inputs(41, 3, 3, torch.float32)
    with pytest.raises(ValueError):
        submission.cross_entropy(logits, targets, reduction="avg")


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
def test_bce_with_logits_matches(submission, reference, reduction):
    for seed, (shape, dtype) in enumerate(BCE_SHAPES):
        logits, soft, hard, _ = _bce_inputs(seed, shape, dtype)
        for targets, kind in ((soft, "soft"), (hard, "0/1")):
            _compare(
                submission.bce_with_logits,
                reference.bce_with_logits,
                logits,
                targets,
                reduction=reduction,
                what=f"bce_with_logits(reduction={reduction!r}) with {kind} targets of shape {shape}, "
                f"{dtype}",
            )


@pytest.mark.task("bce_with_logits")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_pos_weight(submission, reference, reduction):
    for seed, (shape, dtype) in enumerate(BCE_SHAPES):
        logits, soft, _, pos_weight = _bce_inputs(10 + seed, shape, dtype)
        _compare(
            submission.bce_with_logits,
            reference.bce_with_logits,
            logits,
            soft,
            pos_weight=pos_weight,
            reduction=reduction,
            what=f"bce_with_logits with pos_weight (reduction={reduction!r}, shape {shape}); pos_weight "
            "multiplies only the positive term targets * log(sigmoid(x))",
        )


@pytest.mark.task("bce_with_logits")
def test_bce_with_logits_large_logits_are_stable(submission, reference):
    logits = torch.tensor([200.0, -200.0, 1e4, -1e4, 30.0, -30.0])
    targets = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0])  # every one confidently wrong
    got, got_grad = _value_and_grad(submission.bce_with_logits, logits, targets, reduction="none")
    assert torch.isfinite(got).all() and torch.isfinite(got_grad).all(), (
        f"bce_with_logits on logits like ±200 and ±1e4 gave {got.tolist()}: compute log(sigmoid(x)) from the "
        "logits (e.g. -softplus(-x)), never as log(sigmoid(x)) after the sigmoid has rounded to 0 or 1"
    )
    _compare(
        submission.bce_with_logits,
        reference.bce_with_logits,
        logits,
        targets,
        reduction="none",
        what="bce_with_logits on logits of size 200 to 1e4",
    )


@pytest.mark.task("bce_with_logits")
def test_bce_with_logits_rejects_unknown_reduction(submission):
    with pytest.raises(ValueError):
        submission.bce_with_logits(torch.zeros(3), torch.ones(3), reduction="batchmean")


# ------------------------------------------------------------------------------------------ focal_loss


@pytest.mark.task("focal_loss")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_loss_gamma_zero_is_bce(submission, reference, reduction):
    for seed, (shape, dtype) in enumerate(BCE_SHAPES):
        logits, _, hard, _ = _bce_inputs(20 + seed, shape, dtype)
        _compare(
            lambda x, y: submission.focal_loss(x, y, gamma=0.0, alpha=None, reduction=reduction),
            lambda x, y: reference.bce_with_logits(x, y, reduction=reduction),
            logits,
            hard,
            what=f"focal_loss(gamma=0, alpha=None, reduction={reduction!r}) must equal binary cross-entropy",
        )


@pytest.mark.task("focal_loss")
def test_focal_loss_hand_computed(submission):
    # Logit 0 means p = 0.5, so p_t = 0.5 for either label and (1 - p_t)^2 = 0.25, -log p_t = log 2.
    # alpha = 0.25: the positive gets 0.25, the negative 0.75.
    logits = torch.tensor([0.0, 0.0])
    targets = torch.tensor([1.0, 0.0])
    got = submission.focal_loss(logits, targets, gamma=2.0, alpha=0.25, reduction="none")
    want = torch.tensor([0.25 * 0.25 * math.log(2.0), 0.75 * 0.25 * math.log(2.0)])
    torch.testing.assert_close(
        got.detach(),
        want,
        msg=lambda m: (
            f"focal_loss at logit 0 (p = 0.5) with gamma=2, alpha=0.25: expected "
            f"alpha_t * 0.25 * log 2 with alpha_t = 0.25 for the positive and 0.75 for the negative.\n{m}"
        ),
    )
    # A confident, correct positive (p = sigmoid(3)) and a confident, correct negative (p = sigmoid(-3))
    # are equally easy: the modulating factor must be (1 - p_t)^gamma, not (1 - p)^gamma.
    logits = torch.tensor([3.0, -3.0])
    targets = torch.tensor([1.0, 0.0])
    got = submission.focal_loss(logits, targets, gamma=2.0, reduction="none")
    p_t = torch.sigmoid(torch.tensor(3.0))
    easy = (1 - p_t) ** 2 * -torch.log(p_t)
    torch.testing.assert_close(
        got.detach(),
        torch.stack([easy, easy]),
        msg=lambda m: (
            "focal_loss of an easy positive (logit 3) and an easy negative (logit -3) should be "
            f"equal: the factor is (1 - p_t)^gamma where p_t is the probability of the true class.\n{m}"
        ),
    )


@pytest.mark.task("focal_loss")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_loss_matches(submission, reference, reduction):
    for seed, (shape, dtype) in enumerate(BCE_SHAPES):
        logits, _, hard, _ = _bce_inputs(30 + seed, shape, dtype)
        for gamma in (0.5, 2.0, 3.0):
            for alpha in (None, 0.25, 0.9):
                _compare(
                    submission.focal_loss,
                    reference.focal_loss,
                    logits,
                    hard,
                    gamma=gamma,
                    alpha=alpha,
                    reduction=reduction,
                    what=f"focal_loss(gamma={gamma}, alpha={alpha}, reduction={reduction!r}) "
                    f"on shape {shape}",
                )


@pytest.mark.task("focal_loss")
def test_focal_loss_large_logits_are_stable(submission, reference):
    logits = torch.tensor([200.0, -200.0, 1e4, -1e4, 200.0, -200.0])
    targets = torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])  # four confidently wrong, two confidently right
    for alpha in (None, 0.25):
        got, got_grad = _value_and_grad(submission.focal_loss, logits, targets, alpha=alpha, reduction="none")
        assert torch.isfinite(got).all() and torch.isfinite(got_grad).all(), (
            f"focal_loss(alpha={alpha}) on logits like ±200 and ±1e4 gave {got.tolist()}: compute log(p_t) "
            "stably from the logits (it is minus the binary cross-entropy with logits)"
        )
        _compare(
            submission.focal_loss,
            reference.focal_loss,
            logits,
            targets,
            alpha=alpha,
            reduction="none",
            what=f"focal_loss(alpha={alpha}) on logits of size 200 to 1e4",
        )


@pytest.mark.task("focal_loss")
def test_focal_loss_rejects_unknown_reduction(submission):
    with pytest.raises(ValueError):
        submission.focal_loss(torch.zeros(3), torch.ones(3), reduction="elementwise_mean")
