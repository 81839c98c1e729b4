"""survsig: deep learning survival signatures from PET/CT.

The package holds all logic of the Snakemake workflow; the workflow's scripts only
read their inputs, call into it and write outputs.
"""

__version__ = "0.1.0"
