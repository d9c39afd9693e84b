"""kubesim: a whole Kubernetes cluster simulated as actors on Ray or on a virtual clock."""

__version__ = "0.1.0"
