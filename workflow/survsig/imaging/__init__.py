"""The imaging branch: preprocessing, the networks and their training, the radiomics
comparator, and the signatures they give."""
