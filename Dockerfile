# One image for both of Mixtape's processes: `python -m bot` and `python -m workflows`.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY bot ./bot
COPY workflows ./workflows
COPY storage ./storage
COPY music ./music
COPY mixtape ./mixtape
COPY fakes ./fakes
RUN pip install --no-cache-dir --no-deps .
USER nobody
CMD ["python", "-m", "bot"]
