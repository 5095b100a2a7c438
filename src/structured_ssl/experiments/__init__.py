"""Running experiments: the LightningCLI subclass every run goes through (and the resume checks
and Trainer defaults it applies), one run in its own process, result files, the grid, studies,
launchers (local, SLURM), the tables they write, and the equivariance check command.
May import every layer below: encoders, groups, data, ssl, config, methods, callbacks; never
reporting or the ``cli`` module.
"""
