"""Datasets of rendered (audio, parameters) pairs."""
