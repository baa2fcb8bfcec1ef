"""Op table rows: the nn family (see op_case.py for the row types)."""

import math

from op_case import TARGETS, Case, Exact, batch_norm, torch_cross_entropy, torch_linear
from op_functional import W, functional

import tinygrad_drop.nn.functional as F

LOG2, LOG3 = math.log(2.0), math.log(3.0)
ENTROPY = -0.25 * math.log(0.25) - 0.75 * math.log(0.75)  # of (0.25, 0.75)
CLASS_W = [1.0, 3.0, 0.5, 2.0]
IGNORING = [0, -100, 1, -100, 2]
ND_TARGETS = [[[0, 3], [1, 1], [2, -100]], [[3, 3], [0, 2], [1, 0]]]



def torch_smoothed_one(z):
    """PyTorch's cross-entropy of 1-D logits against class 1 (a 0-d target), smoothing 0.5."""
    import torch
    return torch.nn.functional.cross_entropy(z, torch.tensor(1), label_smoothing=0.5)


CASES = {
    # -- dropout (masks are random: no PyTorch counterpart in training; gradcheck replays them)
    "dropout_inverted": Case(lambda a: F.dropout(a, 0.4), None, ((6, 7),)),
    "dropout_certain": Case(lambda a: F.dropout(a, 1.0), None, exact=Exact(  # zeros, never 0/0
        ([1.0, -2.0],), [0.0, 0.0], ([0.0, 0.0],))),
    "dropout_vanilla": Case(lambda a: F.dropout(a, 0.4, mode="vanilla"), None, ((6, 7),)),
    "dropout_vanilla_inference": Case(lambda a: F.dropout(a, 0.25, False, mode="vanilla"),
                                      lambda a: a * 0.75, ((3, 4),), exact=Exact(
                                          ([4.0, -2.0],), [3.0, -1.5], ([0.75, 0.75],))),
    # -- spatial dropout: one draw per (sample, channel); gradcheck replays the mask
    "dropout2d_inverted": Case(lambda a: F.dropout2d(a, 0.4), None, ((3, 4, 2, 3),)),
    "dropout2d_certain": Case(lambda a: F.dropout2d(a, 1.0), None, exact=Exact(  # zeros
        ([[[[1.0, -2.0]], [[3.0, 0.5]]]],), [[[[0.0, 0.0]], [[0.0, 0.0]]]],
        ([[[[0.0, 0.0]], [[0.0, 0.0]]]],))),
    "dropout2d_vanilla": Case(lambda a: F.dropout2d(a, 0.4, mode="vanilla"), None,
                              ((3, 4, 2, 3),)),
    "dropout2d_vanilla_inference": Case(
        lambda a: F.dropout2d(a, 0.25, False, mode="vanilla"), lambda a: a * 0.75,
        ((2, 3, 2, 2),), exact=Exact(([[[[4.0, -2.0]]]],), [[[[3.0, -1.5]]]],
                                     ([[[[0.75, 0.75]]]],))),
    # -- linear, norm, loss
    "linear": Case(lambda x, w, b: F.linear(x, w, b), torch_linear, ((5, 3), (4, 3), (4,)),
                   exact=Exact(([[1.0, 2.0]], [[3.0, 4.0]], [0.5]), [[11.5]],
                               ([[3.0, 4.0]], [[1.0, 2.0]], [1.0]))),
    "linear_batch_dims": Case(lambda x, w, b: F.linear(x, w, b), torch_linear,
                              ((2, 5, 3), (4, 3), (4,))),
    "batch_norm_train": Case(*batch_norm(True), ((6, 3), (3,), (3,))),
    "batch_norm_train_nchw": Case(*batch_norm(True), ((3, 3, 2, 4), (3,), (3,))),
    "batch_norm_eval_ncl": Case(*batch_norm(False), ((4, 3, 5), (3,), (3,)), exact=Exact(
        ([[2.5, -1.0, 3.0], [0.5, 0.0, -1.0]], [1.0, 2.0, 1.0], [0.0, 0.0, 1.0]),
        [[1.0, 0.0, 4.0], [0.0, 4.0, 0.0]],
        ([[0.5, 4.0, 1.0], [0.5, 4.0, 1.0]], [1.0, 2.0, 2.0], [2.0, 2.0, 2.0]))),
    "cross_entropy_mean": Case(lambda z: F.cross_entropy(z, TARGETS),
                               torch_cross_entropy(TARGETS), ((5, 4),)),
    "cross_entropy_sum": Case(lambda z: F.cross_entropy(z, TARGETS, reduction="sum"),
                              torch_cross_entropy(TARGETS, "sum"), ((5, 4),)),
    "cross_entropy_none": Case(lambda z: F.cross_entropy(z, TARGETS, reduction="none"),
                               torch_cross_entropy(TARGETS, "none"), ((5, 4),)),
    "cross_entropy_one_row": Case(lambda z: F.cross_entropy(z, [1]), torch_cross_entropy([1]),
                                  exact=Exact(([[0.0, math.log(3.0)]],), -math.log(0.75),
                                              ([[0.25, -0.25]],))),
    "cross_entropy_huge_logits": Case(lambda z: F.cross_entropy(z, [1, 0]),
                                      torch_cross_entropy([1, 0]), exact=Exact(
                                          ([[1000.0, -1000.0], [1000.0, -1000.0]],), 1000.0,
                                          ([[0.5, -0.5], [0.0, 0.0]],))),
    # -- cross-entropy with PyTorch's options: class weights (the mean is over the targets'
    # weights), ignore_index (ignored positions count for nothing), label smoothing, (N, C, d...)
    # logits, class-probability targets
    "cross_entropy_weight": Case(*functional("cross_entropy", TARGETS, weight=W(CLASS_W)),
                                 ((5, 4),)),
    "cross_entropy_weight_two_classes": Case(
        *functional("cross_entropy", [1, 0], weight=W([1.0, 3.0])), exact=Exact(
            ([[0.0, LOG3], [0.0, LOG3]],), (-3 * math.log(0.75) - math.log(0.25)) / 4,
            ([[0.1875, -0.1875], [-0.1875, 0.1875]],))),
    "cross_entropy_ignore_index": Case(*functional("cross_entropy", IGNORING), ((5, 4),)),
    "cross_entropy_ignore_index_worked": Case(*functional("cross_entropy", [1, -100]),
                                              exact=Exact(([[0.0, LOG3], [5.0, 7.0]],),
                                                          -math.log(0.75),
                                                          ([[0.25, -0.25], [0, 0]],))),
    "cross_entropy_ignore_a_class": Case(*functional("cross_entropy", TARGETS, ignore_index=1,
                                                     reduction="sum"), ((5, 4),)),
    # an ignore_index that is a class is masked whether or not it occurs (no device read)
    "cross_entropy_ignore_an_absent_class": Case(*functional(
        "cross_entropy", [0, 3, 1, 1, 3], ignore_index=2), ((5, 4),)),
    "cross_entropy_label_smoothing": Case(*functional("cross_entropy", TARGETS,
                                                      label_smoothing=0.2), ((5, 4),)),
    # smoothing 0.5 over 2 classes turns target 1 into (0.25, 0.75) = softmax: gradient 0
    "cross_entropy_label_smoothing_worked": Case(
        lambda z: F.cross_entropy(z, 1, label_smoothing=0.5), torch_smoothed_one,
        exact=Exact(([0.0, LOG3],), ENTROPY, ([0.0, 0.0],))),
    "cross_entropy_smoothing_weight_ignore": Case(*functional(
        "cross_entropy", IGNORING, weight=W(CLASS_W), label_smoothing=0.3,
        reduction="none"), ((5, 4),)),
    "cross_entropy_nd": Case(*functional("cross_entropy", ND_TARGETS), ((2, 4, 3, 2),)),
    "cross_entropy_nd_weight_smoothing": Case(*functional(
        "cross_entropy", ND_TARGETS, weight=W(CLASS_W), label_smoothing=0.1, reduction="none"),
        ((2, 4, 3, 2),)),
    "cross_entropy_probabilities": Case(*functional("cross_entropy"), ((5, 4), (5, 4)),
                                        exact=Exact(([0.0, LOG3], [0.25, 0.75]), ENTROPY,
                                                    ([0.0, 0.0],
                                                     [-math.log(0.25), -math.log(0.75)]))),
    "cross_entropy_probabilities_weight_smoothing": Case(*functional(
        "cross_entropy", weight=W(CLASS_W), label_smoothing=0.25, reduction="sum"),
        ((5, 4), (5, 4))),
    "cross_entropy_probabilities_nd": Case(*functional("cross_entropy", reduction="none"),
                                           ((2, 3, 4), (2, 3, 4))),
    # -- negative log-likelihood of log-probabilities
    "nll_loss": Case(*functional("nll_loss", TARGETS), ((5, 4),)),
    "nll_loss_weight_ignore": Case(*functional("nll_loss", [1, 0, -100], weight=W([2.0, 1.0])),
                                   ((3, 2),), exact=Exact(([[-1.0, -2.0], [-3.0, -4.0],
                                                            [-5.0, -6.0]],), 8 / 3,
                                                          ([[0.0, -1 / 3], [-2 / 3, 0.0],
                                                            [0.0, 0.0]],))),
    "nll_loss_ignore_a_class": Case(*functional("nll_loss", TARGETS, ignore_index=1),
                                    ((5, 4),)),
    "nll_loss_nd_none": Case(*functional("nll_loss", ND_TARGETS, reduction="none"),
                             ((2, 4, 3, 2),)),
    "nll_loss_sum_of_log_softmax": Case(
        lambda z: F.nll_loss(z.log_softmax(1), TARGETS, reduction="sum"),
        torch_cross_entropy(TARGETS, "sum"), ((5, 4),)),
    # -- binary cross-entropy: probabilities (logs clamped at -100, as PyTorch) and logits
    "binary_cross_entropy": Case(lambda x, y: F.binary_cross_entropy(x * 0.4, y * 0.5),
                                 lambda x, y: functional("binary_cross_entropy")[1](x * 0.4,
                                                                                    y * 0.5),
                                 ((3, 4), (3, 4)), "pos"),
    "binary_cross_entropy_clamped_log": Case(
        lambda x, y: F.binary_cross_entropy(x * 0.4, y * 0.5, reduction="sum"),
        lambda x, y: functional("binary_cross_entropy", reduction="sum")[1](x * 0.4, y * 0.5),
        ((4,), (4,)), "pos", exact=Exact(
            ([0.0, 1.25], [2.0, 2.0]), 100 + math.log(2.0),
            ([-0.4 / 9.999999960041972e-13, -0.8], [math.inf, 0.0]))),
    "binary_cross_entropy_weight_none": Case(
        lambda x, y: functional("binary_cross_entropy", weight=W([0.5, 2.0, 1.0]),
                                reduction="none")[0](x * 0.4, y * 0.5),
        lambda x, y: functional("binary_cross_entropy", weight=W([0.5, 2.0, 1.0]),
                                reduction="none")[1](x * 0.4, y * 0.5),
        ((2, 3), (2, 3)), "pos"),
    "bce_with_logits": Case(*functional("binary_cross_entropy_with_logits", reduction="sum"),
                            ((3, 4), (3, 4)), exact=Exact(
                                ([1000.0, -1000.0, 0.0], [0.0, 1.0, 1.0]),
                                2000 + math.log(2.0), ([1.0, -1.0, -0.5], [-1000.0, 1000.0, 0.0]))),
    "bce_with_logits_weight_pos_weight": Case(*functional(
        "binary_cross_entropy_with_logits", weight=W([0.5, 2.0, 1.0, 1.5]),
        pos_weight=W([3.0, 0.5, 1.0, 2.0])), ((3, 4), (3, 4))),
    "bce_with_logits_pos_weight_none": Case(*functional(
        "binary_cross_entropy_with_logits", reduction="none", pos_weight=W([3.0, 0.5])),
        ((3, 2), (3, 2)), exact=Exact(([0.0, 0.0], [1.0, 1.0]), [3 * LOG2, 0.5 * LOG2],
                                      ([-1.5, -0.25], [2 * LOG2, -0.5 * LOG2]))),
    # -- mean squared error
    "mse_loss": Case(*functional("mse_loss"), ((3, 4), (3, 4)), exact=Exact(
        ([1.0, 2.0, 3.0], [1.0, 0.0, 0.0]), 13 / 3, ([0.0, 4 / 3, 2.0], [0.0, -4 / 3, -2.0]))),
    "mse_loss_sum": Case(*functional("mse_loss", reduction="sum"), ((3, 4), (3, 4))),
    "mse_loss_none": Case(*functional("mse_loss", reduction="none"), ((3, 4), (3, 4))),
    # -- several ops together
    "composite_mlp": Case(lambda x, w, b: ((x @ w + b).relu() * 0.5).log_softmax().sum(),
                          lambda x, w, b: ((x @ w + b).relu() * 0.5).log_softmax(-1).sum(),
                          ((4, 3), (3, 5), (5,))),
}
