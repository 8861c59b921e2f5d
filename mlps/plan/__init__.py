"""Planners: dataset size, checkpoint shards, and the merged DLIO configuration a campaign will run."""
