"""Lightning callbacks, one module per family (HParams logging, fit summary, linear curve,
speed, fit report), one package per family of several callbacks (``online_eval``,
``resilience``: one module per callback), and the metrics / figures they compute.
May import: encoders, groups, data, ssl, config, methods.
"""
