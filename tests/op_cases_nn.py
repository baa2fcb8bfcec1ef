"""Op table rows: the nn family (see op_case.py for the row types)."""

import math

from op_case import TARGETS, Case, Exact, batch_norm, torch_cross_entropy, torch_linear

import tinygrad_drop.nn.functional as F

CASES = {
    # -- dropout (masks are random: no PyTorch counterpart in training; gradcheck replays them)
    "dropout_inverted": Case(lambda a: F.dropout(a, 0.4), None, ((6, 7),)),
    "dropout_certain": Case(lambda a: F.dropout(a, 1.0), None, exact=Exact(  # zeros, never 0/0
        ([1.0, -2.0],), [0.0, 0.0], ([0.0, 0.0],))),
    "dropout_vanilla": Case(lambda a: F.dropout(a, 0.4, mode="vanilla"), None, ((6, 7),)),
    "dropout_vanilla_inference": Case(lambda a: F.dropout(a, 0.25, False, mode="vanilla"),
                                      lambda a: a * 0.75, ((3, 4),), exact=Exact(
                                          ([4.0, -2.0],), [3.0, -1.5], ([0.75, 0.75],))),
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
    # -- several ops together
    "composite_mlp": Case(lambda x, w, b: ((x @ w + b).relu() * 0.5).log_softmax().sum(),
                          lambda x, w, b: ((x @ w + b).relu() * 0.5).log_softmax(-1).sum(),
                          ((4, 3), (3, 5), (5,))),
}
