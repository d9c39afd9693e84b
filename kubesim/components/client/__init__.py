"""Client library for controllers and schedulers: workqueue, informer cache, leader election."""
