"""Settings checked before anything is built: one-line CLI errors, single-field rules,
cross-field config checks, and grid cells composed from config axes.
May import: encoders, groups, data, ssl.
"""
