# CT, PET and ROI on one grid, square ROI crops of every ROI slice: one file per patient,
# written by jobs of imaging.patients_per_job patients each (light processes: no pandas,
# no torch), so --cores N and a cluster parallelise them.


rule preprocess:
    input:
        unpack(preprocess_inputs),
    output:
        directory("results/preprocessed/{batch}"),
    log:
        "logs/preprocess/{batch}.log",
    conda:
        "../../envs/imaging.yaml"
    params:
        patients=preprocess_batch_patients,
        settings=preprocess_settings(),
    shell:
        "python -m survsig.cli preprocess --patients {params.patients:q}"
        " --ct {input.ct:q} --pet {input.pet:q} --roi {input.roi:q}"
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
        "../scripts/slice_manifest.py"
