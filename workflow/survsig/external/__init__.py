"""Applying a finished run's frozen networks, nomograms and cut-off to other patients:
an external cohort, new patients."""
