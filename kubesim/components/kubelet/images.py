"""The modelled image registry and a node's image service (CRI ImageService + the kubelet's
image puller), after kubernetes/pkg/kubelet/images (v1.32).

`Registry` is what the simulated registry serves: image references and their compressed
sizes. It is immutable and shared by every kubelet of a process. An image it does not know
fails to pull with containerd's NotFound error, so the pod's container waits in
ErrImagePull, then ImagePullBackOff.

`ImageService` is one node's image store and puller: the images present (the cache that
makes the scheduler's ImageLocality matter), and the pull queue. The kubelet pulls one
image at a time by default (KubeletConfiguration serializeImagePulls: true,
serialized_image_puller.go); `max_parallel` > 1 models maxParallelImagePulls. A pull's time
comes from the cost model (`image_pull_seconds`: a fixed registry part plus size over
bandwidth); a pull of an image whose layers are already present (pull policy Always, or a
second pod queued behind the first pull) costs only the fixed part, as containerd then only
resolves the manifest.
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from dataclasses import dataclass, field

from kubesim.runtime.costmodel import CostModel

#: node.status.images holds at most this many images, largest first (nodeStatusMaxImages).
NODE_STATUS_MAX_IMAGES = 50

DEFAULT_DOMAIN = "docker.io"
OFFICIAL_REPO_PREFIX = "library/"

#: Images the default registry serves, with their compressed (pull) sizes in bytes. Sizes
#: are approximate linux/amd64 figures as `crictl images` / Docker Hub report them
#: (rounded); they only weigh the pull time and ImageLocality scores.
DEFAULT_IMAGES: dict[str, int] = {
    "registry.k8s.io/pause:3.9": 321_520,  # crictl images on a kind node: "322kB"
    "registry.k8s.io/pause:3.10": 320_368,  # crictl images: "320kB"
    "registry.k8s.io/e2e-test-images/agnhost:2.52": 52_000_000,  # approx. 52 MB compressed
    "registry.k8s.io/kube-proxy:v1.32.0": 30_900_000,  # approx. 31 MB compressed
    "registry.k8s.io/coredns/coredns:v1.11.3": 18_600_000,  # approx. 18.6 MB compressed
    "registry.k8s.io/etcd:3.5.16-0": 57_700_000,  # approx. 57.7 MB compressed
    "docker.io/library/nginx:1.27": 72_000_000,  # Docker Hub nginx:1.27 amd64, approx. 72 MB
    "docker.io/library/nginx:latest": 72_000_000,  # same image as 1.27 at the time of writing
    "docker.io/library/busybox:1.36": 2_200_000,  # Docker Hub busybox:1.36 amd64, approx. 2.2 MB
    "docker.io/library/busybox:latest": 2_200_000,
    "docker.io/library/alpine:3.20": 3_600_000,  # Docker Hub alpine:3.20 amd64, approx. 3.6 MB
    "docker.io/library/alpine:latest": 3_600_000,
    "docker.io/library/redis:7.4": 45_000_000,  # Docker Hub redis:7.4 amd64, approx. 45 MB
    "docker.io/library/python:3.12-slim": 45_000_000,  # Docker Hub python:3.12-slim, approx. 45 MB
}

#: The sandbox (pause) image of containerd 1.7 / 2.0 (sandbox_image default), pre-pulled.
SANDBOX_IMAGE = "registry.k8s.io/pause:3.10"


def normalize(image: str) -> str:
    """A reference as containerd names it (docker reference ParseNormalizedNamed + the
    default tag): ``nginx`` -> ``docker.io/library/nginx:latest``."""
    name, at, digest = image.partition("@")
    first, slash, rest = name.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        name = f"{DEFAULT_DOMAIN}/{name if slash else OFFICIAL_REPO_PREFIX + name}"
    last = name.rsplit("/", 1)[-1]
    if not at and ":" not in last:
        name += ":latest"
    return name + (at + digest if at else "")


def _digest(text: str) -> str:
    return "sha256:" + hashlib.blake2b(text.encode(), digest_size=32).hexdigest()


@dataclass(frozen=True, slots=True)
class Image:
    """One image as the registry serves it and a node stores it."""

    ref: str  # normalized reference, e.g. docker.io/library/nginx:1.27
    size: int
    id: str  # the image config digest (CRI image id / imageRef)
    repo_digest: str  # repository@manifest-digest

    @classmethod
    def of(cls, ref: str, size: int) -> Image:
        repo = ref.split("@", 1)[0]
        if ":" in repo.rsplit("/", 1)[-1]:
            repo = repo[: repo.rfind(":")]
        return cls(ref, size, _digest("config:" + ref), f"{repo}@{_digest('manifest:' + ref)}")


class Registry:
    """The images the simulated registry serves (immutable)."""

    def __init__(self, images: dict[str, int] | None = None) -> None:
        source = DEFAULT_IMAGES if images is None else images
        self._images = {normalize(ref): Image.of(normalize(ref), size) for ref, size in source.items()}

    def with_images(self, extra: dict[str, int]) -> Registry:
        merged = {ref: img.size for ref, img in self._images.items()}
        merged.update({normalize(ref): size for ref, size in extra.items()})
        return Registry(merged)

    def lookup(self, image: str) -> Image | None:
        return self._images.get(normalize(image))


def not_found_error(image: str) -> str:
    """containerd's error for a reference the registry does not have (status message of ErrImagePull)."""
    ref = normalize(image)
    return (f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
            f'failed to resolve reference "{ref}": {ref}: not found')


@dataclass(slots=True)
class PullResult:
    """The outcome of one queued pull, handed back to the waiter."""

    waiter: str
    image: str  # as the container spec names it
    image_id: str  # "" on failure
    error: str  # "" on success
    queued_at: float
    started_at: float
    finished_at: float


@dataclass(slots=True)
class _Pull:
    waiter: str
    image: str
    queued_at: float
    started_at: float = 0.0
    done_at: float = 0.0
    result: Image | None = None
    error: str = ""


@dataclass
class ImageService:
    """One node's images and pull queue (pure; times are simulated seconds)."""

    registry: Registry
    cost: CostModel
    rng: random.Random
    max_parallel: int = 1
    present: dict[str, Image] = field(default_factory=dict)
    _queue: deque[_Pull] = field(default_factory=deque)
    _active: list[_Pull] = field(default_factory=list)

    def preload(self, images: list[str]) -> None:
        """Images already on the node when it boots (the sandbox image, a node image's set)."""
        for image in images:
            found = self.registry.lookup(image)
            if found is not None:
                self.present[found.ref] = found

    def image_ref(self, image: str) -> str:
        """CRI ImageStatus: the image id if present on the node, else ""."""
        found = self.present.get(normalize(image))
        return found.id if found is not None else ""

    def enqueue(self, waiter: str, image: str, now: float) -> None:
        """Queue a pull of `image` for `waiter` (the results come back from `advance`)."""
        self._queue.append(_Pull(waiter, image, now))
        self._start(now)

    def cancel(self, waiter: str) -> None:
        """Drop the waiter's queued pulls (a pull in progress runs to its end)."""
        self._queue = deque(p for p in self._queue if p.waiter != waiter)
        for pull in self._active:
            if pull.waiter == waiter:
                pull.waiter = ""

    def next_wakeup(self) -> float | None:
        return min((p.done_at for p in self._active), default=None)

    def advance(self, now: float) -> list[PullResult]:
        """Finish the pulls due by `now` (starting queued ones behind them)."""
        results: list[PullResult] = []
        while self._active:
            due = min(self._active, key=lambda p: p.done_at)
            if due.done_at > now:
                break
            self._active.remove(due)
            if due.result is not None:
                self.present[due.result.ref] = due.result
            if due.waiter:
                results.append(PullResult(
                    due.waiter, due.image, due.result.id if due.result is not None else "",
                    due.error, due.queued_at, due.started_at, due.done_at))
            self._start(due.done_at)
        return results

    def _start(self, now: float) -> None:
        while self._queue and (self.max_parallel <= 0 or len(self._active) < self.max_parallel):
            pull = self._queue.popleft()
            pull.started_at = now
            found = self.registry.lookup(pull.image)
            if found is None:
                pull.error = not_found_error(pull.image)
                pull.done_at = now + self.cost.sample("kubelet.image_pull_fixed", self.rng)
            elif found.ref in self.present:
                pull.result = found
                pull.done_at = now + self.cost.sample("kubelet.image_pull_fixed", self.rng)
            else:
                pull.result = found
                pull.done_at = now + self.cost.image_pull_seconds(found.size, self.rng)
            self._active.append(pull)

    def node_status_images(self) -> list[dict[str, object]]:
        """node.status.images: the largest images first, at most 50 (setters.go Images)."""
        images = sorted(self.present.values(), key=lambda i: (-i.size, i.ref))[:NODE_STATUS_MAX_IMAGES]
        return [{"names": [i.repo_digest, i.ref], "sizeBytes": i.size} for i in images]
