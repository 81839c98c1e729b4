"""The synthetic cohort: reproducible, shaped like Table 1, with the planted truth."""

import hashlib

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from lifelines.utils import concordance_index

from survsig import columns as col
from survsig.genesets import read_gmt
from survsig.simulate import (
    DEMO_PLANTED,
    TABLE1_PROPORTIONS,
    SyntheticSettings,
    cohort_summary,
    simulate_cohort,
    simulate_patients,
)

OUTPUTS = {
    "clinical": "clinical.tsv",
    "images": "images.tsv",
    "image_dir": "images",
    "rnaseq": "rnaseq_counts.tsv",
    "rnaseq_truth": "rnaseq_truth.tsv",
    "genesets": "genesets.gmt",
    "ground_truth": "ground_truth.tsv",
}


def small_settings(**changes):
    base = dict(
        seed=11,
        n_patients=16,
        rnaseq_samples=6,
        n_genes=300,
        ct_size=(48, 48, 16),
        ct_spacing=(3.0, 3.0, 5.0),
        pet_size=(24, 24, 12),
        pet_spacing=(6.0, 6.0, 6.0),
    )
    base.update(changes)
    return SyntheticSettings(**base)


def run(settings, folder, threads=1):
    out = {key: folder / name for key, name in OUTPUTS.items()}
    patients = simulate_cohort(settings, out, threads=threads)
    return out, patients


def digest_tree(folder):
    digest = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cohort")
    out, patients = run(small_settings(), folder, threads=2)
    return folder, out, patients


def test_same_seed_gives_byte_identical_files(small_cohort, tmp_path):
    folder, _, _ = small_cohort
    run(small_settings(), tmp_path, threads=1)  # other worker count, same bytes
    assert digest_tree(folder) == digest_tree(tmp_path)


def test_other_seed_differs(small_cohort, tmp_path):
    folder, _, _ = small_cohort
    run(small_settings(seed=12), tmp_path)
    first, second = digest_tree(folder), digest_tree(tmp_path)
    assert first.keys() == second.keys()
    assert first["clinical.tsv"] != second["clinical.tsv"]
    assert first["images/SYN0001_ct.nii.gz"] != second["images/SYN0001_ct.nii.gz"]


def test_clinical_sheet_has_the_contract_columns_and_levels(small_cohort):
    _, out, _ = small_cohort
    clinical = pd.read_csv(out["clinical"], sep="\t")
    assert list(clinical.columns) == [*col.CLINICAL_REQUIRED, *col.SUV_COLUMNS]
    for name, levels in col.CATEGORY_LEVELS.items():
        assert set(clinical[name]) <= set(levels)
    assert (clinical[col.OS_MONTHS] > 0).all()
    assert set(clinical[col.OS_EVENT]) <= {0, 1}
    # SUV: max >= peak >= mean > 0 for every tumour; node SUVs are 0 exactly without a node
    assert (clinical.tumor_suv_max >= clinical.tumor_suv_peak).all()
    assert (clinical.tumor_suv_peak >= clinical.tumor_suv_mean).all()
    assert (clinical.tumor_suv_mean > 0).all()
    no_node = clinical.N_stage == "N0"
    assert (clinical.loc[no_node, col.SUV_COLUMNS[3:]] == 0).all().all()
    assert (clinical.loc[~no_node, "node_suv_max"] > 0).all()


def test_images_are_on_their_own_grids_with_the_roi_on_the_ct_grid(small_cohort):
    folder, out, patients = small_cohort
    images = pd.read_csv(out["images"], sep="\t")
    truth = pd.read_csv(out["ground_truth"], sep="\t").set_index(col.PATIENT_ID)
    for row in images.itertuples():
        ct = sitk.ReadImage(str(folder / row.ct))
        pet = sitk.ReadImage(str(folder / row.pet))
        roi = sitk.ReadImage(str(folder / row.roi))
        assert ct.GetSize() == (48, 48, 16) and ct.GetSpacing() == (3.0, 3.0, 5.0)
        assert pet.GetSize() == (24, 24, 12) and pet.GetSpacing() == (6.0, 6.0, 6.0)
        assert ct.GetOrigin() != pet.GetOrigin()
        assert roi.GetSize() == ct.GetSize() and roi.GetOrigin() == ct.GetOrigin()
        mask = sitk.GetArrayFromImage(roi)
        volume_ml = mask.sum() * np.prod(ct.GetSpacing()) / 1000.0
        assert volume_ml == pytest.approx(truth.loc[row.patient_id, "tumor_volume_ml"], rel=1e-4)
        hu = sitk.GetArrayFromImage(ct)
        # tumour is soft tissue (enhancing or necrotic), outside the body is air
        assert -100 < np.median(hu[mask > 0]) < 150
        assert np.median(hu[0, :3, :3]) < -900
        # the tumour is hotter on PET than the body around it
        pet_on_ct = sitk.Resample(pet, ct, sitk.Transform(), sitk.sitkLinear, 0.0)
        suv = sitk.GetArrayFromImage(pet_on_ct)
        assert suv[mask > 0].mean() > 2.0 * np.median(suv[hu > -200])


def test_cohort_is_shaped_like_table1():
    patients = simulate_patients(SyntheticSettings(seed=3, n_patients=20000))
    for name, counts in TABLE1_PROPORTIONS.items():
        total = sum(counts.values())
        for level, count in counts.items():
            if name == "treatment":
                tolerance = 0.03  # treatment depends on stage, so its mix only approximates Table 1
            else:
                tolerance = 0.01
            assert (patients[name] == level).mean() == pytest.approx(count / total, abs=tolerance)
    assert patients[col.OS_EVENT].mean() == pytest.approx(0.42, abs=0.03)
    assert patients["age"].median() == pytest.approx(48, abs=1)


def test_oracle_c_indices_sit_near_the_papers_figures():
    patients = simulate_patients(SyntheticSettings(seed=5, n_patients=20000))
    time, event = patients[col.OS_MONTHS], patients[col.OS_EVENT]

    def c_index(column):
        return concordance_index(time, -patients[column], event)

    assert c_index("lp_clinical") == pytest.approx(0.67, abs=0.02)
    assert 0.75 <= c_index("lp_full") <= 0.80
    # each modality holds part of the image signal, both together the most; PET > CT
    assert c_index("lp_image_ct") < c_index("lp_image_pet") < c_index("lp_image")
    assert c_index("lp_image") < c_index("lp_full")


def test_local_treatment_helps_low_risk_patients_only():
    from lifelines import CoxPHFitter

    patients = simulate_patients(SyntheticSettings(seed=9, n_patients=20000))
    risk = patients["lp_clinical"] + patients["lp_image"]
    patients["local"] = patients["treatment"].isin(["surgery", "reirradiation"]).astype(int)
    hazard_ratio = {}
    for name, group in {"low": risk <= risk.median(), "high": risk > risk.median()}.items():
        subset = patients.loc[group, [col.OS_MONTHS, col.OS_EVENT, "local"]].copy()
        subset["risk"] = risk[group]
        fit = CoxPHFitter().fit(subset, col.OS_MONTHS, col.OS_EVENT)
        hazard_ratio[name] = fit.hazard_ratios_["local"]
    assert hazard_ratio["low"] < 0.75
    assert hazard_ratio["high"] > 0.85


def test_summary_reports_deaths_follow_up_and_oracles(small_cohort):
    _, out, _ = small_cohort
    clinical = pd.read_csv(out["clinical"], sep="\t")
    summary = cohort_summary(clinical, pd.read_csv(out["ground_truth"], sep="\t"))
    values = summary.set_index("quantity")["value"]
    assert values["patients"] == 16
    assert values["deaths (%)"] == pytest.approx(100 * clinical[col.OS_EVENT].mean())
    assert {"oracle C-index clinical", "oracle C-index image", "oracle C-index full"} <= set(values.index)
    assert values["oracle C-index full"] == pytest.approx(
        concordance_index(
            clinical[col.OS_MONTHS],
            -pd.read_csv(out["ground_truth"], sep="\t")["lp_full"],
            clinical[col.OS_EVENT],
        )
    )


def test_rnaseq_counts_follow_latent_risk_in_planted_pathways(tmp_path):
    settings = small_settings(n_patients=60, rnaseq_samples=24, n_genes=3000)
    patients = simulate_patients(settings)
    from survsig.simulate import simulate_rnaseq

    counts, truth, library, planted = simulate_rnaseq(settings, patients)
    assert planted == DEMO_PLANTED
    samples = counts.columns[1:]
    assert len(samples) == 24
    risk = (patients["lp_clinical"] + patients["lp_image"]).set_axis(patients[col.PATIENT_ID])
    # both halves of latent risk hold samples
    above = (risk[samples] > risk.median()).sum()
    assert above == 12
    values = counts.set_index("gene")[samples]
    assert (values.to_numpy() >= 0).all() and values.to_numpy().dtype.kind == "i"
    # median-of-ratios normalisation (as DESeq2) removes the samples' library sizes
    positive = values[(values > 0).all(axis=1)]
    log_geo_mean = np.log(positive).mean(axis=1)
    size_factor = np.exp(np.log(positive).sub(log_geo_mean, axis=0).median())
    log_expr = np.log2(values / size_factor + 1)
    corr = log_expr.T.corrwith(risk[samples], method="spearman")
    truth = truth.set_index("gene")
    up = truth.index[truth.direction > 0]
    down = truth.index[truth.direction < 0]
    null = truth.index[truth.direction == 0]
    assert corr[up].mean() > 0.4
    assert corr[down].mean() < -0.4
    assert abs(corr[null].mean()) < 0.05
    # the library written for enrichment holds the planted pathways with their genes
    assert set(DEMO_PLANTED) <= set(library)
    assert set(truth.loc[truth.planted_pathway == "FOCAL_ADHESION"].index) <= set(library["FOCAL_ADHESION"])


def test_rnaseq_signal_planted_in_real_gene_sets(shared_dir, tmp_path):
    gmt = shared_dir / "data" / "genesets" / "c2.cp.kegg.v7.5.1.symbols.gmt"
    settings = small_settings(n_patients=40, rnaseq_samples=10, n_genes=2000, genesets=[str(gmt)])
    out, _ = run(settings, tmp_path)
    truth = pd.read_csv(out["rnaseq_truth"], sep="\t")
    kegg = read_gmt(gmt)
    planted = truth.loc[truth.direction != 0, "planted_pathway"].unique()
    assert len(planted) == 4 and set(planted) <= set(kegg)
    assert set(truth.gene) <= {g for genes in kegg.values() for g in genes}
    assert len(truth) == 2000
