"""Floreyn."""
