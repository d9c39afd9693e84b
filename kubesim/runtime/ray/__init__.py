"""The `ray` runtime: logical actors hosted by Ray actors, on wall-clock time."""
