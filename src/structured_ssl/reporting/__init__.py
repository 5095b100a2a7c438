"""Reading finished experiments back: the paper report, the TensorBoard comparison and the
accuracy-time figure. May import every layer below it (up to experiments).
"""
