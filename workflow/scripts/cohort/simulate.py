from survsig.cohort.patients import SyntheticSettings
from survsig.cohort.simulate import simulate_cohort
from survsig.core.logs import run_script


def main(snakemake):
    settings = SyntheticSettings.from_config(snakemake.params.synthetic)
    simulate_cohort(settings, dict(snakemake.output.items()), threads=snakemake.threads)


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
