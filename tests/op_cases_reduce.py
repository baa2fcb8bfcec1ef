"""Op table rows: the reduce family (see op_case.py for the row types)."""

import math

from op_case import Case, Exact

TIES = [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]  # ties at a maximum (row 0) and a minimum (row 1)

CASES = {
    # -- sum, mean
    "sum_all": Case(lambda a: a.sum(), lambda a: a.sum(), ((3, 4),)),
    "sum_axis": Case(lambda a: a.sum(0), lambda a: a.sum(0), ((3, 4),), exact=Exact(
        ([[1.0, 2.0], [3.0, 4.0]],), [4.0, 6.0], ([[1, 1], [1, 1]],))),
    "sum_axes_keepdims": Case(lambda a: a.sum(axis=(0, 2), keepdims=True),
                              lambda a: a.sum(dim=(0, 2), keepdim=True), ((2, 3, 4),)),
    "sum_negative_axis": Case(lambda a: a.sum(-1), lambda a: a.sum(-1), ((2, 3, 4),)),
    "sum_empty_dims_mean_all": Case(lambda a: a.sum(()), lambda a: a.sum(()), ((2, 3),)),
    "mean_all": Case(lambda a: a.mean(), lambda a: a.mean(), ((3, 4),), exact=Exact(
        ([[1.0, 2.0], [3.0, 6.0]],), 3.0, ([[0.25] * 2] * 2,))),
    "mean_axis_keepdims": Case(lambda a: a.mean(1, keepdims=True),
                               lambda a: a.mean(1, keepdim=True), ((3, 4),)),
    "mean_negative_dims": Case(lambda a: a.mean(dim=(-1, -3)), lambda a: a.mean(dim=(-1, -3)),
                               ((2, 3, 4),)),
    # -- prod: the gradient is the product of the other elements, exact with zeros
    "prod_all": Case(lambda a: a.prod(), lambda a: a.prod(), ((2, 3),), exact=Exact(
        ([2.0, 3.0, 4.0],), 24.0, ([12.0, 8.0, 6.0],))),
    "prod_dim_keepdim": Case(lambda a: a.prod(-1, keepdim=True),
                             lambda a: a.prod(-1, keepdim=True), ((3, 4),)),
    "prod_one_zero": Case(lambda a: a.prod(1), lambda a: a.prod(1), ((3, 4),), exact=Exact(
        ([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0]],), [0.0, 0.0], ([[0, 6, 0], [0, 0, 0]],))),
    # -- var, std: correction (default 1), unbiased=, keepdim, dims
    "var_all": Case(lambda a: a.var(), lambda a: a.var(), ((3, 4),), exact=Exact(
        ([1.0, 3.0],), 2.0, ([-2.0, 2.0],))),
    "var_dim": Case(lambda a: a.var(1), lambda a: a.var(1), ((3, 4),)),
    "var_biased_keepdim": Case(lambda a: a.var(0, unbiased=False, keepdim=True),
                               lambda a: a.var(0, unbiased=False, keepdim=True), ((3, 4),),
                               exact=Exact(([[1.0], [3.0]],), [[1.0]], ([[-1.0], [1.0]],))),
    "var_correction_axes": Case(lambda a: a.var(axis=(0, -1), correction=2),
                                lambda a: a.var(dim=(0, -1), correction=2), ((3, 2, 4),)),
    "std_all": Case(lambda a: a.std(), lambda a: a.std(), ((3, 4),)),
    "std_dim_correction_0": Case(
        lambda a: a.std(1, correction=0), lambda a: a.std(1, correction=0), ((3, 4),),
        exact=Exact(([[0.0, 0.0, 4.0, 4.0]],), [2.0], ([[-0.25, -0.25, 0.25, 0.25]],))),
    "std_zero_spread_has_zero_gradient": Case(
        lambda a: a.std(-1, keepdim=True), lambda a: a.std(-1, keepdim=True), ((4, 3),),
        exact=Exact(([[1.0, 1.0], [2.0, 4.0]],), [[0.0], [math.sqrt(2)]],
                    ([[0.0, 0.0], [-math.sqrt(0.5), math.sqrt(0.5)]],))),
    # -- logsumexp: stable for large inputs, gradient softmax
    "logsumexp_dim": Case(lambda a: a.logsumexp(1), lambda a: a.logsumexp(1), ((3, 4),),
                          exact=Exact(([[1000.0, 1000.0], [0.0, 0.0]],),
                                      [1000 + math.log(2), math.log(2)], ([[0.5] * 2] * 2,))),
    "logsumexp_all": Case(lambda a: a.logsumexp(), lambda a: a.logsumexp((0, 1)), ((3, 4),)),
    "logsumexp_negative_dims_keepdim": Case(
        lambda a: a.logsumexp(dim=(-1, 0), keepdim=True),
        lambda a: a.logsumexp(dim=(-1, 0), keepdim=True), ((2, 3, 4),)),
    # -- amax/amin and the value forms of max/min: ties share the gradient equally
    "max_all_ties_share_gradient": Case(lambda a: a.max(), lambda a: a.max(), ((3, 4),),
                                        exact=Exact(([1.0, 3.0, 3.0],), 3.0, ([0, 0.5, 0.5],))),
    "max_axis": Case(lambda a: a.max(axis=1), lambda a: a.amax(1), ((3, 4),), exact=Exact(
        ([[1.0, 5.0], [7.0, 2.0]],), [5.0, 7.0], ([[0, 1], [1, 0]],))),
    "max_axis_keepdims": Case(lambda a: a.max(axis=0, keepdims=True),
                              lambda a: a.amax(0, keepdim=True), ((3, 4),)),
    "amax_dims_ties": Case(lambda a: a.amax((0, -1)), lambda a: a.amax((0, -1)), ((2, 3, 4),),
                           exact=Exact((TIES,), 3.0, ([[0, 0.5, 0.5], [0, 0, 0]],))),
    "amax_dim_ties": Case(lambda a: a.amax(-1), lambda a: a.amax(-1), ((3, 4),), exact=Exact(
        (TIES,), [3.0, 2.0], ([[0, 0.5, 0.5], [0.5, 0.5, 0]],))),
    "amin_dim_keepdim_ties": Case(
        lambda a: a.amin(0, keepdim=True), lambda a: a.amin(0, keepdim=True), ((3, 4),),
        exact=Exact(([[1.0, 2.0], [1.0, 5.0]],), [[1.0, 2.0]], ([[0.5, 1], [0.5, 0]],))),
    "min_all_ties_share_gradient": Case(lambda a: a.min(), lambda a: a.min(), ((3, 4),),
                                        exact=Exact(([2.0, 1.0, 1.0],), 1.0, ([0, 0.5, 0.5],))),
    "min_axis": Case(lambda a: a.min(axis=-2), lambda a: a.amin(-2), ((3, 4),)),
    # -- max/min over a dim: (values, indices), the gradient to the first extreme alone
    "max_dim_values": Case(lambda a: a.max(1).values, lambda a: a.max(1).values, ((3, 4),),
                           exact=Exact((TIES,), [3.0, 2.0], ([[0, 1, 0], [1, 0, 0]],))),
    "max_dim_keepdim_negative": Case(
        lambda a: a.max(dim=-2, keepdim=True)[0], lambda a: a.max(dim=-2, keepdim=True)[0],
        ((2, 3, 4),), exact=Exact((TIES,), [[2.0, 3.0, 3.0]], ([[0, 1, 1], [1, 0, 0]],))),
    "min_dim_values": Case(lambda a: a.min(0).values, lambda a: a.min(0).values, ((3, 4),),
                           exact=Exact(([[1.0, 0.0], [1.0, 5.0]],), [1.0, 0.0],
                                       ([[1, 1], [0, 0]],))),
    "min_dim_keepdim": Case(lambda a: a.min(-1, True).values,
                            lambda a: a.min(-1, True).values, ((3, 4),), exact=Exact(
                                (TIES,), [[1.0], [0.0]], ([[1, 0, 0], [0, 0, 1]],))),
}
