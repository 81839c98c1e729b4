"""Self-supervised pretraining of one model's network on the cohort's slices (rule ``pretrain``):
no outcome is read, only the slices and, with ``patients: train``, which patients train."""

from survsig.core.files import read_split
from survsig.core.io import remove_stale_temp_files, write_tsv
from survsig.core.logs import run_script
from survsig.imaging.pretrain import PretrainSettings, pretrain_network, pretraining_patients, save_pretrained
from survsig.imaging.slice_data import load_slice_data
from survsig.imaging.slices import read_manifest


def main(snakemake):
    import pandas as pd

    settings = PretrainSettings.from_config(snakemake.params.pretrain)
    channels = list(snakemake.params.channels)
    data = load_slice_data(read_manifest(snakemake.input.manifest), channels, context_mm=snakemake.params.context_mm)
    patients = pretraining_patients(read_split(snakemake.input.split), settings)
    state, history = pretrain_network(
        data, patients, channels, settings, init=snakemake.params.init, threads=snakemake.threads
    )
    save_pretrained(snakemake.output.model, state, channels, settings, history)
    remove_stale_temp_files(snakemake.output.history)
    write_tsv(pd.DataFrame(history), snakemake.output.history)


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
