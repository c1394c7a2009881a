"""Motor's benchmarks: figures for Motor beside PyMongo's sync and async clients, on one machine.

Run from the repository's root::

    python -m benchmarks                       # every workload, on the canned-reply server
    python -m benchmarks --quick               # a short smoke run (smaller iterations, less time)
    python -m benchmarks --server secantus     # end to end, on an embedded SecantusDB
    MONGODB_URI=mongodb://localhost:27017 python -m benchmarks --server uri   # a real mongod
    python -m benchmarks --workloads RunCommand,FindOneByID80Tasks --drivers motor,async
    python -m benchmarks --only hop            # the no-op round trip alone (no server)
    python -m benchmarks --loop uvloop         # the async drivers on uvloop
    python -m benchmarks --tasks 10,100,1000   # the concurrency curve at these task counts
    python -m benchmarks --list                # the workloads and groups
    python -m benchmarks.report run.json       # doc/performance.rst's tables from a --json run

This is a program that prints figures, not a test: nothing passes or fails. Each (workload, driver)
pair is measured in a fresh subprocess (:mod:`benchmarks.child`), with the drivers interleaved
within each workload so that they share the machine's noise; the parent (:mod:`benchmarks.runner`)
prints the tables of :mod:`benchmarks.report`: throughput with the ratios Motor/PyMongoAsync and
Motor/PyMongo, cost (client CPU per op, the event loop's largest delay), the concurrency curve,
FindMany by batch size, per-measurement detail (percentiles), and the hop micro-benchmark
(:mod:`benchmarks.hop`: a no-op round trip to a worker thread, Motor's engine beside the floor).

The drivers are PyMongo's ``MongoClient`` (the floor: no event loop at all), PyMongo's
``AsyncMongoClient``, Motor's ``AsyncIOMotorClient`` and Motor's Tornado ``MotorClient`` (run under
``asyncio.run``: Tornado's IOLoop runs on asyncio). The workloads (:mod:`benchmarks.workloads`)
follow MongoDB's driver benchmarking spec, with synthetic documents of its sizes
(:mod:`benchmarks.data`). The canned server (:mod:`benchmarks.canned_server`) answers from cached
replies, so that its figures measure the driver rather than a database.

See ``doc/performance.rst`` for what every column means and for figures from one run.
"""
