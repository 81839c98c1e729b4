"""The cohort: the synthetic cohort, the checks of a cohort's sheets, and the train/test split."""
