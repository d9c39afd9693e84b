"""The apiserver's watch cache of one kind (k8s.io/apiserver ``pkg/storage/cacher``, as in
kube-apiserver 1.32 with ConsistentListFromCache).

A :class:`WatchCache` lists the kind's prefix from etcd at a revision, then watches the prefix
from that revision; it keeps the current objects and a window of recent events, serves lists,
gets and watches from memory, and delegates to its :class:`ResourceStore` (etcd) exactly where
kube-apiserver does. Time and tasks come from a :class:`Clock` (an actor's ``ctx`` is one);
nothing here does I/O except through the store's etcd backend. Module map: ``cache`` (the
cache), ``watcher`` (one watch), ``window`` (the event window), ``budget`` (the dispatch time
budget), ``settings``.

Public API (every error is a :class:`kubesim.api.status.APIError` with the real Status)::

    from kubesim.components.apiserver.watchcache import CacheSettings, WatchCache

    cache = WatchCache(store, clock=ctx, settings=CacheSettings())   # store: ResourceStore
    await cache.start()          # list + etcd watch; returns once the cache is filled
    await cache.stop()           # cancels its tasks and the etcd watch, ends every watch

    await cache.list(namespace, options: ListOptions | None = None) -> dict
        # a List like ResourceStore.list. From the cache: resourceVersion "" (consistent: reads
        # etcd's current revision, waits until the cache has it, else falls back to etcd),
        # "0" (any; a limit is ignored) and N (not older than N; waits up to 3 s, then 504
        # Timeout "Too large resource version: N, current: M"). Delegated to etcd: continue
        # tokens, a limit with resourceVersion other than "0", resourceVersionMatch=Exact
        # (so 410 Expired / 400 BadRequest as ResourceStore.list).
    await cache.get(namespace, name, resource_version="") -> dict
        # "" reads etcd; otherwise from the cache once at least that fresh; 404 NotFound
    watcher = await cache.watch(namespace, options: ListOptions | None = None) -> CacheWatcher
        # resourceVersion ""/"0": ADDED events for the current state first, then changes;
        # N: the changes after N. sendInitialEvents=true (with resourceVersionMatch
        # NotOlderThan): the state at (for "" a consistent) resourceVersion, then with
        # allowWatchBookmarks a BOOKMARK annotated k8s.io/initial-events-end=true;
        # sendInitialEvents=false: changes from then on. A resourceVersion the window no
        # longer covers yields one ERROR event (410 Expired "too old resource version: N
        # (M)") and the end. timeoutSeconds ends the watch after that long.
    event = await watcher.next()   # {"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR",
                                   #  "object": dict}, or None once the watch has ended
    watcher.stop()                 # the client went away
    watcher.terminated             # True when the cache ended it (slow, re-list, timeout)
    cache.resource_version         # the revision the cache is at
    cache.ready                    # False while (re)listing: lists/gets then go to etcd
    cache.wait_until_fresh(rv)     # await until the cache is at rv; 504 after 3 s

Watchers with selectors get ADDED when an object starts to match and DELETED (its last
matching state, at the new resourceVersion) when it stops. BOOKMARKs (only for
allowWatchBookmarks) carry the cache's resourceVersion, about every minute and 2 s before the
watch's timeout. A watcher whose buffer (CacheSettings.watcher_buffer; upstream's size by
default) stays full for the dispatch time budget is terminated: its buffered events are
delivered, then the stream ends, as kube-apiserver closes a watch that cannot keep up; the
client resumes from the last resourceVersion it saw or re-lists. When etcd's watch breaks the
cache resumes it from the last revision it saw (its watchers lose and repeat nothing); if that
revision was compacted it re-lists and terminates every watcher. Objects in lists and watch
events are shared with the cache: treat them as read-only (``get`` returns a copy).
"""

from kubesim.components.apiserver.watchcache.cache import Clock, WatchCache
from kubesim.components.apiserver.watchcache.settings import CacheSettings
from kubesim.components.apiserver.watchcache.watcher import CacheWatcher

__all__ = ["CacheSettings", "CacheWatcher", "Clock", "WatchCache"]
