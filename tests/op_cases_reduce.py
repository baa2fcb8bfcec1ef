"""Op table rows: the reduce family (see op_case.py for the row types)."""

from op_case import Case, Exact

CASES = {
    # -- reduce
    "sum_all": Case(lambda a: a.sum(), lambda a: a.sum(), ((3, 4),)),
    "sum_axis": Case(lambda a: a.sum(0), lambda a: a.sum(0), ((3, 4),), exact=Exact(
        ([[1.0, 2.0], [3.0, 4.0]],), [4.0, 6.0], ([[1, 1], [1, 1]],))),
    "sum_axes_keepdims": Case(lambda a: a.sum(axis=(0, 2), keepdims=True),
                              lambda a: a.sum(dim=(0, 2), keepdim=True), ((2, 3, 4),)),
    "sum_negative_axis": Case(lambda a: a.sum(-1), lambda a: a.sum(-1), ((2, 3, 4),)),
    "mean_all": Case(lambda a: a.mean(), lambda a: a.mean(), ((3, 4),), exact=Exact(
        ([[1.0, 2.0], [3.0, 6.0]],), 3.0, ([[0.25] * 2] * 2,))),
    "mean_axis_keepdims": Case(lambda a: a.mean(1, keepdims=True),
                               lambda a: a.mean(1, keepdim=True), ((3, 4),)),
    "max_all_ties_share_gradient": Case(lambda a: a.max(), lambda a: a.max(), ((3, 4),),
                                        exact=Exact(([1.0, 3.0, 3.0],), 3.0, ([0, 0.5, 0.5],))),
    "max_axis": Case(lambda a: a.max(axis=1), lambda a: a.amax(1), ((3, 4),), exact=Exact(
        ([[1.0, 5.0], [7.0, 2.0]],), [5.0, 7.0], ([[0, 1], [1, 0]],))),
    "max_axis_keepdims": Case(lambda a: a.max(0, keepdims=True),
                              lambda a: a.amax(0, keepdim=True), ((3, 4),)),
}
