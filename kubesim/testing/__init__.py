"""Test-support code shipped with the package: linearizability checking of recorded
histories, real/ray etcd clusters, and an in-process etcd backend (`store_backend`)."""
