"""K-Medoids reduction of a year of days to K representative days with weights.

Each day is a feature vector: its normalised feeder load curve, PV curve, EV energy and price curve
(blocks of steps; constant blocks carry no information and are dropped). Days are clustered with
FasterPAM (`kmedoids`, default) or scikit-learn-extra's KMedoids (optional, only when it imports).
Weights are cluster shares. Quality: mean and max distance of days to their medoid, relative to the
spread of the year (mean distance of the days to the year's single medoid).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist

from ..errors import InputError


@dataclass(frozen=True)
class Reduction:
    medoids: np.ndarray       # (K,) index of each representative day in the year
    weights: np.ndarray       # (K,) cluster share, sums to 1
    labels: np.ndarray        # (N,) cluster of every day
    mean_distance: float      # to the own medoid, relative to the year's spread
    max_distance: float

    @property
    def cluster_sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.medoids))


def normalise(block: np.ndarray, how: str) -> np.ndarray:
    """Scale one feature block (days × values) over the whole year: z-score or min–max."""
    if how == "zscore":
        spread = block.std()
        return (block - block.mean()) / spread if spread > 0 else np.zeros_like(block)
    lo, hi = block.min(), block.max()
    return (block - lo) / (hi - lo) if hi > lo else np.zeros_like(block)


def features(blocks: list[np.ndarray], how: str = "zscore") -> np.ndarray:
    """Concatenate normalised blocks (each days × values), dropping blocks that never vary."""
    kept = [normalise(np.asarray(b, dtype=float).reshape(len(b), -1), how) for b in blocks
            if np.ptp(np.asarray(b, dtype=float)) > 0]
    if not kept:
        return np.zeros((len(blocks[0]), 1))
    return np.hstack(kept)


def reduce_days(x: np.ndarray, k: int, metric: str = "euclidean", seed: int = 0,
                backend: str = "kmedoids", field: str = "scenarios.k") -> Reduction:
    """Cluster the rows of `x` (days × features) into k groups around medoid days; `field` names where k
    came from in an error."""
    n = len(x)
    if not 1 <= k <= n:
        raise InputError(field, f"K = {k} must be between 1 and the number of days ({n})")
    dist = cdist(x, x, metric=metric)
    if k == n:
        medoids, labels = np.arange(n), np.arange(n)
    elif backend == "kmedoids":
        import kmedoids

        result = kmedoids.fasterpam(dist, k, random_state=seed, n_cpu=1)
        medoids, labels = np.asarray(result.medoids), np.asarray(result.labels)
    elif backend == "sklearn_extra":
        try:
            from sklearn_extra.cluster import KMedoids
        except Exception as exc:    # 0.3.0 fails to import with NumPy 2 (binary incompatibility)
            raise InputError("scenarios.backend", f"scikit-learn-extra does not import here ({exc}); it is built "
                                                  "against NumPy 1 — use backend = 'kmedoids'") from None
        model = KMedoids(k, metric="precomputed", method="pam", random_state=seed).fit(dist)
        medoids, labels = np.asarray(model.medoid_indices_), np.asarray(model.labels_)
    else:
        raise InputError("scenarios.backend", f"unknown backend '{backend}'; use 'kmedoids' or 'sklearn_extra'")
    # Order clusters by their medoid's position in the year so outputs read chronologically.
    order = np.argsort(medoids)
    medoids = medoids[order]
    labels = np.argsort(order)[labels]
    to_medoid = dist[np.arange(n), medoids[labels]]
    spread = dist[:, np.argmin(dist.sum(0))].mean()
    scale = spread if spread > 0 else 1.0
    return Reduction(medoids=medoids, weights=np.bincount(labels, minlength=k) / n, labels=labels,
                     mean_distance=float(to_medoid.mean() / scale), max_distance=float(to_medoid.max() / scale))
