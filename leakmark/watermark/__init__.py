"""Issuing side: per-copy codewords, one module per layer, and the per-page pipeline."""
