"""Development tools, never shipped in the image: the local stack (a private PostgreSQL and
the pinned Hatchet engine, `devtools.stack`), the run command (`python -m devtools`, which
`scripts/run` calls), the offline demo against the fakes (`devtools.demo`, `devtools.offline`),
the worker launcher that tests and the run command share (`devtools.worker_process`) and the
Hatchet dashboard build (`devtools.dashboard`). They may import the runtime packages and the
fakes; nothing at runtime imports them (tests/test_layout.py)."""
