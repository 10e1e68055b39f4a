"""The limits that keep `specc check` fast and small whatever the file holds (docs/spec.md,
"Limits").  Each is enforced where the input is first seen, before the work it bounds, and
reported as a located error that names the limit.
"""

from __future__ import annotations

MAX_BYTES = 2_000_000  # the file, checked by its size before it is read
MAX_NODES = 200_000  # values after aliases are expanded: a billion-laughs file stops here, fast
MAX_DEPTH = 64  # levels of nested lists and mappings, counted as the parser reads them
# Integers are what a signed 64-bit integer holds, the type PyTorch and ONNX take every size,
# stride and seed as: a stride of 2**64 - 1 passed check and then failed inside torch.  Beyond
# that, Python's int() of a 4,300-digit string raises instead of answering.
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
# Expanded size: a check of 10,000 layers takes about half a second; 60,000 took 3.5 s and
# 320 MB, and blocks that each use the next twice, 40 deep, describe 2**41 layers.
MAX_LAYERS = 10_000  # every layer, block instance and repeat group after expansion
MAX_BLOCK_DEPTH = 32  # blocks inside blocks
# ${} evaluations after expansion (each 10-40 microseconds): 100,000 distinct expressions
# in a 2 MB file took 3.6 s; a 10,000-layer spec with three expressions per layer fits.
MAX_EVALUATIONS = 30_000
# Values after blocks are expanded: MAX_NODES bounds the file, but a block whose layer holds a
# 100,000-item list, used 1,000 times, made 10**8 values (check ran for minutes).
MAX_EXPANDED_VALUES = 2 * MAX_NODES
# Errors listed from expanding vars, ${} and blocks; past it they are counted.  A generated
# file of 30,000 forward references printed 6 MB of errors and took 6 s to answer.
MAX_REPORTED = 100
