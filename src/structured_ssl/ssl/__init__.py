"""The self-supervision itself: where pairs sit (pairs, angle pairs), the step's random draws,
A-SSL's input augmentation, the pair losses, the EMA target and the gradient-carrying gather.
Owns no model. May import: encoders, groups, data.
"""
