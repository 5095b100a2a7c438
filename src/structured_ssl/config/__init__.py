"""Settings checked before anything is built: one-line CLI errors, single-field rules,
cross-field config checks, and grid cells composed from config axes.
The kinds of bad input (``ConfigError``, ``CheckpointError``) are defined here so that every
layer above can raise them. May import: encoders, groups, data, ssl.
"""
