"""Grading tests for the metrics exercise: hand-computed cases, then random ones against the reference."""

import pytest
import torch

AVERAGES = [None, "macro", "micro", "weighted"]

# A small case worked out by hand. Rows are true classes, columns predicted classes:
#   true 0 -> predicted 0, 1, 0      true 1 -> predicted 1, 2      true 2 -> predicted 2
HAND_PREDS = torch.tensor([0, 1, 0, 1, 2, 2])
HAND_TARGETS = torch.tensor([0, 0, 0, 1, 1, 2])
HAND_CM = torch.tensor([[2, 1, 0], [0, 1, 1], [0, 0, 1]])
# predicted per class (column sums) = [2, 2, 2]; support (row sums) = [3, 2, 1]; tp = [2, 1, 1]
HAND_PRECISION = torch.tensor([1.0, 0.5, 0.5])
HAND_RECALL = torch.tensor([2 / 3, 0.5, 1.0])
HAND_F1 = torch.tensor([0.8, 0.5, 2 / 3])


def _labels(seed: int, n: int, k: int, present: int | None = None):
    """Random preds and targets; targets use only the first `present` classes (others are absent)."""
    g = torch.Generator().manual_seed(seed)
    targets = torch.randint(0, present or k, (n,), generator=g)
    # Mostly right, sometimes wrong, so every kind of count shows up.
    noise = torch.randint(0, k, (n,), generator=g)
    keep = torch.rand(n, generator=g) < 0.6
    preds = torch.where(keep, targets, noise)
    return preds, targets


RANDOM_CASES = [
    (1, 2, None),
    (1, 4, None),
    (7, 3, None),
    (7, 10, None),
    (50, 5, None),
    (60, 6, 4),
    (200, 8, 8),
]


def _close(got, want, what: str) -> None:
    assert isinstance(got, torch.Tensor), f"{what}: expected a tensor, got {type(got).__name__}"
    torch.testing.assert_close(got, want, msg=lambda m: f"{what}\n{m}")


# ------------------------------------------------------------------------------------ confusion_matrix


@pytest.mark.task("confusion_matrix")
def test_confusion_matrix_hand_computed(submission):
    cm = submission.confusion_matrix(HAND_PREDS, HAND_TARGETS, 3)
    _close(
        cm,
        HAND_CM,
        "confusion_matrix: expected cm[true, predicted] (rows = true class, columns = predicted class), "
        "an int64 tensor of shape (K, K). Is it transposed?",
    )


@pytest.mark.task("confusion_matrix")
def test_confusion_matrix_random(submission, reference):
    for seed, (n, k, present) in enumerate(RANDOM_CASES):
        preds, targets = _labels(seed, n, k, present)
        _close(
            submission.confusion_matrix(preds, targets, k),
            reference.confusion_matrix(preds, targets, k),
            f"confusion_matrix with N={n}, num_classes={k}",
        )


@pytest.mark.task("confusion_matrix")
def test_confusion_matrix_keeps_shape_when_classes_are_missing(submission):
    # Only classes 0 and 1 occur, but there are 5: the result must still be 5 x 5.
    preds = torch.tensor([0, 1, 1])
    targets = torch.tensor([0, 0, 1])
    want = torch.zeros(5, 5, dtype=torch.int64)
    want[0, 0], want[0, 1], want[1, 1] = 1, 1, 1
    _close(
        submission.confusion_matrix(preds, targets, 5),
        want,
        "confusion_matrix with num_classes=5 when only classes 0 and 1 occur: the shape must be (5, 5) "
        "(torch.bincount needs minlength)",
    )
    empty = torch.zeros(0, dtype=torch.int64)
    _close(
        submission.confusion_matrix(empty, empty, 3),
        torch.zeros(3, 3, dtype=torch.int64),
        "confusion_matrix of an empty batch should be all zeros with shape (K, K)",
    )


@pytest.mark.task("confusion_matrix")
def test_confusion_matrix_rejects_bad_labels(submission):
    with pytest.raises(ValueError):
        submission.confusion_matrix(torch.tensor([0, 3]), torch.tensor([0, 1]), 3)  # 3 is not a class
    with pytest.raises(ValueError):
        submission.confusion_matrix(torch.tensor([0, 1]), torch.tensor([-1, 1]), 3)
    with pytest.raises(ValueError):
        submission.confusion_matrix(torch.tensor([0, 1, 2]), torch.tensor([0, 1]), 3)  # shapes differ


@pytest.mark.task("confusion_matrix")
def test_confusion_matrix_does_not_modify_inputs(submission):
    preds, targets = _labels(3, 20, 4)
    before = (preds.clone(), targets.clone())
    submission.confusion_matrix(preds, targets, 4)
    assert torch.equal(preds, before[0]) and torch.equal(targets, before[1]), (
        "confusion_matrix changed preds or targets in place"
    )


# --------------------------------------------------------------------------------- precision_recall_f1


def _prf(module, *args, **kwargs):
    result = module.precision_recall_f1(*args, **kwargs)
    assert isinstance(result, tuple) and len(result) == 3, (
        "precision_recall_f1 must return a tuple (precision, recall, f1)"
    )
    return result


@pytest.mark.task("precision_recall_f1")
def test_per_class_hand_computed(submission):
    p, r, f1 = _prf(submission, HAND_PREDS, HAND_TARGETS, 3)
    _close(
        p,
        HAND_PRECISION,
        "per-class precision = tp / (times the class was predicted), i.e. cm[c, c] / cm[:, c].sum()",
    )
    _close(r, HAND_RECALL, "per-class recall = tp / support, i.e. cm[c, c] / cm[c, :].sum()")
    _close(f1, HAND_F1, "per-class F1 = 2 p r / (p + r)")


@pytest.mark.task("precision_recall_f1")
def test_averages_hand_computed(submission):
    cases = {
        "macro": (2 / 3, 13 / 18, (0.8 + 0.5 + 2 / 3) / 3),
        # Weighted by support [3, 2, 1]; weighted recall always equals the accuracy.
        "weighted": (4.5 / 6, 4 / 6, (3 * 0.8 + 2 * 0.5 + 2 / 3) / 6),
        "micro": (4 / 6, 4 / 6, 4 / 6),
    }
    hints = {
        "macro": "the plain mean of the per-class values (macro F1 is the mean of per-class F1, not the "
        "F1 of macro precision and macro recall)",
        "weighted": "the mean of the per-class values weighted by support (the count of each TRUE class)",
        "micro": "pool tp, fp, fn over all classes first; for single-label data this is the accuracy",
    }
    for average, want in cases.items():
        got = _prf(submission, HAND_PREDS, HAND_TARGETS, 3, average=average)
        for name, value, expected in zip(("precision", "recall", "f1"), got, want, strict=True):
            _close(value, torch.tensor(expected), f"{average} {name}: expected {hints[average]}")


@pytest.mark.task("precision_recall_f1")
def test_absent_classes_and_zero_division(submission):
    # 4 classes. Class 1 is in the targets but never predicted; class 2 is predicted but never true;
    # class 3 is neither predicted nor true.
    preds = torch.tensor([0, 2, 0, 0, 0])
    targets = torch.tensor([0, 0, 1, 1, 0])
    for zd in (0.0, 1.0, 0.5):
        p, r, f1 = _prf(submission, preds, targets, 4, zero_division=zd)
        for name, value in (("precision", p), ("recall", r), ("f1", f1)):
            assert isinstance(value, torch.Tensor) and not torch.isnan(value).any(), (
                f"per-class {name} contains NaN with zero_division={zd}: a 0 / 0 must give zero_division "
                "(and F1 must give 0 when precision + recall == 0)"
            )
        _close(
            p,
            torch.tensor([0.5, zd, 0.0, zd]),
            f"precision with zero_division={zd}: a class never predicted has precision = zero_division",
        )
        _close(
            r,
            torch.tensor([2 / 3, 0.0, zd, zd]),
            f"recall with zero_division={zd}: a class absent from the targets has recall = zero_division",
        )
        f1_0 = 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3)
        _close(
            f1,
            torch.tensor([f1_0, 0.0, 0.0, zd]),
            f"f1 with zero_division={zd}: 2pr/(p+r), and 0 when p + r == 0",
        )
        macro = _prf(submission, preds, targets, 4, average="macro", zero_division=zd)
        want = ((0.5 + zd + 0.0 + zd) / 4, (2 / 3 + 0.0 + zd + zd) / 4, (f1_0 + zd) / 4)
        for name, value, expected in zip(("precision", "recall", "f1"), macro, want, strict=True):
            _close(
                value,
                torch.tensor(expected),
                f"macro {name} with zero_division={zd}: average over all 4 classes, including the ones "
                "absent from the targets",
            )


@pytest.mark.task("precision_recall_f1")
@pytest.mark.parametrize("average", AVERAGES)
def test_random_against_reference(submission, reference, average):
    for seed, (n, k, present) in enumerate(RANDOM_CASES):
        preds, targets = _labels(100 + seed, n, k, present)
        for zd in (0.0, 1.0):
            got = _prf(submission, preds, targets, k, average=average, zero_division=zd)
            want = _prf(reference, preds, targets, k, average=average, zero_division=zd)
            for name, value, expected in zip(("precision", "recall", "f1"), got, want, strict=True):
                _close(
                    value,
                    expected,
                    f"{name} with average={average!r}, zero_division={zd}, N={n}, num_classes={k}",
                )


@pytest.mark.task("precision_recall_f1")
def test_micro_equals_accuracy(submission):
    for seed, (n, k, present) in enumerate(RANDOM_CASES):
        preds, targets = _labels(200 + seed, n, k, present)
        accuracy = (preds == targets).to(torch.float32).mean()
        for name, value in zip(
            ("precision", "recall", "f1"), _prf(submission, preds, targets, k, average="micro"), strict=True
        ):
            _close(
                value,
                accuracy,
                f"micro {name} for single-label data must equal the accuracy (N={n}, num_classes={k})",
            )


@pytest.mark.task("precision_recall_f1")
def test_result_dtypes_and_shapes(submission):
    preds, targets = _labels(7, 30, 5)
    for average in AVERAGES:
        want_shape = (5,) if average is None else ()
        for name, value in zip(
            ("precision", "recall", "f1"), _prf(submission, preds, targets, 5, average=average), strict=True
        ):
            assert isinstance(value, torch.Tensor), (
                f"{name} with average={average!r} is a {type(value).__name__}; expected a float32 tensor"
            )
            assert value.dtype == torch.float32 and tuple(value.shape) == want_shape, (
                f"{name} with average={average!r}: expected a float32 tensor of shape {want_shape}, got "
                f"{value.dtype} of shape {tuple(value.shape)}"
            )


@pytest.mark.task("precision_recall_f1")
def test_rejects_unknown_average(submission):
    with pytest.raises(ValueError):
        submission.precision_recall_f1(HAND_PREDS, HAND_TARGETS, 3, average="binary")


# ------------------------------------------------------------------------------------------ topk_accuracy


def _topk(module, logits, targets, k):
    value = module.topk_accuracy(logits, targets, k)
    assert isinstance(value, torch.Tensor) and value.dtype == torch.float32 and value.dim() == 0, (
        f"topk_accuracy must return a 0-dim float32 tensor, got {value!r}"
    )
    return value


@pytest.mark.task("topk_accuracy")
def test_topk_hand_computed(submission):
    logits = torch.tensor(
        [
            [0.1, 0.5, 0.3, 0.05],  # target 2 is ranked 2nd
            [0.9, 0.05, 0.03, 0.02],  # target 1 is ranked 2nd
            [0.2, 0.26, 0.3, 0.24],  # target 0 is ranked 4th
            [1.0, 0.0, -1.0, -2.0],  # target 0 is ranked 1st
        ]
    )
    targets = torch.tensor([2, 1, 0, 0])
    for k, want in ((1, 0.25), (2, 0.75), (3, 0.75), (4, 1.0)):
        _close(
            _topk(submission, logits, targets, k),
            torch.tensor(want),
            f"top-{k} accuracy: a sample counts when its target is among the {k} highest scores of its row",
        )


@pytest.mark.task("topk_accuracy")
def test_topk_random_against_reference(submission, reference):
    for seed, (n, c) in enumerate([(1, 2), (9, 5), (64, 10), (33, 100)]):
        g = torch.Generator().manual_seed(300 + seed)
        logits = torch.randn(n, c, generator=g, dtype=torch.float64 if seed % 2 else torch.float32)
        targets = torch.randint(0, c, (n,), generator=g)
        for k in sorted({1, 2, min(5, c), c}):
            _close(
                _topk(submission, logits, targets, k),
                _topk(reference, logits, targets, k),
                f"top-{k} accuracy on {n} samples with {c} classes ({logits.dtype})",
            )


@pytest.mark.task("topk_accuracy")
def test_topk_rejects_bad_k(submission):
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    targets = torch.tensor([0, 1, 2, 0])
    for k in (0, 4):
        with pytest.raises(ValueError):
            submission.topk_accuracy(logits, targets, k)
