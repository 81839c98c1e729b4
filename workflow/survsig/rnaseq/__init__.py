"""The RNA-seq branch: differential expression between the risk groups and enrichment."""
