"""Op table rows: the activation family (see op_case.py for the row types)."""

import math

from op_case import Case, Exact

CASES = {
    # -- activation
    "relu": Case(lambda a: a.relu(), lambda a: a.relu(), ((3, 4),), "away",
                 exact=Exact(([-1.0, 0.0, 2.0],), [0.0, 0.0, 2.0], ([0, 0, 1],))),
    "sigmoid": Case(lambda a: a.sigmoid(), lambda a: a.sigmoid(), ((2, 3),),
                    exact=Exact(([0.0, 1000.0, -1000.0],), [0.5, 1.0, 0.0], ([0.25, 0.0, 0.0],))),
    "tanh": Case(lambda a: a.tanh(), lambda a: a.tanh(), ((2, 3),),
                 exact=Exact(([0.0],), [0.0], ([1.0],))),
    "softmax_last": Case(lambda a: a.softmax(), lambda a: a.softmax(-1), ((3, 5),),
                         exact=Exact(([0.0, math.log(3.0)],), [0.25, 0.75], ([0.0, 0.0],))),
    "softmax_axis0": Case(lambda a: a.softmax(0), lambda a: a.softmax(0), ((3, 5),)),
    "softmax_huge_logits": Case(lambda a: a.softmax(), lambda a: a.softmax(-1), exact=Exact(
        ([1000.0, -1000.0],), [1.0, 0.0], ([0.0, 0.0],))),
    "log_softmax": Case(lambda a: a.log_softmax(), lambda a: a.log_softmax(-1), ((3, 5),),
                        exact=Exact(([0.0, math.log(3.0)],), [math.log(0.25), math.log(0.75)],
                                    ([0.5, -0.5],))),
}
