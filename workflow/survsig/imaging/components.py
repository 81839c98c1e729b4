"""Principal components learnt on the training patients alone.

The fusion signature reduces a network's embedding to its first components
(:func:`survsig.imaging.fusion.embedding_components`) and radiomics-guided training can
take the radiomic features' first components as its targets
(:func:`survsig.imaging.auxiliary.auxiliary_targets`); both use :func:`train_components`,
so an axis means the same thing, and points the same way, in either.
"""

from __future__ import annotations

import numpy as np

#: A component whose singular value is below this share of the first one has no variance
#: of its own (columns that repeat one another) and is not returned.
RANK_TOLERANCE = 1e-8


def train_components(values, train, components: int) -> np.ndarray:
    """The first principal components of ``values``, the centring and axes fit on the
    rows ``train``.

    Parameters
    ----------
    values : array-like, shape (rows, columns)
    train : array of bool, shape (rows,)
        The rows the components are fit on; every row is projected.
    components : int
        The most components returned: fewer when the training rows, the columns or the
        directions of variance among the training rows are fewer.

    Returns
    -------
    numpy.ndarray, shape (rows, k)
        Each row's projection on the axes, largest variance first. The sign of an axis is
        arbitrary; it is fixed so that its largest loading is positive.
    """
    from sklearn.decomposition import PCA

    values = np.asarray(values, float)
    train = np.asarray(train, bool)
    k = min(int(components), int(train.sum()) - 1, values.shape[1])
    # svd_solver "full": exact, so the components do not depend on a random draw
    pca = PCA(n_components=k, svd_solver="full").fit(values[train])
    k = int(np.sum(pca.singular_values_ > pca.singular_values_[0] * RANK_TOLERANCE))
    axes = pca.components_[:k]
    signs = np.sign(axes[np.arange(k), np.abs(axes).argmax(axis=1)])
    return pca.transform(values)[:, :k] * signs
