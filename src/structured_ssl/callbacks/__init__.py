"""Lightning callbacks, one module per family (online evaluation, HParams logging, fit
summary, linear curve, resilience, speed, fit report) and the metrics / figures they compute.
May import: encoders, groups, data, ssl, config, methods.
"""
