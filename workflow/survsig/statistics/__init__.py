"""The statistics branch: Table 1, the nomograms, their evaluation and internal
validation, decision curves, and the risk groups."""
