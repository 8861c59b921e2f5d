"""Campaigns, controller side: the benchmark frame (leaves, phases, failure records, resume)
and one module per benchmark."""
