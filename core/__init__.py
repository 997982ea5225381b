"""The project's leaf: errors, paths, atomic file writes and time stamps.

Every other package may import `core`; `core` imports nothing of the project, so no package
cycle can pass through it.
"""
