"""ImageLocality: favour nodes that already have the pod's images, scaled by how widely
each image is spread (so one node holding a popular image is not over-favoured)."""

from __future__ import annotations

from kubesim.components.scheduler.interfaces import MAX_NODE_SCORE, CycleState, ScorePlugin
from kubesim.components.scheduler.nodeinfo import NodeInfo, PodInfo

MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB
_IMAGES_KEY = "ImageLocality/images"


def normalized_image_name(name: str) -> str:
    """Add ``:latest`` when the image has no tag."""
    if name.rfind(":") <= name.rfind("/"):
        name += ":latest"
    return name


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    sum_scores = min(max(sum_scores, MIN_THRESHOLD), max_threshold)
    return MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality(ScorePlugin):
    name = "ImageLocality"

    def score(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> int:
        images: list[str] | None = state.read(_IMAGES_KEY)
        if images is None:  # the pod's normalized images, worked out once per cycle
            spec = pi.pod.get("spec") or {}
            containers = list(spec.get("initContainers") or ()) + list(spec.get("containers") or ())
            images = [normalized_image_name(c.get("image", "")) for c in containers]
            state.write(_IMAGES_KEY, images)
        if not ni.image_states:
            return 0  # calculate_priority(0, n)
        total_nodes = self.snapshot.num_nodes()
        total = 0
        for image in images:
            st = ni.image_states.get(image)
            if st is not None:
                total += int(st.size * (st.num_nodes / total_nodes))
        return calculate_priority(total, len(images))
