"""Motor's benchmarks: figures for Motor beside PyMongo's sync and async clients, on one machine.

Run from the repository's root::

    python -m benchmarks                       # every workload, on the canned-reply server
    python -m benchmarks --quick               # a short smoke run (smaller iterations, less time)
    python -m benchmarks --server secantus     # end to end, on an embedded SecantusDB
    MONGODB_URI=mongodb://localhost:27017 python -m benchmarks --server uri   # a real mongod
    python -m benchmarks --workloads RunCommand,FindOneByID80Tasks --drivers motor,async
    python -m benchmarks --list                # the workloads and groups

This is a program that prints figures, not a test: nothing passes or fails. Each (workload, driver)
pair is measured in a fresh subprocess (:mod:`benchmarks.child`), with the drivers interleaved
within each workload so that they share the machine's noise; the parent (:mod:`benchmarks.runner`)
prints three tables: throughput with the ratios Motor/PyMongoAsync and Motor/PyMongo, cost (client
CPU per op, the event loop's largest delay), and per-measurement detail (percentiles).

The drivers are PyMongo's ``MongoClient`` (the floor: no event loop at all), PyMongo's
``AsyncMongoClient``, Motor's ``AsyncIOMotorClient`` and Motor's Tornado ``MotorClient`` (run under
``asyncio.run``: Tornado's IOLoop runs on asyncio). The workloads (:mod:`benchmarks.workloads`)
follow MongoDB's driver benchmarking spec, with synthetic documents of its sizes
(:mod:`benchmarks.data`). The canned server (:mod:`benchmarks.canned_server`) answers from cached
replies, so that its figures measure the driver rather than a database.

See ``doc/performance.rst`` for what every column means and for figures from one run.
"""
