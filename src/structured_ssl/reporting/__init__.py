"""Reading finished experiments back: the paper report, the TensorBoard comparison (runs read
by ``run_reading``) with its accuracy-time figure, and ``reproduce`` (a paper table's grid,
then its report). May import every layer below it (up to experiments); only ``cli`` is above.
"""
