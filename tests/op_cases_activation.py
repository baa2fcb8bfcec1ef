"""Op table rows: the activation family (see op_case.py for the row types)."""

import math

from op_case import Case, Exact
from op_functional import functional

NAN, INF = math.nan, math.inf
LOG2 = math.log(2.0)


def clamp_tensor(x, low, high):
    """x.clamp with Tensor bounds: works on ours and on torch tensors alike."""
    return x.clamp(low, high)


CASES = {
    # -- activation
    "relu": Case(lambda a: a.relu(), lambda a: a.relu(), ((3, 4),), "away",
                 exact=Exact(([-1.0, 0.0, 2.0],), [0.0, 0.0, 2.0], ([0, 0, 1],))),
    # bug 10: NaN is not <= 0, so PyTorch passes the gradient through
    "relu_nan": Case(lambda a: a.relu(), lambda a: a.relu(), exact=Exact(
        ([NAN, -1.0, 0.0, 2.0],), [NAN, 0.0, 0.0, 2.0], ([1, 0, 0, 1],)), domain="away"),
    "sigmoid": Case(lambda a: a.sigmoid(), lambda a: a.sigmoid(), ((2, 3),),
                    exact=Exact(([0.0, 1000.0, -1000.0],), [0.5, 1.0, 0.0], ([0.25, 0.0, 0.0],))),
    "tanh": Case(lambda a: a.tanh(), lambda a: a.tanh(), ((2, 3),),
                 exact=Exact(([0.0],), [0.0], ([1.0],))),
    "F_tanh": Case(*functional("tanh"), ((4,),)),
    "softmax_last": Case(lambda a: a.softmax(), lambda a: a.softmax(-1), ((3, 5),),
                         exact=Exact(([0.0, math.log(3.0)],), [0.25, 0.75], ([0.0, 0.0],))),
    "softmax_axis0": Case(lambda a: a.softmax(0), lambda a: a.softmax(0), ((3, 5),)),
    "F_softmax_dim_keyword": Case(*functional("softmax", dim=1), ((2, 3, 4),)),
    "softmax_huge_logits": Case(lambda a: a.softmax(), lambda a: a.softmax(-1), exact=Exact(
        ([1000.0, -1000.0],), [1.0, 0.0], ([0.0, 0.0],))),
    "log_softmax": Case(lambda a: a.log_softmax(), lambda a: a.log_softmax(-1), ((3, 5),),
                        exact=Exact(([0.0, math.log(3.0)],), [math.log(0.25), math.log(0.75)],
                                    ([0.5, -0.5],))),
    "F_log_softmax_dim_0": Case(*functional("log_softmax", 0), ((3, 4),)),
    # -- GELU: exact (erf) and tanh-approximated; 0 and +-10 worked by hand
    "gelu": Case(*functional("gelu"), ((4, 5),), exact=Exact(
        ([0.0, 10.0, -10.0],), [0.0, 10.0, 0.0], ([0.5, 1.0, 0.0],))),
    "gelu_wide_range": Case(lambda a: functional("gelu")[0](a * 4),
                            lambda a: functional("gelu")[1](a * 4), ((6, 7),)),
    "gelu_tanh": Case(*functional("gelu", approximate="tanh"), ((4, 5),), exact=Exact(
        ([0.0, 10.0],), [0.0, 10.0], ([0.5, 1.0],))),
    "silu": Case(*functional("silu"), ((4, 5),), exact=Exact(
        ([0.0, 1000.0, -1000.0],), [0.0, 1000.0, 0.0], ([0.5, 1.0, 0.0],))),
    # leaky ReLU and ELU: the gradient at 0 takes the negative side's value, as PyTorch
    "leaky_relu": Case(*functional("leaky_relu"), ((3, 4),), "away", exact=Exact(
        ([-1.0, 1.0, 0.0],), [-0.01, 1.0, 0.0], ([0.01, 1.0, 0.01],))),
    "leaky_relu_slope": Case(*functional("leaky_relu", 0.25), ((3, 4),), "away", exact=Exact(
        ([-2.0, 3.0, NAN],), [-0.5, 3.0, NAN], ([0.25, 1.0, 0.25],))),
    "elu": Case(*functional("elu"), ((3, 4),), "away", exact=Exact(
        ([0.0, 1.0, -INF],), [0.0, 1.0, -1.0], ([1.0, 1.0, 0.0],))),
    "elu_alpha": Case(*functional("elu", alpha=2.0), ((3, 4),), "away", exact=Exact(
        ([0.0, 3.0, -INF],), [0.0, 3.0, -2.0], ([2.0, 1.0, 0.0],))),
    # softplus: beta * x above the threshold is x itself (gradient 1)
    "softplus": Case(*functional("softplus"), ((3, 4),), exact=Exact(
        ([0.0, 25.0, -1000.0],), [LOG2, 25.0, 0.0], ([0.5, 1.0, 0.0],))),
    "softplus_beta_threshold": Case(*functional("softplus", beta=2.0, threshold=3.0), ((4, 5),),
                                    exact=Exact(([0.0, 1.75, 1.5],), [LOG2 / 2, 1.75,
                                                                      math.log1p(math.e ** 3) / 2],
                                                ([0.5, 1.0, 1 / (1 + math.exp(-3.0))],))),
    # clamp: the bounds themselves pass the gradient; min > max gives max everywhere
    "clamp": Case(lambda a: a.clamp(-1.0, 1.0), lambda a: a.clamp(-1.0, 1.0), ((4, 5),),
                  "away", exact=Exact(([-2.0, -1.0, 0.5, 1.0, 3.0, NAN],),
                                      [-1.0, -1.0, 0.5, 1.0, 1.0, NAN],
                                      ([0, 1, 1, 1, 0, 0],))),
    "clamp_min_only": Case(lambda a: a.clamp(min=0.5), lambda a: a.clamp(min=0.5), ((3, 4),)),
    "clip_max_only": Case(lambda a: a.clip(max=0.5), lambda a: a.clip(max=0.5), ((3, 4),)),
    "clamp_min_above_max": Case(lambda a: a.clamp(3.0, 1.0), lambda a: a.clamp(3.0, 1.0),
                                exact=Exact(([0.0, 2.0, 5.0],), [1.0, 1.0, 1.0], ([0, 0, 0],))),
    "clamp_tensor_bounds": Case(clamp_tensor, clamp_tensor, ((4, 3), (3,), (4, 1)), exact=Exact(
        ([1.0, 2.0, 3.0], [1.5, 1.5, 1.5], [2.0, 2.0, 2.5]), [1.5, 2.0, 2.5],
        ([0, 1, 0], [1, 0, 0], [0, 0, 1]))),
    "clamp_tensor_min_above_max": Case(clamp_tensor, clamp_tensor, exact=Exact(
        ([0.0, 2.0, 5.0], [3.0, 3.0, 3.0], [1.0, 1.0, 1.0]), [1.0, 1.0, 1.0],
        ([0, 0, 0], [0, 0, 0], [1, 1, 1]))),
    "clamp_tensor_min_only": Case(lambda a, b: a.clamp(min=b), lambda a, b: a.clamp(min=b),
                                  ((3, 4), (4,))),
}
