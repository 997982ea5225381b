"""A whole study from a config: its stages, their estimates and a resumable run of them."""
