from survsig.figures import save_figure
from survsig.io import read_table
from survsig.logs import run_script
from survsig.signature import MODEL_TITLES
from survsig.train import plot_training_curves


def main(snakemake):
    history = read_table(snakemake.input[0]).to_dict("records")
    kept = [h["epoch"] for h in history if h.get("kept") == 1]
    ax = plot_training_curves(
        history,
        title=f"Training of the {MODEL_TITLES.get(snakemake.wildcards.model, snakemake.wildcards.model)} model",
        best_epoch=kept[0] if kept else None,
    )
    save_figure(ax.figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
