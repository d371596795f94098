"""Grading tests for the metrics exercise: hand-worked cases first, then random ones against the reference.

Each test observes; the judge compares with the reference's run. The confusion matrix itself is observed on
small hand-worked examples before any metric derived from it, so a matrix laid out the wrong way round is
reported as such, not as a wrong precision, recall or average.
"""

import pytest
import torch

from quiz.grading.scenario import expect_raises, observe

AVERAGES = [None, "macro", "micro", "weighted"]
LAYOUT = "rows are TRUE classes, columns PREDICTED classes: cm[t, p] counts the samples of true class t predicted as p"

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


# ------------------------------------------------------------------------------------ confusion_matrix


@pytest.mark.task("confusion_matrix")
def test_confusion_matrix_two_classes_by_hand(impl):
    # true 0 -> predicted 0 and 1; true 1 -> predicted 1. The matrix is not symmetric: cm[0, 1] = 1, cm[1, 0] = 0.
    preds = torch.tensor([0, 1, 1])
    targets = torch.tensor([0, 0, 1])
    observe("confusion_matrix(preds=[0, 1, 1], targets=[0, 0, 1], 2)", impl.confusion_matrix(preds, targets, 2),
            expect=torch.tensor([[1, 1], [0, 1]]),
            explain=f"{LAYOUT}, an int64 (K, K) tensor; here true class 0 was once predicted as 1, so cm[0, 1] = 1 "
                    "and cm[1, 0] = 0 (a result of [[1, 0], [1, 1]] has rows and columns swapped)")


@pytest.mark.task("confusion_matrix")
def test_confusion_matrix_hand_computed(impl):
    observe("confusion_matrix(preds=[0, 1, 0, 1, 2, 2], targets=[0, 0, 0, 1, 1, 2], 3)",
            impl.confusion_matrix(HAND_PREDS, HAND_TARGETS, 3), expect=HAND_CM,
            explain=f"{LAYOUT}; expected [[2, 1, 0], [0, 1, 1], [0, 0, 1]], an int64 tensor of shape (3, 3)")


@pytest.mark.task("confusion_matrix")
def test_confusion_matrix_keeps_shape_when_classes_are_missing(impl):
    # Only classes 0 and 1 occur, but there are 5: the result must still be 5 x 5.
    preds = torch.tensor([0, 1, 1])
    targets = torch.tensor([0, 0, 1])
    want = torch.zeros(5, 5, dtype=torch.int64)
    want[0, 0], want[0, 1], want[1, 1] = 1, 1, 1
    observe("confusion_matrix(preds=[0, 1, 1], targets=[0, 0, 1], 5): only classes 0 and 1 occur",
            impl.confusion_matrix(preds, targets, 5), expect=want,
            explain="the shape is (num_classes, num_classes) = (5, 5) even when the highest classes never occur: it "
                    "comes from num_classes, not from the largest label seen (torch.bincount, for one, returns only "
                    "max + 1 counts unless minlength is given)")
    empty = torch.zeros(0, dtype=torch.int64)
    observe("confusion_matrix of an empty batch, num_classes=3", impl.confusion_matrix(empty, empty, 3),
            expect=torch.zeros(3, 3, dtype=torch.int64),
            explain="no samples: all zeros, int64, shape (3, 3)")


@pytest.mark.task("confusion_matrix")
def test_confusion_matrix_random(impl):
    for seed, (n, k, present) in enumerate(RANDOM_CASES):
        preds, targets = _labels(seed, n, k, present)
        observe(f"confusion_matrix with N={n}, num_classes={k}", impl.confusion_matrix(preds, targets, k),
                explain=f"{LAYOUT}, an int64 tensor of shape ({k}, {k})")


@pytest.mark.task("confusion_matrix")
def test_confusion_matrix_rejects_bad_labels(impl):
    with expect_raises("confusion_matrix with preds=[0, 3] when num_classes is 3 (3 is not a class)", ValueError):
        impl.confusion_matrix(torch.tensor([0, 3]), torch.tensor([0, 1]), 3)
    with expect_raises("confusion_matrix with targets=[-1, 1] (a negative class)", ValueError):
        impl.confusion_matrix(torch.tensor([0, 1]), torch.tensor([-1, 1]), 3)
    with expect_raises("confusion_matrix with preds of shape (3,) and targets of shape (2,)", ValueError):
        impl.confusion_matrix(torch.tensor([0, 1, 2]), torch.tensor([0, 1]), 3)


@pytest.mark.task("confusion_matrix")
def test_confusion_matrix_does_not_modify_inputs(impl):
    preds, targets = _labels(3, 20, 4)
    before = (preds.clone(), targets.clone())
    impl.confusion_matrix(preds, targets, 4)
    observe("preds after confusion_matrix", preds, expect=before[0], exact=True,
            explain="confusion_matrix must not change preds in place")
    observe("targets after confusion_matrix", targets, expect=before[1], exact=True,
            explain="confusion_matrix must not change targets in place")


# --------------------------------------------------------------------------------- precision_recall_f1


@pytest.mark.task("precision_recall_f1")
@pytest.mark.parametrize("average", AVERAGES)
def test_returns_a_tuple_of_three(impl, average):
    result = impl.precision_recall_f1(HAND_PREDS, HAND_TARGETS, 3, average=average)
    observe(f"the type of what precision_recall_f1(average={average!r}) returns", type(result).__name__,
            expect="tuple", explain="precision_recall_f1 returns a tuple (precision, recall, f1)")
    observe(f"the number of items precision_recall_f1(average={average!r}) returns", len(result), expect=3,
            explain="precision_recall_f1 returns a tuple (precision, recall, f1)")


@pytest.mark.task("precision_recall_f1")
def test_per_class_hand_computed(impl):
    p, r, f1 = impl.precision_recall_f1(HAND_PREDS, HAND_TARGETS, 3)
    where = "on preds=[0, 1, 0, 1, 2, 2], targets=[0, 0, 0, 1, 1, 2]"
    observe(f"per-class precision {where}", p, expect=HAND_PRECISION,
            explain="precision[c] = tp / (times c was predicted) = cm[c, c] / cm[:, c].sum() (a column sum): "
                    "[2/2, 1/2, 1/2]")
    observe(f"per-class recall {where}", r, expect=HAND_RECALL,
            explain="recall[c] = tp / support = cm[c, c] / cm[c, :].sum() (a row sum): [2/3, 1/2, 1/1]")
    observe(f"per-class F1 {where}", f1, expect=HAND_F1, explain="per-class F1 = 2 p r / (p + r)")


@pytest.mark.task("precision_recall_f1")
def test_averages_hand_computed(impl):
    cases = {
        "macro": (2 / 3, 13 / 18, (0.8 + 0.5 + 2 / 3) / 3),
        # Weighted by support [3, 2, 1]; weighted recall always equals the accuracy.
        "weighted": (4.5 / 6, 4 / 6, (3 * 0.8 + 2 * 0.5 + 2 / 3) / 6),
        "micro": (4 / 6, 4 / 6, 4 / 6),
    }
    hints = {
        "macro": "the plain mean of the per-class values over all classes (macro F1 is the mean of per-class F1, "
                 "not the F1 of macro precision and macro recall)",
        "weighted": "the mean of the per-class values weighted by support (the count of each TRUE class, [3, 2, 1])",
        "micro": "pool tp, fp, fn over all classes first; for single-label data this is the accuracy, 4/6",
    }
    for average, want in cases.items():
        got = impl.precision_recall_f1(HAND_PREDS, HAND_TARGETS, 3, average=average)
        for name, value, expected in zip(("precision", "recall", "f1"), got, want, strict=True):
            observe(f"{average} {name} on the hand-worked example (per-class precision [1, 1/2, 1/2], "
                    f"recall [2/3, 1/2, 1], F1 [0.8, 1/2, 2/3])", value, expect=torch.tensor(expected),
                    explain=f"{average} {name}: {hints[average]}; a 0-dim float32 tensor")


@pytest.mark.task("precision_recall_f1")
def test_absent_classes_and_zero_division(impl):
    # 4 classes. Class 1 is in the targets but never predicted; class 2 is predicted but never true;
    # class 3 is neither predicted nor true.
    preds = torch.tensor([0, 2, 0, 0, 0])
    targets = torch.tensor([0, 0, 1, 1, 0])
    no_nan = torch.zeros(4, dtype=torch.bool)
    case = "preds=[0, 2, 0, 0, 0], targets=[0, 0, 1, 1, 0], 4 classes"
    for zd in (0.0, 1.0, 0.5):
        p, r, f1 = impl.precision_recall_f1(preds, targets, 4, zero_division=zd)
        observe(f"which per-class precision entries are NaN, zero_division={zd} ({case})", torch.isnan(p),
                expect=no_nan, explain="none: a class never predicted (0 / 0) has precision = zero_division")
        observe(f"which per-class recall entries are NaN, zero_division={zd} ({case})", torch.isnan(r),
                expect=no_nan, explain="none: a class absent from the targets (0 / 0) has recall = zero_division")
        observe(f"which per-class F1 entries are NaN, zero_division={zd} ({case})", torch.isnan(f1),
                expect=no_nan, explain="none: F1 is 0 where precision + recall == 0")
        observe(f"per-class precision, zero_division={zd} ({case})", p, expect=torch.tensor([0.5, zd, 0.0, zd]),
                explain="a class never predicted (classes 1 and 3) has precision = zero_division")
        observe(f"per-class recall, zero_division={zd} ({case})", r, expect=torch.tensor([2 / 3, 0.0, zd, zd]),
                explain="a class absent from the targets (classes 2 and 3) has recall = zero_division")
        f1_0 = 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3)
        observe(f"per-class F1, zero_division={zd} ({case})", f1, expect=torch.tensor([f1_0, 0.0, 0.0, zd]),
                explain="2pr / (p + r) from the per-class precision and recall, and 0 when p + r == 0")
        macro = impl.precision_recall_f1(preds, targets, 4, average="macro", zero_division=zd)
        want = ((0.5 + zd + 0.0 + zd) / 4, (2 / 3 + 0.0 + zd + zd) / 4, (f1_0 + zd) / 4)
        for name, value, expected in zip(("precision", "recall", "f1"), macro, want, strict=True):
            observe(f"macro {name}, zero_division={zd} ({case})", value, expect=torch.tensor(expected),
                    explain="the mean over all 4 classes, including the ones absent from the targets")


@pytest.mark.task("precision_recall_f1")
@pytest.mark.parametrize("average", AVERAGES)
def test_random_against_reference(impl, average):
    for seed, (n, k, present) in enumerate(RANDOM_CASES):
        preds, targets = _labels(100 + seed, n, k, present)
        for zd in (0.0, 1.0):
            got = impl.precision_recall_f1(preds, targets, k, average=average, zero_division=zd)
            for name, value in zip(("precision", "recall", "f1"), got, strict=True):
                observe(f"{name} with average={average!r}, zero_division={zd}, N={n}, num_classes={k}", value)


@pytest.mark.task("precision_recall_f1")
def test_micro_equals_accuracy(impl):
    for seed, (n, k, present) in enumerate(RANDOM_CASES):
        preds, targets = _labels(200 + seed, n, k, present)
        accuracy = (preds == targets).to(torch.float32).mean()
        got = impl.precision_recall_f1(preds, targets, k, average="micro")
        for name, value in zip(("precision", "recall", "f1"), got, strict=True):
            observe(f"micro {name} (N={n}, num_classes={k})", value, expect=accuracy,
                    explain="micro precision, recall and F1 of single-label data all equal the accuracy")


@pytest.mark.task("precision_recall_f1")
def test_result_dtypes_and_shapes(impl):
    preds, targets = _labels(7, 30, 5)
    for average in AVERAGES:
        want_shape = (5,) if average is None else ()
        got = impl.precision_recall_f1(preds, targets, 5, average=average)
        for name, value in zip(("precision", "recall", "f1"), got, strict=True):
            observe(f"the type of {name} with average={average!r}", type(value).__name__, expect="Tensor",
                    explain="each result is a float32 torch tensor")
            observe(f"the dtype of {name} with average={average!r}", value.dtype, expect=torch.float32,
                    explain="each result is a float32 tensor")
            observe(f"the shape of {name} with average={average!r}", tuple(value.shape), expect=want_shape,
                    explain="shape (num_classes,) with average=None, a 0-dim tensor () for an average")


@pytest.mark.task("precision_recall_f1")
def test_rejects_unknown_average(impl):
    with expect_raises("precision_recall_f1 with average='binary' (not one of None, macro, micro, weighted)",
                       ValueError):
        impl.precision_recall_f1(HAND_PREDS, HAND_TARGETS, 3, average="binary")


# ------------------------------------------------------------------------------------------ topk_accuracy


@pytest.mark.task("topk_accuracy")
def test_topk_hand_computed(impl):
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
        observe(f"top-{k} accuracy on 4 samples whose targets rank 2nd, 2nd, 4th and 1st",
                impl.topk_accuracy(logits, targets, k), expect=torch.tensor(want),
                explain=f"a sample counts when its target is among the {k} highest scores of its row; "
                        "a 0-dim float32 tensor")


@pytest.mark.task("topk_accuracy")
def test_topk_random_against_reference(impl):
    for seed, (n, c) in enumerate([(1, 2), (9, 5), (64, 10), (33, 100)]):
        g = torch.Generator().manual_seed(300 + seed)
        logits = torch.randn(n, c, generator=g, dtype=torch.float64 if seed % 2 else torch.float32)
        targets = torch.randint(0, c, (n,), generator=g)
        for k in sorted({1, 2, min(5, c), c}):
            observe(f"top-{k} accuracy on {n} samples with {c} classes ({logits.dtype})",
                    impl.topk_accuracy(logits, targets, k),
                    explain="a 0-dim float32 tensor, whatever the logits' dtype")


@pytest.mark.task("topk_accuracy")
def test_topk_rejects_bad_k(impl):
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    targets = torch.tensor([0, 1, 2, 0])
    for k in (0, 4):
        with expect_raises(f"topk_accuracy with k={k} for 3 classes (k must be in [1, 3])", ValueError):
            impl.topk_accuracy(logits, targets, k)
