from survsig.logs import run_script
from survsig.simulate import SyntheticSettings, simulate_cohort


def main(snakemake):
    settings = SyntheticSettings.from_config(snakemake.params.synthetic)
    simulate_cohort(settings, dict(snakemake.output.items()), threads=snakemake.threads)


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
