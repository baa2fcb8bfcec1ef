"""Op table rows: the elementwise family (see op_case.py for the row types)."""

import math

from op_case import Case, E, Exact, other_backend

CASES = {
    # -- elementwise
    "add_broadcast": Case(lambda a, b: a + b, lambda a, b: a + b, ((3, 4), (4,)), exact=Exact(
        ([[1.0], [2.0]], [10.0, 20.0]), [[11.0, 21.0], [12.0, 22.0]], ([[2.0], [2.0]], [2, 2]))),
    "add_scalar": Case(lambda a: a + 1.5, lambda a: a + 1.5, ((2, 3),)),
    "radd_scalar": Case(lambda a: 2.0 + a, lambda a: 2.0 + a, ((2, 3),)),
    "sub_broadcast": Case(lambda a, b: a - b, lambda a, b: a - b, ((2, 3, 1), (3, 4)),
                          exact=Exact(([5.0, 7.0], [1.0, 2.0]), [4.0, 5.0], ([1, 1], [-1, -1]))),
    "rsub_scalar": Case(lambda a: 1.0 - a, lambda a: 1.0 - a, ((5,),)),
    "mul_outer": Case(lambda a, b: a * b, lambda a, b: a * b, ((3, 1), (1, 4)),
                      exact=Exact(([2.0, 3.0], [4.0, 5.0]), [8.0, 15.0], ([4, 5], [2, 3]))),
    "mul_reused": Case(lambda a: a * a * a, lambda a: a * a * a, ((2, 2),)),
    "div_broadcast": Case(lambda a, b: a / b, lambda a, b: a / b, ((3, 4), (4,)), "away",
                          exact=Exact(([1.0, 6.0], [2.0, 4.0]), [0.5, 1.5],
                                      ([0.5, 0.25], [-0.25, -0.375]))),
    "rdiv_scalar": Case(lambda a: 2.0 / a, lambda a: 2.0 / a, ((4,),), "away"),
    "neg": Case(lambda a: -a, lambda a: -a, ((3,),),
                exact=Exact(([1.0, -2.0],), [-1.0, 2.0], ([-1, -1],))),
    "pow_2": Case(lambda a: a ** 2, lambda a: a ** 2, ((2, 3),)),
    "pow_3": Case(lambda a: a ** 3, lambda a: a ** 3, ((2, 3),),
                  exact=Exact(([2.0, -1.0],), [8.0, -1.0], ([12.0, 3.0],))),
    "pow_half": Case(lambda a: a ** 0.5, lambda a: a ** 0.5, ((2, 3),), "pos",
                     exact=Exact(([4.0, 9.0],), [2.0, 3.0], ([0.25, 1 / 6],))),
    "pow_negative": Case(lambda a: a ** -1.5, lambda a: a ** -1.5, ((4,),), "pos"),
    "pow_zero_at_zero": Case(lambda a: a ** 0, lambda a: a ** 0, ((4,),), exact=Exact(
        ([0.0, 2.0],), [1.0, 1.0], ([0.0, 0.0],))),  # 0 * 0**-1 would be NaN
    "pow_tensor": Case(lambda a, b: a ** b, lambda a, b: a ** b, ((3, 4), (4,)), "pos",
                       exact=Exact(([2.0, 4.0], [3.0, 0.5]), [8.0, 2.0],
                                   ([12.0, 0.25], [8.0 * math.log(2.0), 2.0 * math.log(4.0)]))),
    "pow_tensor_zero_base": Case(lambda a, b: a ** b, lambda a, b: a ** b, domain="pos",
                                 exact=Exact(
        ([0.0, 0.0, 3.0], [2.0, 0.0, 0.0]), [0.0, 1.0, 1.0], ([0.0, 0.0, 0.0],
                                                             [0.0, 0.0, math.log(3.0)]))),
    "rpow_number": Case(lambda a: 2.0 ** a, lambda a: 2.0 ** a, ((2, 3),), exact=Exact(
        ([3.0, -1.0],), [8.0, 0.5], ([8.0 * math.log(2.0), 0.5 * math.log(2.0)],))),
    "remainder": Case(lambda a, b: a % b, lambda a, b: a % b, ((3, 4), (4,)), "pos",
                      exact=Exact(([5.0, -7.0, 3.5], [2.0, 2.0, -1.5]), [1.0, 1.0, -1.0],
                                  ([1.0, 1.0, 1.0], [-2.0, 4.0, 3.0]))),
    "remainder_scalar": Case(lambda a: a % 0.75, lambda a: a % 0.75, ((2, 3),), "pos"),
    # PyTorch has no derivative of number % tensor; gradcheck stands in for it
    "rremainder_scalar": Case(lambda a: 5.0 % a, None, ((2, 3),), "pos"),
    "clone": Case(lambda a: a.clone() * 3.0, lambda a: a.clone() * 3.0, ((2, 3),)),
    "abs": Case(lambda a: a.abs(), lambda a: a.abs(), ((3, 4),), "away",
                exact=Exact(([-2.0, 0.0, 3.0],), [2.0, 0.0, 3.0], ([-1, 0, 1],))),
    "sqrt": Case(lambda a: a.sqrt(), lambda a: a.sqrt(), ((2, 3),), "pos",
                 exact=Exact(([4.0, 0.25],), [2.0, 0.5], ([0.25, 1.0],))),
    "exp": Case(lambda a: a.exp(), lambda a: a.exp(), ((2, 3),),
                exact=Exact(([0.0, 1.0],), [1.0, E], ([1.0, E],))),
    "log": Case(lambda a: a.log(), lambda a: a.log(), ((2, 3),), "pos",
                exact=Exact(([1.0, E],), [0.0, 1.0], ([1.0, 1 / E],))),
    # float32 rounding is 6e-8: a wider step keeps it out of the differences (the cast is linear)
    "astype": Case(lambda a: a.astype("float32"), lambda a: a.float(), ((2, 3),),
                   exact=Exact(([1.5, -2.0],), [1.5, -2.0], ([1.0, 1.0],)), check={"eps": 1e-2}),
    "to_another_backend_and_back": Case(lambda a: a.to(other_backend(a)).to(a.backend) * 2.0,
                                        lambda a: a * 2.0, ((2, 3),),
                                        exact=Exact(([1.0, -3.0],), [2.0, -6.0], ([2.0, 2.0],))),
    # -- matmul
    "matmul_2d": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((3, 4), (4, 5)), exact=Exact(
        ([[1.0, 2.0], [3.0, 4.0]], [[5.0], [6.0]]), [[17.0], [39.0]],
        ([[5.0, 6.0], [5.0, 6.0]], [[4.0], [6.0]]))),
    "matmul_batched": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((2, 3, 4), (4, 5))),
    "matmul_batch_broadcast": Case(lambda a, b: a @ b, lambda a, b: a @ b,
                                   ((2, 1, 3, 4), (5, 4, 2))),
    "matmul_vec_mat": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((4,), (4, 5))),
    "matmul_mat_vec": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((2, 3, 4), (4,))),
    "matmul_vec_vec": Case(lambda a, b: a @ b, lambda a, b: a @ b, ((4,), (4,))),
}
