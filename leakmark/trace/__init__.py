"""Tracing: load evidence, find the page, locate it among registered pages, align, measure, decide."""
