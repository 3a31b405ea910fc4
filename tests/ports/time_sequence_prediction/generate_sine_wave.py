# Ported from https://github.com/pytorch/examples,
# time_sequence_prediction/generate_sine_wave.py at commit
# 77f55b912142e11fcfdf5b530231fb9c52f181e8 (BSD-3-Clause; see
# LICENSE there: Copyright (c) 2017, Pytorch contributors).
# Changed: the imports (tinygrad_cv in place of torch) and the data size (N = 13 waves of
# L = 100 points instead of 100 of 1000).  Everything else is unchanged.
import numpy as np
import tinygrad_cv as torch

np.random.seed(2)

T = 20
L = 100
N = 13

x = np.empty((N, L), 'int64')
x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
data = np.sin(x / 1.0 / T).astype('float64')
torch.save(data, open('traindata.pt', 'wb'))
