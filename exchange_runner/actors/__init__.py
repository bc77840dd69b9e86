"""The runner's actors: each owns its state and is reached only through its inbox."""
