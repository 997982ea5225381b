"""The project's leaf: errors and exit statuses, paths, atomic file writes, time stamps,
progress lines, did-you-mean suggestions and the reasoning models' thought/answer split.

Every other package may import `core`; `core` imports nothing of the project, so no package
cycle can pass through it.
"""
