"""Tests of the benchmark scripts' building blocks."""
