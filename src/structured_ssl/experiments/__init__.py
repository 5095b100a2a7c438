"""Running experiments: one run in its own process, result files, the grid, studies,
launchers (local, SLURM), the tables they write, and the equivariance check command.
May import every layer below: encoders, groups, data, ssl, config, methods, callbacks.
"""
