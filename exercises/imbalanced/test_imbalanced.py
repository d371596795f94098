"""Grading tests for the imbalanced exercise: hand-worked cases first (ties, all-equal scores, perfect and
inverted rankings), then random ones against the reference in float32 and float64, and a sampling check of
WeightedRandomSampler with the per-sample weights."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import WeightedRandomSampler

from quiz.grading.scenario import expect_raises, observe

DTYPES = [torch.float32, torch.float64]
AUC_DEF = ("AUC = (#{s_pos > s_neg} + 0.5 * #{s_pos == s_neg}) / (n_pos * n_neg) over every "
           "(positive, negative) pair: a tie counts one half")
AP_DEF = ("AP = sum_k (R_k - R_{k-1}) * P_k over the DISTINCT scores as thresholds, highest first, predicting "
          "scores >= t (equal scores form one threshold), R_0 = 0, with no interpolation")
F1_DEF = "F1 = 2 tp / (2 tp + fp + fn) with predictions scores >= threshold"

# The classic small example (sklearn's docs use it): positives 0.35 and 0.8, negatives 0.1 and 0.4.
SMALL_SCORES = torch.tensor([0.1, 0.4, 0.35, 0.8])
SMALL_LABELS = torch.tensor([0, 0, 1, 1])
SMALL = "scores=[0.1, 0.4, 0.35, 0.8], labels=[0, 0, 1, 1]"


def _class_labels(seed: int, n: int, k: int, present: int | None = None) -> torch.Tensor:
    """Imbalanced labels: class c has probability proportional to 2 ** -c among the first `present` classes."""
    g = torch.Generator().manual_seed(seed)
    probs = 2.0 ** -torch.arange(present or k, dtype=torch.float64)
    return torch.multinomial(probs, n, replacement=True, generator=g)


def _binary(seed: int, n: int, dtype: torch.dtype, levels: int | None = None, positive: float = 0.3):
    """Random scores (quantised to `levels` values when given, so that ties occur) and 0/1 labels with both
    classes present; positives score a little higher on average."""
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(n, generator=g) < positive).long()
    labels[0], labels[1] = 1, 0
    scores = torch.rand(n, generator=g, dtype=torch.float64) + 0.3 * labels
    if levels is not None:
        scores = torch.floor(scores * levels) / levels
    return scores.to(dtype), labels


# Inputs that roc_auc, average_precision and best_threshold all reject with ValueError: (scores, labels, words).
BAD_BINARY = {
    "shape_mismatch": (torch.tensor([0.2, 0.6, 0.4]), torch.tensor([0, 1]),
                       "scores of shape (3,) and labels of shape (2,)"),
    "two_dim": (torch.tensor([[0.2, 0.6], [0.4, 0.9]]), torch.tensor([[0, 1], [1, 0]]),
                "scores and labels of shape (2, 2)"),
    "not_binary": (torch.tensor([0.2, 0.6, 0.4]), torch.tensor([0, 1, 2]), "labels=[0, 1, 2]"),
}
BAD_BINARY_EXPLAIN = "scores and labels must both have shape (N,) and the labels be 0 / 1: ValueError"

RANDOM_BINARY = [(2, None), (7, 3), (10, None), (50, 5), (100, None), (300, 20), (1000, None), (1000, 8)]


# ------------------------------------------------------------------------------------------- class_weights


@pytest.mark.task("class_weights")
def test_class_weights_hand_computed(impl):
    labels = torch.tensor([0, 2, 0, 1, 0, 2, 0, 0, 2, 1, 0, 2])  # counts [6, 2, 4], N = 12
    observe("class_weights(labels with class counts [6, 2, 4], 3)", impl.class_weights(labels, 3),
            expect=torch.tensor([2 / 3, 2.0, 1.0]),
            explain="weight[c] = N / (num_classes * count_c) = 12 / (3 * [6, 2, 4]): a class of average "
                    "frequency gets 1, rarer classes more; a float32 tensor of shape (num_classes,)")


@pytest.mark.task("class_weights")
def test_class_weights_absent_classes(impl):
    labels = torch.tensor([0, 2, 0, 0])  # counts [3, 0, 1, 0], N = 4, num_classes = 4
    weights = impl.class_weights(labels, 4)
    case = "class_weights(labels=[0, 2, 0, 0], 4): classes 1 and 3 never occur"
    observe(f"which entries are inf or NaN, {case}", ~torch.isfinite(weights),
            expect=torch.zeros(4, dtype=torch.bool),
            explain="none: an absent class gets weight 0, never 1 / 0")
    observe(case, weights, expect=torch.tensor([1 / 3, 0.0, 1.0, 0.0]),
            explain="weight[c] = N / (num_classes * count_c) = 4 / (4 * count_c) for the classes present, 0 for "
                    "the absent ones, and the shape stays (num_classes,) = (4,)")


@pytest.mark.task("class_weights")
def test_class_weights_random(impl):
    for seed, (n, k, present) in enumerate([(1, 1, None), (5, 2, None), (40, 3, None), (200, 6, 4), (1000, 10, 10)]):
        labels = _class_labels(seed, n, k, present)
        before = labels.clone()
        observe(f"class_weights on {n} imbalanced labels, num_classes={k}", impl.class_weights(labels, k),
                explain="N / (num_classes * count_c), 0 for absent classes, float32, shape (num_classes,)")
        observe("labels after class_weights", labels, expect=before, exact=True,
                explain="class_weights must not change labels in place")


@pytest.mark.task("class_weights")
def test_class_weights_in_a_weighted_loss(impl):
    # With balanced weights, every class present carries the same total weight N / num_classes in a loss.
    labels = _class_labels(7, 300, 3)
    weights = impl.class_weights(labels, 3)
    totals = torch.zeros(3).index_add_(0, labels, weights[labels])
    observe("the total weight of each class, sum of weight[labels] per class (300 labels, 3 classes)", totals,
            expect=torch.full((3,), 100.0), rtol=1e-5,
            explain="count_c * N / (num_classes * count_c) = N / num_classes = 100 for every class")


@pytest.mark.task("class_weights")
@pytest.mark.parametrize("case", ["too_high", "negative", "two_dim", "empty"])
def test_class_weights_rejects_bad_labels(impl, case):
    labels = {"too_high": torch.tensor([0, 3]), "negative": torch.tensor([-1, 1]),
              "two_dim": torch.tensor([[0, 1], [1, 0]]), "empty": torch.zeros(0, dtype=torch.int64)}[case]
    words = {"too_high": "labels=[0, 3] with num_classes=3", "negative": "labels=[-1, 1]",
             "two_dim": "labels of shape (2, 2)", "empty": "empty labels"}[case]
    with expect_raises(f"class_weights with {words}", ValueError,
                       explain="labels must have shape (N,), N >= 1, with values in [0, num_classes): ValueError"):
        impl.class_weights(labels, 3)


# ----------------------------------------------------------------------------------------- sampler_weights


@pytest.mark.task("sampler_weights")
def test_sampler_weights_hand_computed(impl):
    labels = torch.tensor([0, 1, 0, 0])
    weights = impl.sampler_weights(labels, 2)
    observe("the shape of sampler_weights(labels=[0, 1, 0, 0], 2)", tuple(weights.shape), expect=(4,),
            explain="one weight per SAMPLE (N,), not one per class: WeightedRandomSampler draws sample indices")
    observe("sampler_weights(labels=[0, 1, 0, 0], 2)", weights,
            expect=torch.tensor([1 / 3, 1.0, 1 / 3, 1 / 3], dtype=torch.float64),
            explain="weight[i] = 1 / count of sample i's class (class 0 has 3 samples, class 1 has 1), float64, "
                    "not normalised")


@pytest.mark.task("sampler_weights")
def test_sampler_weights_random(impl):
    for seed, (n, k, present) in enumerate([(1, 1, None), (9, 3, None), (100, 5, 3), (500, 8, 8)]):
        labels = _class_labels(20 + seed, n, k, present)
        before = labels.clone()
        observe(f"sampler_weights on {n} imbalanced labels, num_classes={k}", impl.sampler_weights(labels, k),
                explain="weight[i] = 1 / count_{labels[i]}, float64, shape (N,)")
        observe("labels after sampler_weights", labels, expect=before, exact=True,
                explain="sampler_weights must not change labels in place")


@pytest.mark.task("sampler_weights")
def test_weighted_sampler_balances_the_classes(impl):
    labels = torch.cat((torch.zeros(900), torch.ones(90), torch.full((10,), 2))).long()  # class 3 absent
    weights = impl.sampler_weights(labels, 4)
    sampler = WeightedRandomSampler(weights, num_samples=30_000, replacement=True,
                                    generator=torch.Generator().manual_seed(0))
    drawn = labels[torch.tensor(list(sampler))]
    fractions = torch.bincount(drawn, minlength=4).to(torch.float64) / len(drawn)
    observe("fraction of each class among 30000 draws of WeightedRandomSampler(sampler_weights(labels), ...) "
            "with class counts [900, 90, 10, 0]", fractions,
            expect=torch.tensor([1 / 3, 1 / 3, 1 / 3, 0.0], dtype=torch.float64), atol=0.015,
            explain="with weight 1 / count_c per sample every present class has the same total weight, so each "
                    "is drawn about a third of the time (the data itself is 90% class 0)")


@pytest.mark.task("sampler_weights")
def test_sampler_weights_rejects_bad_labels(impl):
    with expect_raises("sampler_weights with labels=[0, 3] and num_classes=3", ValueError):
        impl.sampler_weights(torch.tensor([0, 3]), 3)


@pytest.mark.task("sampler_weights")
@pytest.mark.parametrize("case", ["negative", "two_dim", "empty"])
def test_sampler_weights_rejects_other_bad_labels(impl, case):
    labels = {"negative": torch.tensor([-1, 1]), "two_dim": torch.tensor([[0, 1], [1, 0]]),
              "empty": torch.zeros(0, dtype=torch.int64)}[case]
    words = {"negative": "labels=[-1, 1]", "two_dim": "labels of shape (2, 2)", "empty": "empty labels"}[case]
    with expect_raises(f"sampler_weights with {words} and num_classes=3", ValueError,
                       explain="as class_weights: labels must have shape (N,), N >= 1, with values in "
                               "[0, num_classes): ValueError"):
        impl.sampler_weights(labels, 3)


# ----------------------------------------------------------------------------------------------- roc_auc


@pytest.mark.task("roc_auc")
def test_roc_auc_hand_computed(impl):
    auc = impl.roc_auc(SMALL_SCORES, SMALL_LABELS)
    observe(f"the type of roc_auc({SMALL})", type(auc).__name__, expect="float", explain="a Python float")
    observe(f"roc_auc({SMALL})", auc, expect=0.75,
            explain="3 of the 4 (positive, negative) pairs are ranked right (0.35 < 0.4 is the wrong one): 3 / 4")


@pytest.mark.task("roc_auc")
def test_roc_auc_ties_count_one_half(impl):
    # positives 0.7, 0.7, 0.9; negatives 0.3, 0.7, 0.1: 7 pairs won, 2 tied, 0 lost.
    scores = torch.tensor([0.3, 0.7, 0.7, 0.7, 0.1, 0.9])
    labels = torch.tensor([0, 1, 1, 0, 0, 1])
    observe("roc_auc(scores=[0.3, 0.7, 0.7, 0.7, 0.1, 0.9], labels=[0, 1, 1, 0, 0, 1]): two tied pairs",
            impl.roc_auc(scores, labels), expect=8 / 9,
            explain=f"{AUC_DEF}: (7 + 0.5 * 2) / 9; counting ties as 0 gives 7/9, as 1 gives 1")


@pytest.mark.task("roc_auc")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_roc_auc_special_rankings(impl, dtype):
    labels = torch.tensor([0, 1, 1, 0, 1, 0, 0])
    cases = {
        "every score equal": (torch.full((7,), 0.25, dtype=dtype), 0.5),
        "a perfect ranking": (labels.to(dtype) * 2 + torch.arange(7, dtype=dtype) / 10, 1.0),
        "an inverted ranking": (-(labels.to(dtype) * 2) + torch.arange(7, dtype=dtype) / 10, 0.0),
    }
    for name, (scores, want) in cases.items():
        observe(f"roc_auc with {name} ({dtype}, labels=[0, 1, 1, 0, 1, 0, 0])", impl.roc_auc(scores, labels),
                expect=want, explain=f"{AUC_DEF}: 0.5 when every pair ties, 1 when every positive scores higher, "
                                     "0 when every positive scores lower")


@pytest.mark.task("roc_auc")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_roc_auc_random(impl, dtype):
    for seed, (n, levels) in enumerate(RANDOM_BINARY):
        scores, labels = _binary(40 + seed, n, dtype, levels)
        observe(f"roc_auc on {n} {dtype} scores" + (f" with only {levels} distinct values (ties)" if levels else ""),
                impl.roc_auc(scores, labels), explain=AUC_DEF)
    scores, labels = _binary(60, 200, dtype, 10)
    observe("roc_auc with bool labels (the same 200 scores and labels as int64 below)",
            impl.roc_auc(scores, labels.bool()), explain="labels may be bool or int64 0 / 1")
    observe("roc_auc with int64 labels", impl.roc_auc(scores, labels), explain=AUC_DEF)
    observe("roc_auc of 10 * scores - 3 (an increasing transform of the same scores)",
            impl.roc_auc(10 * scores - 3, labels), explain="only the order and the ties of the scores matter")


@pytest.mark.task("roc_auc")
@pytest.mark.parametrize("case", ["only_negatives", "only_positives", "not_binary"])
def test_roc_auc_rejects(impl, case):
    scores = torch.tensor([0.2, 0.6, 0.4])
    labels = {"only_negatives": torch.tensor([0, 0, 0]), "only_positives": torch.tensor([1, 1, 1]),
              "not_binary": torch.tensor([0, 1, 2])}[case]
    with expect_raises(f"roc_auc with labels={labels.tolist()}", ValueError,
                       explain="the AUC needs both classes (it is undefined with only one) and 0 / 1 labels: "
                               "ValueError"):
        impl.roc_auc(scores, labels)


@pytest.mark.task("roc_auc")
@pytest.mark.parametrize("case", ["shape_mismatch", "two_dim"])
def test_roc_auc_rejects_bad_shapes(impl, case):
    scores, labels, words = BAD_BINARY[case]
    with expect_raises(f"roc_auc with {words}", ValueError, explain=BAD_BINARY_EXPLAIN):
        impl.roc_auc(scores, labels)


# ------------------------------------------------------------------------------------- average_precision


@pytest.mark.task("average_precision")
def test_average_precision_hand_computed(impl):
    ap = impl.average_precision(SMALL_SCORES, SMALL_LABELS)
    observe(f"the type of average_precision({SMALL})", type(ap).__name__, expect="float", explain="a Python float")
    observe(f"average_precision({SMALL})", ap, expect=0.5 * 1.0 + 0.5 * (2 / 3),
            explain=f"{AP_DEF}: thresholds 0.8, 0.4, 0.35, 0.1 give (R, P) = (1/2, 1), (1/2, 1/2), (1, 2/3), "
                    "(1, 1/2), so AP = 1/2 * 1 + 1/2 * 2/3 = 0.8333: rectangles, no trapezoids between the points")


@pytest.mark.task("average_precision")
def test_average_precision_ties_form_one_threshold(impl):
    scores = torch.tensor([0.9, 0.5, 0.5, 0.5, 0.2])
    labels = torch.tensor([0, 1, 1, 0, 1])
    observe("average_precision(scores=[0.9, 0.5, 0.5, 0.5, 0.2], labels=[0, 1, 1, 0, 1]): three tied scores",
            impl.average_precision(scores, labels), expect=2 / 3 * 0.5 + 1 / 3 * 0.6,
            explain=f"{AP_DEF}: thresholds 0.9, 0.5, 0.2 give (R, P) = (0, 0), (2/3, 1/2), (1, 3/5), so AP = "
                    "2/3 * 1/2 + 1/3 * 3/5 = 0.5333; stepping through the tied samples one by one gives another "
                    "value that depends on their order")
    observe("average_precision with 3 positives among 8 equal scores",
            impl.average_precision(torch.full((8,), 0.4), torch.tensor([0, 1, 0, 0, 1, 0, 1, 0])), expect=3 / 8,
            explain="one threshold only: recall 1 at precision 3/8, so AP is the fraction of positives")


@pytest.mark.task("average_precision")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_average_precision_special_rankings(impl, dtype):
    labels = torch.tensor([0, 1, 1, 0, 1, 0, 0])
    perfect = labels.to(dtype) * 2 + torch.arange(7, dtype=dtype) / 10
    observe(f"average_precision with a perfect ranking ({dtype})", impl.average_precision(perfect, labels),
            expect=1.0, explain="every positive above every negative: precision 1 at every recall")
    inverted = -(labels.to(dtype) * 2) + torch.arange(7, dtype=dtype) / 10
    # inverted scores rank the positives last, in the order 4, 2, 1: (R, P) = (1/3, 1/5), (2/3, 2/6), (1, 3/7)
    observe(f"average_precision with an inverted ranking ({dtype})", impl.average_precision(inverted, labels),
            expect=(1 / 5 + 2 / 6 + 3 / 7) / 3,
            explain=f"{AP_DEF}: the positives come 5th, 6th and 7th, so AP = (1/5 + 2/6 + 3/7) / 3")
    observe(f"average_precision when every label is positive ({dtype})",
            impl.average_precision(perfect, torch.ones(7, dtype=torch.int64)), expect=1.0,
            explain="no negatives: precision is 1 at every threshold")


@pytest.mark.task("average_precision")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_average_precision_random(impl, dtype):
    for seed, (n, levels) in enumerate(RANDOM_BINARY):
        scores, labels = _binary(70 + seed, n, dtype, levels, positive=0.15)
        observe(f"average_precision on {n} {dtype} scores"
                + (f" with only {levels} distinct values (ties)" if levels else ""),
                impl.average_precision(scores, labels), explain=AP_DEF)
    scores, labels = _binary(90, 200, dtype, 10)
    observe("average_precision with bool labels", impl.average_precision(scores, labels.bool()),
            explain="labels may be bool or int64 0 / 1")


@pytest.mark.task("average_precision")
def test_average_precision_rejects_no_positive(impl):
    with expect_raises("average_precision with labels=[0, 0, 0]", ValueError,
                       explain="with no positive, recall is undefined: ValueError"):
        impl.average_precision(torch.tensor([0.2, 0.6, 0.4]), torch.tensor([0, 0, 0]))


@pytest.mark.task("average_precision")
@pytest.mark.parametrize("case", list(BAD_BINARY))
def test_average_precision_rejects_bad_inputs(impl, case):
    scores, labels, words = BAD_BINARY[case]
    with expect_raises(f"average_precision with {words}", ValueError, explain=BAD_BINARY_EXPLAIN):
        impl.average_precision(scores, labels)


# ---------------------------------------------------------------------------------------- best_threshold


@pytest.mark.task("best_threshold")
def test_best_threshold_hand_computed(impl):
    result = impl.best_threshold(SMALL_SCORES, SMALL_LABELS)
    observe(f"the types in best_threshold({SMALL})", [type(item).__name__ for item in result],
            expect=["float", "float"], explain="a tuple (threshold, f1) of two Python floats")
    observe(f"best_threshold({SMALL})", tuple(result), expect=(float(torch.tensor(0.35)), 0.8),
            explain=f"{F1_DEF}: thresholds 0.8, 0.4, 0.35, 0.1 give F1 2/3, 1/2, 4/5, 2/3; 0.35 predicts "
                    "0.35, 0.4 and 0.8 positive (tp 2, fp 1, fn 0)")


@pytest.mark.task("best_threshold")
def test_best_threshold_ties_go_to_the_highest(impl):
    scores = torch.tensor([0.9, 0.7, 0.6, 0.2], dtype=torch.float64)
    labels = torch.tensor([1, 0, 0, 1])
    observe("best_threshold(scores=[0.9, 0.7, 0.6, 0.2], labels=[1, 0, 0, 1]): 0.9 and 0.2 both give F1 2/3",
            tuple(impl.best_threshold(scores, labels)), expect=(0.9, 2 / 3),
            explain=f"{F1_DEF}: 0.9 gives 2 / (2 + 0 + 1) and 0.2 gives 4 / (4 + 2 + 0), both 2/3; a tie goes to "
                    "the HIGHEST threshold")


@pytest.mark.task("best_threshold")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_best_threshold_special_rankings(impl, dtype):
    labels = torch.tensor([0, 1, 1, 0, 1, 0, 0])
    same = torch.full((7,), 0.3, dtype=dtype)
    observe(f"best_threshold when every score is 0.3 ({dtype})", tuple(impl.best_threshold(same, labels)),
            expect=(float(same[0]), 6 / 10),
            explain="the only candidate is 0.3, which predicts everything positive: 2 * 3 / (2 * 3 + 4 + 0)")
    perfect = labels.to(dtype) * 2 + torch.arange(7, dtype=dtype) / 10
    observe(f"best_threshold with a perfect ranking ({dtype})", tuple(impl.best_threshold(perfect, labels)),
            expect=(float(perfect[1]), 1.0),
            explain="the lowest positive score separates the classes exactly: F1 = 1")
    inverted = -(labels.to(dtype) * 2) + torch.arange(7, dtype=dtype) / 10
    observe(f"best_threshold with an inverted ranking ({dtype})", tuple(impl.best_threshold(inverted, labels)),
            expect=(float(inverted[1]), 6 / 10),
            explain="every positive is below every negative, so any threshold that catches a positive also predicts "
                    "all 4 negatives positive; the best is the lowest score: 2 * 3 / (2 * 3 + 4 + 0) = 0.6")
    observe(f"best_threshold when every label is positive ({dtype})",
            tuple(impl.best_threshold(perfect, torch.ones(7, dtype=torch.int64))), expect=(float(perfect[0]), 1.0),
            explain="no negatives (allowed): only the lowest score, 0, predicts every sample positive, F1 = 1")


@pytest.mark.task("best_threshold")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_best_threshold_random(impl, dtype):
    for seed, (n, levels) in enumerate(RANDOM_BINARY):
        scores, labels = _binary(100 + seed, n, dtype, levels)
        threshold, f1 = impl.best_threshold(scores, labels)
        where = f"{n} {dtype} scores" + (f" with only {levels} distinct values (ties)" if levels else "")
        observe(f"the threshold from best_threshold on {where}", threshold, exact=True,
                explain=f"the score with the highest {F1_DEF}, the highest one on a tie")
        observe(f"the F1 from best_threshold on {where}", f1, explain=F1_DEF)
    scores, labels = _binary(120, 200, dtype, 10)
    observe("best_threshold with bool labels (the same 200 scores and labels as int64 below)",
            tuple(impl.best_threshold(scores, labels.bool())), explain="labels may be bool or int64 0 / 1")
    observe("best_threshold with int64 labels", tuple(impl.best_threshold(scores, labels)), explain=F1_DEF)


@pytest.mark.task("best_threshold")
def test_best_threshold_rejects_no_positive(impl):
    with expect_raises("best_threshold with labels=[0, 0, 0]", ValueError,
                       explain="with no positive there is no F1 to maximise: ValueError"):
        impl.best_threshold(torch.tensor([0.2, 0.6, 0.4]), torch.tensor([0, 0, 0]))


@pytest.mark.task("best_threshold")
@pytest.mark.parametrize("case", list(BAD_BINARY))
def test_best_threshold_rejects_bad_inputs(impl, case):
    scores, labels, words = BAD_BINARY[case]
    with expect_raises(f"best_threshold with {words}", ValueError, explain=BAD_BINARY_EXPLAIN):
        impl.best_threshold(scores, labels)
