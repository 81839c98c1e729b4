# CT, PET and ROI on one grid, square ROI crops of every ROI slice: one file per patient,
# written by jobs of imaging.patients_per_job patients each (light processes: no pandas,
# no torch), so --cores N and a cluster parallelise them.


rule preprocess:
    input:
        # The images are parameters, not inputs: each time Snakemake picks jobs to start it
        # looks at every input of every ready job, which with thousands of patients costs
        # more than preprocessing them. A changed image still re-runs its job (image_versions).
        validated_image_sheet,
    output:
        directory("results/preprocessed/{batch}"),
    log:
        "logs/preprocess/{batch}.log",
    conda:
        "../../envs/imaging.yaml"
    params:
        patients=preprocess_batch_patients,
        ct=preprocess_images("ct"),
        pet=preprocess_images("pet"),
        roi=preprocess_images("roi"),
        image_versions=preprocess_image_versions,
        settings=preprocess_settings(),
    shell:
        "python -m survsig.cli preprocess --patients {params.patients:q}"
        " --ct {params.ct:q} --pet {params.pet:q} --roi {params.roi:q}"
        " --settings {params.settings:q} --output-dir {output:q} --log {log:q}"


rule slice_manifest:
    input:
        preprocessed_batches,
    output:
        "results/preprocessed/manifest.tsv",
    log:
        "logs/preprocess/manifest.log",
    conda:
        "../../envs/imaging.yaml"
    params:
        files=preprocessed_slice_files,
    script:
        "../scripts/imaging/slice_manifest.py"
