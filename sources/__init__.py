"""Raw study data: the manifest, fetching it, and reading each source with validation."""
