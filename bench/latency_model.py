"""A latency model for AWS: a page's p50 and p95 from its rounds, queries and read units (issue 25, item 5).

DynamoDB publishes "single-digit millisecond" latency at any scale; nothing finer. The model takes that
literally and states every other assumption, so a reader can change one and see what moves:

- one request's service time is log-normal with a median of ``MEDIAN_MS`` and a 95th percentile of
  ``P95_MS`` (the top of "single digit"), plus ``MS_PER_READ_UNIT`` for each read unit it returns
  (a 1 MB page, 128 units, adds ~13 ms: the data has to cross the wire);
- a page's rounds are dependent (each waits for the one before); the queries of one round run at once,
  so a round takes as long as its slowest query (many parallel queries make a round's tail longer);
- the page's queries and read units are spread evenly over its rounds (``Page`` keeps totals only);
- only DynamoDB's part of the critical path: API Gateway and a warm Lambda add a fixed cost outside it.

Each page is simulated ``SAMPLES`` times with a fixed seed; a combination's p50/p95 are over all its pages'
samples. The bench's rounds and read units are measured; the latencies are this model's, never measured.

>>> p50, p95 = estimate([(1, 1, 1.0)])
>>> 3.5 < p50 < 4.5 and 8 < p95 < 10.5
True
>>> estimate([(10, 40, 20.0)])[1] > estimate([(2, 40, 20.0)])[1]
True
"""

from __future__ import annotations

import math
import random
import statistics
from typing import Iterable

MEDIAN_MS = 4.0
P95_MS = 9.0
MS_PER_READ_UNIT = 0.1
SAMPLES = 400
_SIGMA = math.log(P95_MS / MEDIAN_MS) / 1.6449  # the 95th percentile of a standard normal


def estimate(pages: Iterable[tuple[int, int, float]], seed: int = 20261205) -> tuple[float, float]:
    """(p50, p95) in ms over ``pages``, each (rounds, queries, read units)."""
    rng = random.Random(seed)
    samples: list[float] = []
    for rounds, queries, units in pages:
        rounds = max(rounds, 1)
        per_round = max(1, math.ceil(queries / rounds))
        transfer = units / rounds / per_round * MS_PER_READ_UNIT
        for _ in range(SAMPLES):
            samples.append(sum(
                max(MEDIAN_MS * math.exp(rng.gauss(0.0, _SIGMA)) + transfer for _ in range(per_round))
                for _ in range(rounds)))
    if not samples:
        return 0.0, 0.0
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.95 * len(samples)))]
