"""Results trees: the reader (any published or own tree into models), and the figures and series recomputed from it."""
