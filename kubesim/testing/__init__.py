"""Test-support code shipped with the package (linearizability checking of recorded histories)."""
