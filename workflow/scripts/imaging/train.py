from survsig.core.files import read_split
from survsig.core.io import read_table, remove_stale_temp_files, write_tsv
from survsig.core.logs import run_script
from survsig.imaging.auxiliary import auxiliary_targets
from survsig.imaging.pretrain import load_pretrained
from survsig.imaging.radiomic_features import modality_features, read_feature_tables
from survsig.imaging.slices import read_manifest
from survsig.imaging.train import train_signature_model
from survsig.imaging.train_settings import TrainSettings


def main(snakemake):
    import pandas as pd

    split = read_split(snakemake.input.split)
    settings = TrainSettings.from_config(snakemake.params.train)
    targets = None
    if snakemake.input.radiomics:
        features = read_feature_tables(snakemake.input.radiomics)
        features = modality_features(features, snakemake.params.feature_modalities)
        targets = auxiliary_targets(features, split, components=settings.radiomics_components)
    initial_state = None
    if snakemake.input.pretrained:
        initial_state = load_pretrained(snakemake.input.pretrained, snakemake.params.channels)
    trainer = train_signature_model(
        read_manifest(snakemake.input.manifest),
        read_table(snakemake.input.clinical, dtype={"patient_id": str}),
        split,
        snakemake.params.channels,
        settings,
        checkpoint=snakemake.params.checkpoint,
        threads=snakemake.threads,
        model_name=snakemake.wildcards.model,
        targets=targets,
        initial_state=initial_state,
    )
    trainer.save(snakemake.output.model)
    remove_stale_temp_files(snakemake.output.history)  # left by a run killed mid-write
    write_tsv(pd.DataFrame(trainer.history_), snakemake.output.history)
    # only now: a run killed before both outputs were written resumes from the checkpoint
    trainer.discard_checkpoint()


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
