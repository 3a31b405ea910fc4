"""Primitive differentiable operations: each a ``Function`` with forward and backward side by side.

What goes here: the higher-order primitives, whose ``backward`` is written only with operators
and the ``dual`` helpers, so it runs on raw arrays (first-order, fast) and on Tensors (recorded
when the engine runs with ``create_graph=True``, for second derivatives).  Every class gives its
formula and derivative in its docstring.  Fused first-order layers (conv, pooling, normalisation,
attention, losses), whose backward works on raw arrays only, live in ``nn/functional``
(see ARCHITECTURE.md).

    elementwise  Add Sub Mul Div DivRounded Remainder Pow Neg Abs Exp Log Sqrt Sin Cos Tanh
                 Sigmoid ReLU Clamp ClampTensor ClampMinValue Maximum Minimum Where Cast
                 ToDevice Copy
    reduction    Sum Mean Prod Extremum ExtremumDim VectorNorm
    shape        Reshape Permute Expand GetItem IndexAdd IndexPut Cat ConstantPad
    linalg       MatMul
    linear       LinearFn (y = x W^T + b)
    softmax      Softmax LogSoftmax
    special      Erf Erfc Erfinv (and the erf/erfc series and erfinv/erfcinv on arrays)
    math         Tan Asin Acos Atan Atan2 Sinc Sinh Cosh Asinh Acosh Atanh Logit Exp2
                 LogAddExp Xlogy Hypot CopySign FExtremum NanToNum
    gamma        LogGammaDerivative (lgamma, digamma, polygamma on arrays)
    decompositions  Inverse Solve Det Slogdet Cholesky QR Eigh SVD MatrixExp
    fold         UnfoldFn FoldFn (im2col / col2im, each the other's gradient)
    separable    SeparableLinearFn (y = A x B^T on the last two axes: every resize)
    activation   LeakyReLUFn GELUFn SiLUFn
    loss         BCEFn (binary cross-entropy on probabilities)
    unary        Log1p Expm1 Step (floor, ceil, trunc, round, sign: zero gradient)
    scan         Cumsum
    einsum       Einsum (and the equation parser)
    dual         the array-or-Tensor helpers the backward formulas are written with
"""
