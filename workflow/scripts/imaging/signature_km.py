from survsig.core.figures import save_figure
from survsig.core.io import read_table
from survsig.core.logs import run_script
from survsig.imaging.signature import signature_km_figure


def main(snakemake):
    figure = signature_km_figure(
        read_table(snakemake.input.signature, dtype={"patient_id": str}),
        read_table(snakemake.input.clinical, dtype={"patient_id": str}),
        snakemake.wildcards.split,
        model=snakemake.wildcards.model,
        time_months=snakemake.params.time_months,
    )
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
