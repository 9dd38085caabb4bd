"""The servers the fan-out benchmark compares, each a program of its own.

- ``python -m bench.contenders.ours``: the app (:func:`graph.app.create_app`);
- ``python -m bench.contenders.plain``: a plain Strawberry subscription server, an
  async generator and a queue per subscriber, Strawberry's defaults otherwise;
- ``python -m bench.contenders.relay``: a raw ``websockets`` relay that speaks just
  enough ``graphql-transport-ws`` and encodes each tick once for all its subscribers.

Each reads its upstream (the benchmark's simulator) from the environment, listens on a
free loopback port, prints ``PORT <n>`` once it accepts connections, and stops on
SIGTERM (:mod:`bench.contenders.process`).
"""
