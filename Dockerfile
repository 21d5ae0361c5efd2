# Mixtape's image, one for both processes: `python -m bot` and `python -m workflows`.
# Built by docker-compose.yml. The build stage installs the runtime lock (no test, dev or
# benchmark tools) and the project into a virtualenv; the final stage is that virtualenv
# on a slim Python, run as an unprivileged user. .dockerignore keeps everything else (tests,
# fakes, benchmarks, devtools (the local stack and demo), .env, .venv, .stack, .data) from the
# daemon.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/mixtape
# Dependencies first: this layer is rebuilt only when the lock changes.
COPY requirements.lock /tmp/requirements.lock
RUN /opt/mixtape/bin/pip install -r /tmp/requirements.lock
COPY pyproject.toml README.md /src/
COPY bot /src/bot
COPY voice /src/voice
COPY workflows /src/workflows
COPY storage /src/storage
COPY music /src/music
COPY mixtape /src/mixtape
COPY spotify_access /src/spotify_access
RUN /opt/mixtape/bin/pip install --no-deps /src

FROM python:3.11-slim
ENV PATH=/opt/mixtape/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN useradd --system --uid 10001 --user-group --home-dir /home/mixtape --create-home mixtape
COPY --from=build /opt/mixtape /opt/mixtape
WORKDIR /home/mixtape
USER mixtape
CMD ["python", "-m", "bot"]
