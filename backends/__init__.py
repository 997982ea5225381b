"""Model adapters: one class per provider API and the local transformers backend, the registry."""
