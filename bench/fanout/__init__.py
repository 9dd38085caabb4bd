"""Subscription fan-out: ours next to two peers, then our memory over time and recovery.

How it works: three kinds of process share the machine.

- This process runs the simulator (real clock) and drives its feed
  (:mod:`bench.fanout.driver`): every market ticks ``rate`` times a second.
- One contender server at a time runs alone in a child process
  (:mod:`bench.servers`; the programs are in :mod:`bench.contenders`), pointed
  at the simulator like any deployment; we read its CPU time and RSS from ``/proc``
  (:mod:`bench.proc`) and, for ours, its hub counters.
- S subscribers are real ``graphql-transport-ws`` clients in two processes of their
  own (:mod:`bench.fanout.clients`), so they are not the bottleneck of the server they
  measure; each records its receive time and the simulator's send time per message.

:mod:`bench.fanout.measure` turns one window of that into offered, delivered, latency
and CPU; :mod:`bench.fanout.section` runs every contender at every level and writes the
rows; :mod:`bench.fanout.endurance` measures our RSS over time and recovery after drops.
"""

from bench.fanout.section import FanoutConfig, fanout_section

__all__ = ["FanoutConfig", "fanout_section"]
