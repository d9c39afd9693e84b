"""The garbage collector: `graph` (the dependency graph, pure) and `collector` (the
controller that deletes, orphans and removes finalizers through the apiserver)."""
