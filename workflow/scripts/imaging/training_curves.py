from survsig.core.figures import save_figure
from survsig.core.io import read_table
from survsig.core.logs import run_script
from survsig.core.vocabulary import model_label
from survsig.imaging.training_curves import plot_member_training_curves


def main(snakemake):
    histories = [read_table(path).to_dict("records") for path in snakemake.input]
    model = snakemake.wildcards.model
    fig = plot_member_training_curves(histories, title=f"Training of the {model_label(model)} model")
    save_figure(fig, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
