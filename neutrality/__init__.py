"""The political neutrality study: templates and the prompt test set."""
