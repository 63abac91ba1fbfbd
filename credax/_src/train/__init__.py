"""Training as one compiled program (the implementation behind ``credax.train``)."""
