"""Networks: layers, containers, constructors, hooks, traces and local updates (the
implementation behind ``credax.nets``)."""
