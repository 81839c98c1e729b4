"""Over-representation analysis: gseapy's numbers against the hypergeometric law, offline."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from survsig.core.errors import InputError
from survsig.core.figures import save_figure
from survsig.core.genesets import write_gmt
from survsig.rnaseq import enrichment as en

BACKGROUND = [f"G{i:03d}" for i in range(200)]
LIBRARY = {
    "SET_A": [f"G{i:03d}" for i in range(0, 20)] + ["NOT_MEASURED_1", "NOT_MEASURED_2"],
    "SET_B": [f"G{i:03d}" for i in range(15, 45)],
    "SET_C": [f"G{i:03d}" for i in range(100, 112)],
    "TINY": ["G000", "G001", "G002"],
    "HUGE": BACKGROUND[:150],
}
QUERY = [f"G{i:03d}" for i in range(0, 12)] + ["G030", "G031", "G100", "OUTSIDE"]


def test_p_values_follow_the_hypergeometric_law_with_the_tested_genes_as_universe():
    table = en.over_representation(QUERY, LIBRARY, background=BACKGROUND, min_set_size=10, max_set_size=100)
    table = table.set_index("term")
    # TINY (3 genes) and HUGE (150) are outside 10..100; sets are cut to the background
    assert set(table.index) == {"SET_A", "SET_B", "SET_C"}
    k = 15  # query genes in the background ("OUTSIDE" is not)
    for term, x, n in (("SET_A", 12, 20), ("SET_B", 2, 30), ("SET_C", 1, 12)):
        row = table.loc[term]
        assert row["overlap"] == f"{x}/{n}" and row["set_size"] == n and row["query_size"] == k
        assert row["pvalue"] == pytest.approx(stats.hypergeom.sf(x - 1, 200, n, k), rel=1e-12)
        assert row["gene_ratio"] == pytest.approx(x / k) and row["background_ratio"] == pytest.approx(n / 200)
    # Benjamini-Hochberg over the sets tested
    np.testing.assert_allclose(table["padj"], stats.false_discovery_control(table["pvalue"], method="bh"), rtol=1e-12)
    assert table.loc["SET_A", "genes"] == ";".join(f"G{i:03d}" for i in range(12))


def test_rows_are_sorted_and_every_column_is_there():
    table = en.over_representation(QUERY, LIBRARY, background=BACKGROUND)
    assert list(table.columns) == list(en.ENRICHMENT_COLUMNS)
    assert table["pvalue"].is_monotonic_increasing and table["term"].iloc[0] == "SET_A"


def test_empty_query_gives_an_empty_table_and_a_readable_figure(tmp_path):
    table = en.over_representation([], LIBRARY, background=BACKGROUND)
    assert table.empty and list(table.columns) == list(en.ENRICHMENT_COLUMNS)
    ax = en.plot_top_terms(table, title="demo: DEGs up in high risk")
    assert "no gene set" in ax.texts[0].get_text()
    save_figure(ax.figure, tmp_path / "empty.png")
    assert (tmp_path / "empty.png").stat().st_size > 0


def test_entrez_looking_genes_are_refused():
    with pytest.raises(InputError, match="Entrez"):
        en.over_representation(["1", "10"], {"S": ["1", "10", "100"]}, background=["1", "10", "100"], min_set_size=1)


def test_directions_select_up_down_and_all_degs():
    degs = pd.DataFrame({"direction": ["up", "down", "up"]}, index=pd.Index(["C", "A", "B"], name="gene"))
    assert en.degs_of_direction(degs, "up") == ["B", "C"]
    assert en.degs_of_direction(degs, "down") == ["A"]
    assert en.degs_of_direction(degs, "all") == ["A", "B", "C"]
    with pytest.raises(ValueError):
        en.degs_of_direction(degs, "sideways")


def test_gmt_file_and_dict_give_the_same_table(tmp_path):
    path = tmp_path / "library.gmt"
    write_gmt(LIBRARY, path)
    from_file = en.over_representation(QUERY, path, background=BACKGROUND)
    from_dict = en.over_representation(QUERY, LIBRARY, background=BACKGROUND)
    pd.testing.assert_frame_equal(from_file, from_dict)


def test_top_terms_figure_shows_the_most_significant_terms_first(tmp_path):
    table = en.over_representation(QUERY, LIBRARY, background=BACKGROUND, max_set_size=100)
    ax = en.plot_top_terms(table, n_terms=2, title=en.top_terms_title(table, "demo", "all"))
    labels = {t.get_text(): t.get_position()[1] for t in ax.get_yticklabels()}
    assert set(labels) == {"SET A *", "SET C"}  # * = padj < 0.05; SET_B (p 0.69 > 0.62) is beyond the top 2
    assert labels["SET A *"] > labels["SET C"]  # smallest p on top
    assert ax.get_title(loc="left") == "demo: all DEGs (n = 15)"
    assert ax.get_xlabel() == "Gene ratio (DEGs in term / DEGs)"
    for run in (1, 2):
        save_figure(ax.figure, tmp_path / f"top{run}.png", tmp_path / f"top{run}.pdf")
    assert (tmp_path / "top1.png").read_bytes() == (tmp_path / "top2.png").read_bytes()
    assert (tmp_path / "top1.pdf").read_bytes() == (tmp_path / "top2.pdf").read_bytes()


def test_term_labels_drop_collection_prefixes_and_wrap():
    assert en.term_label("KEGG_ECM_RECEPTOR_INTERACTION") == "ECM RECEPTOR INTERACTION"
    assert en.term_label("GOCC_APICAL_PLASMA_MEMBRANE") == "APICAL PLASMA MEMBRANE"
    long = en.term_label("positive regulation of epithelial to mesenchymal transition (GO:0010718)")
    assert "\n" in long and long.replace("\n", " ").startswith("positive regulation")
