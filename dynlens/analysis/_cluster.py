"""Deduplication and manifold grouping of fixed points (neighbour search, no O(n^2) loops)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist, squareform

__all__ = ["components", "deduplicate", "group_manifolds", "link_runs"]

_MST_MAX = 3000  # points up to which a dense Euclidean minimum spanning tree is affordable


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes joined by ``pairs`` [m, 2]."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def link_runs(runs: Sequence[np.ndarray], tol: float) -> np.ndarray:
    """Component label of each run (``[n_samples, dim]`` arrays, lengths may differ): runs
    whose samples come within ``tol`` of each other are joined, others never.

    One KD-tree per run; a pair of runs is tested (a nearest-neighbour query bounded by
    ``tol``) only while the two are still in different components, so runs on one attractor
    cost about one query each. (Pairing every sample within ``tol`` instead materialised
    hundreds of millions of pairs for the 25-d GRU's runs on its attractor: 100 s.)
    """
    n_runs = len(runs)
    trees = [cKDTree(run) for run in runs]
    parent = np.arange(n_runs)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n_runs):
        for j in range(i + 1, n_runs):
            a, b = root(i), root(j)
            if a != b and np.isfinite(trees[i].query(runs[j], distance_upper_bound=tol)[0]).any():
                parent[max(a, b)] = min(a, b)
    return np.unique([root(i) for i in range(n_runs)], return_inverse=True)[1].reshape(-1)


def deduplicate(x: np.ndarray, q: np.ndarray, tol: float) -> np.ndarray:
    """Indices of one point per group of points chained within ``tol``: the one of smallest q.

    The rule ``find_fixed_points`` deduplicates its converged candidates with (public as
    ``dynlens.analysis.deduplicate`` for scripts that compare other finders).

    Parameters
    ----------
    x : ndarray [n, dim]
        The points.
    q : ndarray [n]
        Each point's score; the smallest of a group is kept (the fixed-point finder's
        speed ``q``).
    tol : float
        Points within this Euclidean distance are chained into one group.

    Returns
    -------
    ndarray of int
        The kept points' indices, sorted.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [0.0005, 0.0], [1.0, 1.0]])
    >>> deduplicate(x, np.array([2.0, 1.0, 3.0]), tol=1e-3).tolist()
    [1, 2]
    """
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    labels = components(len(x), cKDTree(x).query_pairs(tol, output_type="ndarray"))
    order = np.lexsort((q, labels))  # by label, then q
    first = np.ones(len(order), dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    return np.sort(order[first])


def group_manifolds(x: np.ndarray, candidate: np.ndarray,
                    q_fn: Callable[[np.ndarray], np.ndarray], tol_q: float,
                    k: int = 8) -> np.ndarray:
    """Label fixed points that lie on one continuum (line, sheet) of fixed points.

    Two points are joined when both are ``candidate`` (they have a marginal direction, as
    every point of a continuum has), one is among the other's ``k`` nearest candidates or
    they share an edge of the candidates' Euclidean minimum spanning tree, and
    the points at 1/4, 1/2 and 3/4 of the segment between them all have ``q <= tol_q``
    (the segment is itself fixed or slow). Labels are the connected components of these
    links, numbered 0, 1, ... in order of first appearance; isolated points get their own.
    """
    n = len(x)
    labels = np.arange(n)
    sub = np.flatnonzero(candidate)
    if len(sub) >= 2:
        kk = min(k + 1, len(sub))
        _, nb = cKDTree(x[sub]).query(x[sub], kk)
        rows = np.repeat(np.arange(len(sub)), kk - 1)
        cols = nb[:, 1:].reshape(-1)
        if len(sub) <= _MST_MAX:  # the spanning tree bridges gaps that k neighbours miss
            tree = minimum_spanning_tree(squareform(pdist(x[sub]))).tocoo()
            rows, cols = np.r_[rows, tree.row], np.r_[cols, tree.col]
        pairs = np.unique(np.sort(np.stack([rows, cols], 1), axis=1), axis=0)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        a, b = x[sub][pairs[:, 0]], x[sub][pairs[:, 1]]
        t = np.array([0.25, 0.5, 0.75])
        mids = a[:, None, :] + t[None, :, None] * (b - a)[:, None, :]
        qm = q_fn(mids.reshape(-1, x.shape[1])).reshape(len(pairs), len(t)).max(1)
        joined = pairs[qm <= tol_q]
        sub_labels = components(len(sub), joined)
        labels = np.full(n, -1)
        labels[sub] = sub_labels
        rest = np.flatnonzero(labels < 0)
        labels[rest] = sub_labels.max(initial=-1) + 1 + np.arange(len(rest))
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse.reshape(-1)]
