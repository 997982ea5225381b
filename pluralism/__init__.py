"""The pluralism study's distribution experiments: model and human answer distributions."""
