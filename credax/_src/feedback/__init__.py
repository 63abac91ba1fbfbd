"""The feedback-path family: rules, the backward-pass machinery they share, and their metrics."""
