"""The synthetic cohort's RNA-seq: raw counts that follow the latent risk in planted pathways.

:func:`simulate_rnaseq` draws raw counts for a subset of patients; in planted pathways of
a gene-set library (a built-in demo library, :func:`demo_gene_sets`, or real GMT files,
:func:`real_gene_sets`) they follow the patients' latent risk.

Everything derives from the cohort's seed: the same configuration gives byte-identical files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from survsig.cohort.patients import SyntheticSettings
from survsig.core import columns as col
from survsig.core.errors import InputError

#: Planted pathways of the demo gene-set library: name -> direction in high-risk tumours.
DEMO_PLANTED = {
    "ECM_RECEPTOR_INTERACTION": 1,
    "FOCAL_ADHESION": 1,
    "POSITIVE_REGULATION_OF_CELL_MIGRATION": 1,
    "OXIDATIVE_PHOSPHORYLATION": -1,
}
DEMO_N_PATHWAYS = 80
PLANTED_LOG2_EFFECT = 1.0  # log2 fold change per SD of latent risk, planted gene average
PLANTED_RESPONDING = 0.8  # share of a planted pathway's genes that follow the risk


# --------------------------------------------------------------------------- RNA-seq
def demo_gene_sets(rng, genes) -> dict[str, list[str]]:
    """A demo library: the planted pathways among decoys of similar sizes."""
    names = list(DEMO_PLANTED) + [f"DEMO_PATHWAY_{i + 1:03d}" for i in range(DEMO_N_PATHWAYS - len(DEMO_PLANTED))]
    sizes = rng.integers(15, 61, size=len(names))
    return {
        name: sorted(rng.choice(genes, size=min(int(size), len(genes)), replace=False).tolist())
        for name, size in zip(names, sizes)
    }


def real_gene_sets(paths, rng, n_genes):
    """Gene universe, library and planted pathways drawn from real GMT files.

    Four pathways of 25-150 genes are picked by seed (three up, one down in high risk);
    the universe holds their genes plus random others up to ``n_genes``.
    """
    from survsig.core.genesets import read_gmt

    library: dict[str, list[str]] = {}
    for path in paths:
        library.update(read_gmt(path))
    candidates = sorted(name for name, genes in library.items() if 25 <= len(genes) <= 150)
    if len(candidates) < 4:
        raise InputError(
            "needs at least 4 gene sets of 25-150 genes to plant the RNA-seq signal",
            file=", ".join(str(p) for p in paths),
        )
    picked = rng.choice(candidates, size=4, replace=False).tolist()
    planted = dict(zip(picked, (1, 1, 1, -1)))
    planted_genes = sorted({g for name in picked for g in library[name]})
    others = sorted({g for genes in library.values() for g in genes} - set(planted_genes))
    n_others = max(0, min(len(others), n_genes - len(planted_genes)))
    genes = sorted(planted_genes + rng.choice(others, size=n_others, replace=False).tolist())
    return genes, library, planted


def simulate_rnaseq(settings: SyntheticSettings, patients: pd.DataFrame):
    """Raw counts (genes x samples), the gene-level truth and the gene-set library.

    Samples are drawn half from the upper and half from the lower half of latent risk,
    so both risk groups hold samples. Counts are negative binomial; in planted
    pathways the mean follows the standardised latent risk with about
    :data:`PLANTED_LOG2_EFFECT` log2 units per SD (sign = the pathway's direction).
    """
    rng = np.random.default_rng([settings.seed, 2])
    if settings.genesets:
        genes, library, planted = real_gene_sets(settings.genesets, rng, settings.n_genes)
    else:
        genes = [f"GENE{i + 1:05d}" for i in range(settings.n_genes)]
        library = demo_gene_sets(rng, genes)
        planted = dict(DEMO_PLANTED)

    risk = patients["lp_clinical"] + patients["lp_image"]
    order = np.argsort(risk.to_numpy(), kind="stable")
    half = len(order) // 2
    n_samples = min(settings.rnaseq_samples, len(order))
    n_high = (n_samples + 1) // 2
    high = rng.choice(order[half:], size=n_high, replace=False)
    low = rng.choice(order[:half], size=n_samples - n_high, replace=False)
    chosen = np.sort(np.concatenate([high, low])).astype(int)
    samples = patients[col.PATIENT_ID].to_numpy()[chosen]
    risk_z = ((risk - risk.mean()) / risk.std()).to_numpy()[chosen]

    n_genes = len(genes)
    gene_index = {g: i for i, g in enumerate(genes)}
    effect = np.zeros(n_genes)
    pathway_of = np.full(n_genes, "", dtype=object)
    for name, direction in planted.items():
        members = [gene_index[g] for g in library[name] if g in gene_index]
        responding = rng.random(len(members)) < PLANTED_RESPONDING
        for i, responds in zip(members, responding):
            if responds and effect[i] == 0:
                effect[i] = direction * PLANTED_LOG2_EFFECT * rng.uniform(0.6, 1.4)
                pathway_of[i] = name
    base_mean = np.exp(rng.normal(np.log(150.0), 1.4, size=n_genes))
    dispersion = 0.06 * np.exp(rng.normal(0.0, 0.5, size=n_genes))
    size_factor = np.exp(rng.normal(0.0, 0.2, size=len(samples)))
    mean = base_mean[:, None] * size_factor[None, :] * np.exp2(effect[:, None] * risk_z[None, :])
    shape = 1.0 / dispersion[:, None]
    counts = rng.negative_binomial(shape, shape / (shape + mean))

    count_table = pd.DataFrame(counts, columns=samples)
    count_table.insert(0, "gene", genes)
    truth = pd.DataFrame(
        {
            "gene": genes,
            "planted_pathway": pathway_of,
            "direction": np.sign(effect).astype(int),
            "log2_effect_per_sd": effect,
            "base_mean": base_mean,
            "dispersion": dispersion,
        }
    )
    if not settings.genesets:
        library = {name: genes_ for name, genes_ in library.items()}
    return count_table, truth, library, planted
