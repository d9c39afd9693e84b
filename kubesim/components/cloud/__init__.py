"""cloud-controller-manager and the fake cloud provider it drives."""
