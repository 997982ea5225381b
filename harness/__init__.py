"""Machinery shared by every stage: user errors, resumable result files, run bookkeeping."""
