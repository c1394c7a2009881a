"""Synchro: a synchronous facade over Motor that masquerades as PyMongo (to be built)."""
