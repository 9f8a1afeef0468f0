"""Frequent questions from what people asked: paraphrases grouped by the similarity of their query
vectors (Japanese and English alike: the embedding model is multilingual), counted by distinct askers.

Grouping is community detection over the similarity graph (as sentence-transformers'
``community_detection``): the question with the most neighbours above the threshold starts a group
of its neighbours not taken yet, and so on down. Similarities are computed in blocks, so 10,000
questions need a few tens of MB, not the whole matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Asked", "Group", "frequent", "merged", "paraphrase_groups"]

Matrix = npt.NDArray[np.float32]

#: Rows of the similarity matrix computed at once (a block is BLOCK x n floats).
BLOCK = 1024


@dataclass(frozen=True)
class Asked:
    """One asked question: its audit record, who asked (an email, never shown), its text."""

    audit_id: str
    asker: str
    text: str


@dataclass(frozen=True)
class Group:
    """Paraphrases of one question: indexes into the asked list, most central first."""

    members: tuple[int, ...]
    askers: int
    centroid: Matrix


def _normalised(vectors: Matrix) -> Matrix:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: Matrix = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


def paraphrase_groups(vectors: Matrix, threshold: float, min_size: int = 2) -> list[list[int]]:
    """Groups of rows whose vectors are at least ``threshold`` similar (cosine) to the group's first
    row, each row in one group at most; groups smaller than ``min_size`` are left out.

    Returns:
        Groups, largest first; each group's rows ordered by similarity to its first (central) row.
    """
    n = len(vectors)
    if n == 0:
        return []
    unit = _normalised(np.asarray(vectors, dtype=np.float32))
    neighbours: list[npt.NDArray[np.int64]] = []
    similarity: list[npt.NDArray[np.float32]] = []
    for start in range(0, n, BLOCK):
        block = unit[start : start + BLOCK] @ unit.T
        for row in block:
            near = np.flatnonzero(row >= threshold)
            order = np.argsort(-row[near], kind="stable")
            neighbours.append(near[order])
            similarity.append(row[near][order])
    taken = np.zeros(n, dtype=bool)
    groups: list[list[int]] = []
    for centre in sorted(range(n), key=lambda i: (-len(neighbours[i]), i)):
        if taken[centre] or len(neighbours[centre]) < min_size:
            continue
        free = [int(j) for j in neighbours[centre] if not taken[j]]
        if centre not in free or len(free) < min_size:
            continue
        free.remove(centre)
        members = [centre, *free]
        taken[members] = True
        groups.append(members)
    groups.sort(key=lambda g: (-len(g), g[0]))
    return groups


def merged(unit: Matrix, groups: Sequence[list[int]], threshold: float) -> list[list[int]]:
    """Groups whose centroids are at least ``threshold`` similar, joined (union-find). Grouping at a
    high threshold keeps near-misses ("VPNが遅い" beside "VPNに接続できません") out of a group but splits
    a question into several; joining by centroids brings its pieces back (bench/faq.py: at 0.95,
    member recall 0.41 -> 0.66 for purity 0.95 -> 0.92)."""
    if len(groups) < 2:
        return [list(g) for g in groups]
    centroids = _normalised(np.stack([unit[g].mean(axis=0) for g in groups]))
    parent = list(range(len(groups)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for start in range(0, len(groups), BLOCK):
        block = centroids[start : start + BLOCK] @ centroids.T
        for offset, row in enumerate(block):
            i = start + offset
            for j in np.flatnonzero(row[i + 1 :] >= threshold) + i + 1:
                parent[root(int(j))] = root(i)
    joined: dict[int, list[int]] = {}
    for i, group in enumerate(groups):  # largest first: the biggest piece's centre stays first
        joined.setdefault(root(i), []).extend(group)
    return sorted(joined.values(), key=lambda g: (-len(g), g[0]))


def frequent(asked: Sequence[Asked], vectors: Matrix, threshold: float, min_askers: int) -> list[Group]:
    """The groups of paraphrases that at least ``min_askers`` distinct people asked, most asked first.

    A group of one person's repeated question never counts, however often they asked it.
    """
    if len(asked) != len(vectors):
        raise ValueError("one vector per asked question")
    unit = _normalised(np.asarray(vectors, dtype=np.float32)) if len(asked) else np.zeros((0, 1), np.float32)
    out: list[Group] = []
    for members in merged(unit, paraphrase_groups(unit, threshold, min_size=2), threshold):
        askers = len({asked[i].asker.lower() for i in members})
        if askers < min_askers:
            continue
        centroid = _normalised(unit[members].mean(axis=0, keepdims=True))[0]
        out.append(Group(tuple(members), askers, centroid))
    out.sort(key=lambda g: (-g.askers, -len(g.members)))
    return out
