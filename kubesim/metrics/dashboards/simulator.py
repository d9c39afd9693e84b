"""The simulator itself: messages and batches between host actors, logical actors per
host, mailboxes, restarts and errors, host processes, and simulated against wall time."""

from __future__ import annotations

from kubesim.metrics.dashboards.model import Dashboard, Panel, Query, Row, Variable
from kubesim.metrics.dashboards.promql import cluster_variable, quantile, rate, selector

H = selector('kubesim_host=~"$host"')

DASHBOARD = Dashboard(
    uid="kubesim-simulator",
    title="kubesim / Simulator",
    description="The simulator's runtime: host actors, messages, batches, and how fast simulated time runs.",
    variables=(cluster_variable("kubesim_actors"),
               Variable("host", "Host actor", 'kubesim_actors{cluster=~"$cluster"}', "kubesim_host")),
    rows=(
        Row("Time", (
            Panel("Simulated seconds", "Simulated seconds since the run started, by each host's clock.",
                  (Query(f"max by (kubesim_host) (kubesim_simulated_seconds{H})", "{{kubesim_host}}"),),
                  unit="s"),
            Panel("Simulation speed", "Simulated seconds per wall-clock second (1 on ray at time scale 1; "
                  "on sim, as fast as the CPU allows).",
                  (Query(f"max(deriv(kubesim_simulated_seconds{H}[$__rate_interval]))", "simulated s / wall s"),),
                  unit="x"),
        )),
        Row("Messages", (
            Panel("Messages", "Envelopes sent and delivered per second.",
                  (Query(rate("kubesim_messages_sent_total", H), "sent"),
                   Query(rate("kubesim_messages_received_total", H), "received")),
                  unit="ops", width=8),
            Panel("Lost messages", "Envelopes for actors that are down (dropped) or that no host holds "
                  "(unroutable), per second.",
                  (Query(rate("kubesim_messages_dropped_total", H), "dropped"),
                   Query(rate("kubesim_messages_unroutable_total", H), "unroutable")),
                  unit="ops", width=8),
            Panel("Messages by host", "Envelopes delivered per second on each host actor.",
                  (Query(rate("kubesim_messages_received_total", H, ("kubesim_host",)), "{{kubesim_host}}"),),
                  unit="ops", width=8),
            Panel("Batches", "Batches sent between host actors per second (ray runtime).",
                  (Query(rate("kubesim_batches_sent_total", H), "batches"),), unit="ops", width=8),
            Panel("Batch size", "Envelopes per batch, p50 and p99 (ray runtime).",
                  (Query(quantile(0.99, "kubesim_batch_size", H), "p99"),
                   Query(quantile(0.5, "kubesim_batch_size", H), "p50")), width=8),
            Panel("Mailbox depth", "Envelopes received and not yet dispatched, per host (ray runtime).",
                  (Query(f"max by (kubesim_host) (kubesim_mailbox_depth{H})", "{{kubesim_host}}"),), width=8),
        )),
        Row("Hosts and actors", (
            Panel("Host actors", "Processes hosting logical actors.",
                  (Query(f"count(kubesim_actors{H})", "hosts"),), kind="stat", width=6, height=6),
            Panel("Logical actors", "Live logical actors over all hosts.",
                  (Query(f"sum(kubesim_actors{H})", "actors"),), kind="stat", width=6, height=6),
            Panel("Actor restarts and errors", "Restarts of logical actors and exceptions their handlers "
                  "raised, per second.",
                  (Query(rate("kubesim_actor_restarts_total", H), "restarts"),
                   Query(rate("kubesim_actor_errors_total", H), "errors")),
                  unit="ops", width=12, height=6),
            Panel("Logical actors per host", "Live logical actors on each host actor.",
                  (Query(f"max by (kubesim_host) (kubesim_actors{H})", "{{kubesim_host}}"),), width=8),
            Panel("Host memory", "Resident memory of each host actor's process.",
                  (Query(f"max by (kubesim_host) (process_resident_memory_bytes{H})", "{{kubesim_host}}"),),
                  unit="bytes", width=8),
            Panel("Host CPU", "CPU seconds per second used by each host actor's process.",
                  (Query(rate("process_cpu_seconds_total", H, ("kubesim_host",)), "{{kubesim_host}}"),),
                  unit="percentunit", width=8),
        )),
    ),
)
