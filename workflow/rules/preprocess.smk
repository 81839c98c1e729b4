# Per patient: CT, PET and ROI on one grid, square ROI crops of every ROI slice.
# One light job per patient (no pandas, no torch), so --cores N and a cluster parallelise it.


rule preprocess:
    input:
        unpack(preprocess_inputs),
    output:
        "results/preprocessed/{patient}.npz",
    log:
        "logs/preprocess/{patient}.log",
    conda:
        "../../envs/imaging.yaml"
    params:
        settings=preprocess_settings(),
    shell:
        "python -m survsig.cli preprocess --patient {wildcards.patient:q}"
        " --ct {input.ct:q} --pet {input.pet:q} --roi {input.roi:q}"
        " --settings {params.settings:q} --output {output:q} --log {log:q}"


rule slice_manifest:
    input:
        preprocessed_slices,
    output:
        "results/preprocessed/manifest.tsv",
    log:
        "logs/preprocess/manifest.log",
    conda:
        "../../envs/imaging.yaml"
    script:
        "../scripts/slice_manifest.py"
