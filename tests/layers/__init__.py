"""Tests of the layer check, the layer library and the layer mutants."""
