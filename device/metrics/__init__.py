"""Metrics: what the device did and what it cost, for Prometheus and the journal.

- settings.py: the ``metrics:`` section (the port, the price table, the time zone and the
  state folder of the daily budget);
- cost.py: what a response's usage costs (pure, exact: `Decimal` dollars);
- budget.py: the spend per local day (a pure ledger) and its JSON file in the state folder;
- collector.py: reports and ``stats()`` to counters and histograms, and the summary of each
  conversation (pure: no clock, no I/O);
- exposition.py: the collector in Prometheus' text format, rendered at scrape time;
- endpoint.py: the metrics port, a small HTTP server on the daemon's event loop;
- service.py: `MetricsService`, the service (device/services/ports.py): the port, the
  budget file, one log line per conversation.

docs/metrics.md lists every metric.
"""
