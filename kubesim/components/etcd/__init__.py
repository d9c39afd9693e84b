"""etcd: a pure Raft core (`raft/`), the MVCC store with watch and leases (`mvcc/`), the member
actor with its WAL and snapshots, the client library and the v3 JSON gateway."""
