"""kube-apiserver: storage, watch cache, admission, flow control (APF), patching and the REST facade."""
