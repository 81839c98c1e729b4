"""The synthetic other centre: the cohort's biology, another scanner and case mix (rule ``simulate_external``)."""

from survsig.cohort.patients import SyntheticSettings, other_centre
from survsig.cohort.simulate import simulate_cohort
from survsig.core.logs import run_script


def main(snakemake):
    settings = SyntheticSettings.from_config(snakemake.params.synthetic)
    # no RNA-seq: the external cohort is scored and evaluated, not sequenced
    external = other_centre(settings, **{"rnaseq_samples": 0, **dict(snakemake.params.changes)})
    simulate_cohort(external, dict(snakemake.output.items()), threads=snakemake.threads)


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
