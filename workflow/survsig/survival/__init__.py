"""Survival estimators every branch uses: checks of survival data, Harrell's C, the Cox
fit and Kaplan-Meier, each agreeing with R."""
