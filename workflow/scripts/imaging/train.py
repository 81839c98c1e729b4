from survsig.core.files import read_split
from survsig.core.io import read_table, remove_stale_temp_files, write_tsv
from survsig.core.logs import run_script
from survsig.imaging.slices import read_manifest
from survsig.imaging.train import train_signature_model
from survsig.imaging.train_settings import TrainSettings


def main(snakemake):
    import pandas as pd

    trainer = train_signature_model(
        read_manifest(snakemake.input.manifest),
        read_table(snakemake.input.clinical, dtype={"patient_id": str}),
        read_split(snakemake.input.split),
        snakemake.params.channels,
        TrainSettings.from_config(snakemake.params.train),
        checkpoint=snakemake.params.checkpoint,
        threads=snakemake.threads,
        model_name=snakemake.wildcards.model,
    )
    trainer.save(snakemake.output.model)
    remove_stale_temp_files(snakemake.output.history)  # left by a run killed mid-write
    write_tsv(pd.DataFrame(trainer.history_), snakemake.output.history)
    # only now: a run killed before both outputs were written resumes from the checkpoint
    trainer.discard_checkpoint()


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
