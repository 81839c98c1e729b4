"""The synthetic cohort: reproducible, shaped like Table 1, with the planted truth."""

import hashlib

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from lifelines.utils import concordance_index

from survsig.cohort.patients import TABLE1_PROPORTIONS, SyntheticSettings, simulate_patients
from survsig.cohort.simulate import simulate_cohort
from survsig.cohort.simulate_rnaseq import DEMO_PLANTED
from survsig.cohort.summary import cohort_summary
from survsig.core import columns as col
from survsig.core.genesets import read_gmt

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
    from survsig.cohort.simulate_rnaseq import simulate_rnaseq

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


# --------------------------------------------------------------------------- volumes
def test_default_volume_options_keep_the_volumes_of_before(small_cohort):
    from survsig.cohort.phantoms import tumour_shape

    traits = {"tumor_volume": 0.83, "shape_irregularity": -0.2, "necrotic_core": 0.4}
    default = tumour_shape(np.random.default_rng(5), traits)
    explicit = tumour_shape(np.random.default_rng(5), traits, 12.0, 0.7)
    assert default == explicit
    # the volume formula of before the options: 12 ml at the latent trait 0, 0.7 per SD
    volume_mm3 = 4.0 / 3.0 * np.pi * np.prod(default.semi_axes)
    assert volume_mm3 == pytest.approx(1000.0 * np.exp(np.log(12.0) + 0.7 * 0.83), rel=1e-12)
    # measured volumes (ml) of the small cohort as simulated before the options existed
    _, out, _ = small_cohort
    truth = pd.read_csv(out["ground_truth"], sep="\t")
    assert truth["tumor_volume_ml"].head(6).tolist() == [5.535, 40.14, 36.135, 20.025, 12.6, 6.975]


#: A grid that holds tumours of up to about 150 ml (checked by lesion_margins in the test).
ROOMY = dict(ct_size=(40, 40, 24), ct_spacing=(4.0, 4.0, 4.0), pet_size=(20, 20, 14), pet_spacing=(8.0, 8.0, 8.0))


def test_volume_options_set_the_median_and_spread_of_the_volumes(tmp_path):
    from survsig.cohort.phantoms import lesion_margins

    n = 40
    base = dict(n_patients=n, rnaseq_samples=4, **ROOMY)
    before = small_settings(**base)
    after = small_settings(**base, tumour_volume_ml=24.0, tumour_volume_spread=1.0)
    for settings in (before, after):
        assert not lesion_margins(settings)["ct_cut"].any()  # no tumour is cut off
    _, first = run(before, tmp_path / "before")
    _, second = run(after, tmp_path / "after")
    # the median sits at the setting: the median of log volume has a standard error of
    # about 1.25 * spread / sqrt(n); 4 of them, and 0.05 for the model's own lean (the
    # latent trait's median is about 0.03, lobulation adds a little volume)
    for settings, patients in ((before, first), (after, second)):
        tolerance = 4 * 1.2533 * settings.tumour_volume_spread / np.sqrt(n) + 0.05
        log_median = np.log(patients["tumor_volume_ml"].median())
        assert abs(log_median - np.log(settings.tumour_volume_ml)) < tolerance
    # same seed, same shapes: each tumour grows by 24/12 at the latent trait 0 and by
    # exp(1.0 - 0.7) per SD of it, up to the voxels' rounding
    log_ratio = np.log(second["tumor_volume_ml"] / first["tumor_volume_ml"])
    slope, intercept = np.polyfit(first["tumor_volume"], log_ratio, 1)
    assert intercept == pytest.approx(np.log(2.0), abs=0.05)
    assert slope == pytest.approx(0.3, abs=0.05)


def test_shipped_geometries_hold_every_lesion():
    import yaml

    from conftest import REPO
    from survsig.cohort.phantoms import lesion_margins

    def block(*names):
        merged = {}
        for name in ("config.yaml", *names):
            merged.update(yaml.safe_load((REPO / "config" / name).read_text()).get("synthetic", {}))
        return SyntheticSettings.from_config(merged)

    for names in ((), ("tiny.yaml",), ("paper.yaml",)):
        margins = lesion_margins(block(*names))
        assert not margins[["ct_cut", "pet_cut"]].any().any(), names
    # the second geometry keeps a margin around every lesion's (loose) bounding box
    margins = lesion_margins(block("geometry2.yaml"))
    assert len(margins) == 420
    assert margins["ct_margin_mm"].min() > 10.0
    assert margins["pet_margin_mm"].min() > 10.0


def test_a_field_of_view_too_small_for_the_lesions_is_reported(tmp_path, caplog):
    from survsig.cohort.phantoms import lesion_margins

    # 60 x 60 x 30 mm around the centre: most tumours (median 12 ml) reach past it
    settings = small_settings(ct_size=(20, 20, 6), pet_size=(10, 10, 5))
    margins = lesion_margins(settings)
    assert margins["ct_cut"].any() and margins["pet_cut"].any()
    assert (margins.loc[margins["ct_cut"], "ct_margin_mm"] < 0).all()  # the loose bound agrees
    with caplog.at_level("WARNING", logger="survsig.cohort.simulate"):
        out, _ = run(settings, tmp_path)
    # ct_cut is exact: it is whether the rendered ROI touches the border of the CT grid
    for row, cut in zip(pd.read_csv(out["images"], sep="\t").itertuples(), margins["ct_cut"]):
        roi = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / row.roi)))
        faces = [roi[0], roi[-1], roi[:, 0], roi[:, -1], roi[:, :, 0], roi[:, :, -1]]
        assert any(face.any() for face in faces) == cut, row.patient_id
    messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("CT field of view" in m and f"{margins['ct_cut'].sum()} patient(s)" in m for m in messages)
    assert any("PET field of view" in m for m in messages)


# --------------------------------------------------------------------------- formats
FORMAT_GRIDS = dict(
    n_patients=16,
    rnaseq_samples=4,
    n_genes=100,
    # spacings that are not round numbers, as DICOM writes them as decimal strings
    ct_size=(32, 32, 12),
    ct_spacing=(4.7, 4.7, 7.3),
    pet_size=(16, 16, 10),
    pet_spacing=(9.1, 9.1, 8.9),
)


@pytest.fixture(scope="module")
def format_cohorts(tmp_path_factory):
    """Format -> (folder, outputs) of one small cohort per image format (same seed)."""
    cohorts = {}
    for fmt in ("nifti", "nrrd", "mha", "dicom", "mixed"):
        folder = tmp_path_factory.mktemp(fmt)
        out, _ = run(small_settings(image_format=fmt, **FORMAT_GRIDS), folder)
        cohorts[fmt] = folder, out
    return cohorts


def kind_of(path):
    """The format of an image path of the sheet, by its suffix (a folder: DICOM)."""
    for fmt, suffix in (("nifti", ".nii.gz"), ("nrrd", ".nrrd"), ("mha", ".mha")):
        if path.endswith(suffix):
            return fmt
    return "dicom"


@pytest.mark.parametrize("fmt", ["nrrd", "mha", "dicom", "mixed"])
def test_every_format_reads_back_as_the_nifti_images(format_cohorts, fmt):
    from survsig.cohort.image_files import pet_rescale_slope
    from survsig.core.images import read_image

    ref_folder, ref_out = format_cohorts["nifti"]
    folder, out = format_cohorts[fmt]
    reference = pd.read_csv(ref_out["images"], sep="\t").set_index(col.PATIENT_ID)
    images = pd.read_csv(out["images"], sep="\t").set_index(col.PATIENT_ID)
    assert list(images.index) == list(reference.index)
    assert pd.read_csv(out["ground_truth"], sep="\t").equals(pd.read_csv(ref_out["ground_truth"], sep="\t"))
    for pid, row in images.iterrows():
        for modality in col.IMAGE_MODALITIES:
            path = folder / row[modality]
            assert path.is_dir() == (kind_of(row[modality]) == "dicom")
            image = read_image(path)
            expected = read_image(ref_folder / reference.at[pid, modality])
            assert image.GetSize() == expected.GetSize()
            # NIfTI keeps the origin in single precision, DICOM to 1e-6 mm
            np.testing.assert_allclose(image.GetSpacing(), expected.GetSpacing(), atol=1e-6)
            np.testing.assert_allclose(image.GetOrigin(), expected.GetOrigin(), atol=1e-4)
            np.testing.assert_allclose(image.GetDirection(), np.eye(3).ravel(), atol=1e-6)  # axis-aligned
            values, truth = sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(expected)
            if modality == "pet" and path.is_dir():
                # stored as 16-bit integers times the rescale slope: within half a step
                slope = pet_rescale_slope(truth)
                np.testing.assert_array_less(np.abs(values - truth), slope / 2 * (1 + 1e-6))
                assert values.max() == pytest.approx(truth.max(), abs=slope / 2)
            else:
                # CT in HU and the ROI come back exactly
                np.testing.assert_array_equal(values, truth)
        if kind_of(row["ct"]) == "dicom":
            assert row["roi"].endswith(".nrrd")  # the ROI stays a label map file


def test_dicom_series_carry_their_tags(format_cohorts):
    folder, out = format_cohorts["dicom"]
    row = pd.read_csv(out["images"], sep="\t").iloc[0]
    tags = {}
    for modality in ("ct", "pet"):
        files = sorted((folder / row[modality]).iterdir())
        assert len(files) == FORMAT_GRIDS[f"{modality}_size"][2]  # one file per slice
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(files[1]))
        reader.ReadImageInformation()
        tags[modality] = {key: reader.GetMetaData(key).strip() for key in reader.GetMetaDataKeys()}
    ct, pet = tags["ct"], tags["pet"]
    assert (ct["0008|0060"], pet["0008|0060"]) == ("CT", "PT")
    # one study and frame of reference, two series
    assert ct["0020|000d"] == pet["0020|000d"] and ct["0020|0052"] == pet["0020|0052"]
    assert ct["0020|000e"] != pet["0020|000e"]
    assert (ct["0028|1052"], ct["0028|1053"], ct["0028|1054"]) == ("-1024", "1", "HU")
    assert float(ct["0018|0050"]) == float(ct["0018|0088"]) == FORMAT_GRIDS["ct_spacing"][2]
    assert float(pet["0028|1053"]) > 0 and pet["0028|1052"] == "0"
    assert ct["0020|0037"] == "1\\0\\0\\0\\1\\0"
    assert ct["0010|0020"] == row[col.PATIENT_ID]


def test_mixed_cohort_holds_every_format_and_pairing(format_cohorts, tmp_path):
    folder, out = format_cohorts["mixed"]
    images = pd.read_csv(out["images"], sep="\t")
    ct, pet = images["ct"].map(kind_of), images["pet"].map(kind_of)
    assert set(ct) == set(pet) == {"nifti", "nrrd", "mha", "dicom"}
    assert len(set(zip(ct, pet))) == 16  # 16 patients: every pairing of CT and PET format once
    assert set(images["roi"].map(kind_of)) == {"nifti", "nrrd", "mha"}
    # the DICOM series are byte-stable too
    run(small_settings(image_format="mixed", **FORMAT_GRIDS), tmp_path)
    assert digest_tree(folder) == digest_tree(tmp_path)


@pytest.mark.parametrize("value", ["png", "NIFTI", ""])
def test_unknown_image_format_is_refused(value):
    from survsig.core.errors import InputError

    with pytest.raises(InputError, match="synthetic.image_format"):
        SyntheticSettings(image_format=value)
    with pytest.raises(InputError, match="synthetic.image_format"):
        SyntheticSettings.from_config({"seed": 1, "image_format": value})


def test_mixed_format_cohort_validates_and_preprocesses_as_the_nifti_one(tmp_path):
    from conftest import copy_project, snakemake

    targets = ("results/validated/images.tsv", "results/preprocessed/manifest.tsv")
    runs = {}
    for fmt in ("nifti", "mixed"):
        project = copy_project(tmp_path / fmt)
        (project / "config" / "format.yaml").write_text(f"synthetic:\n  image_format: {fmt}\n")
        snakemake(project, *targets, "--configfile", "config/tiny.yaml", "config/format.yaml")
        runs[fmt] = project
    images = pd.read_csv(runs["mixed"] / targets[0], sep="\t")
    assert set(images["ct"].map(kind_of)) == set(images["pet"].map(kind_of)) == {"nifti", "nrrd", "mha", "dicom"}
    manifest = {fmt: pd.read_csv(project / targets[1], sep="\t") for fmt, project in runs.items()}
    assert manifest["mixed"][col.PATIENT_ID].tolist() == manifest["nifti"][col.PATIENT_ID].tolist()
    # the same slices whatever the format: DICOM PET differs by its rescale step, far below
    # float16's resolution of the [0, 1] channels
    for path in manifest["nifti"]["path"]:
        expected, got = np.load(runs["nifti"] / path), np.load(runs["mixed"] / path)
        assert got["slices"].shape == expected["slices"].shape
        np.testing.assert_allclose(got["slices"].astype(float), expected["slices"].astype(float), atol=2e-3)
        np.testing.assert_allclose(got["z_mm"], expected["z_mm"], atol=1e-4)
        np.testing.assert_allclose(got["boxes_mm"], expected["boxes_mm"], atol=1e-4)
    for log in (runs["mixed"] / "logs").rglob("*.log"):
        assert " WARNING " not in log.read_text(), log


def test_writing_a_dicom_series_keeps_the_locale(tmp_path):
    """GDCM's writer switches the process to the C locale; the text files a job opens after
    writing DICOM must still be read as UTF-8."""
    import locale

    from survsig.cohort.image_files import write_dicom_series
    from survsig.cohort.phantoms import Grid

    before = locale.setlocale(locale.LC_ALL)
    grid = Grid((8, 8, 3), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    write_dicom_series(np.zeros((3, 8, 8), np.float32), grid, tmp_path / "ct", modality="CT", patient_id="P1", seed=1)
    assert len(list((tmp_path / "ct").iterdir())) == 3
    assert locale.setlocale(locale.LC_ALL) == before
