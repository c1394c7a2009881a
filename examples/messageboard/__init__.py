"""A message board on Motor, in two versions: Tornado and aiohttp.

A page lists the messages, newest first, under a form that posts a new one, with an optional file
attachment stored in GridFS. A message posted in one browser tab appears in every other open tab
without a reload: the page listens to ``/events`` (server-sent events), which a change stream on the
messages collection feeds.

Run it from the root of a clone::

    python -m examples.messageboard                       # Tornado, on http://127.0.0.1:8888/
    python -m examples.messageboard --framework aiohttp --port 8080

It stores its messages in ``MONGODB_URI`` if set (a replica set: change streams need one), else in a
throwaway SecantusDB server that it starts for the purpose and stops when you press Ctrl-C.

- :mod:`.common` is everything the two versions share: validation, storage through Motor, the
  live-update fan-out, the HTML page and the event stream's format.
- :mod:`.tornado_app` is the Tornado glue, on :class:`motor.motor_tornado.MotorClient` and
  :class:`motor.web.GridFSHandler`.
- :mod:`.aiohttp_app` is the aiohttp glue, on :class:`motor.motor_asyncio.AsyncIOMotorClient` and
  :class:`motor.aiohttp.AIOHTTPGridFS`.

It is a demonstration: a real board would add authentication, CSRF protection and rate limits.
"""
