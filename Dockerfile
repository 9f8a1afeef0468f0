# syntax=docker/dockerfile:1
# Kura for compose.yaml. Production uses vLLM, so the embedded llama.cpp runtime and the dev tools are
# left out: only requirements.lock (the runtime dependencies) is installed, every file checked against
# its hash, wheels only (building an sdist would fetch its build tools unchecked). The base tag is an
# exact release; pin it by digest too once you have checked one (`docker buildx imagetools inspect`).
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /opt/kura \
    && /opt/kura/bin/pip install --require-hashes --only-binary :all: -r requirements.lock
COPY pyproject.toml ./
COPY bot ./bot
COPY llm ./llm
COPY knowledge ./knowledge
COPY policies ./policies
COPY migrations ./migrations
# Kura itself, built by the locked setuptools already in the venv: nothing is fetched.
RUN /opt/kura/bin/pip install --no-deps --no-build-isolation --no-index . && /opt/kura/bin/pip check

FROM python:3.11.14-slim-bookworm
COPY --from=build /opt/kura /opt/kura
COPY --chmod=0755 deploy/kura-entrypoint.sh /usr/local/bin/kura-entrypoint
# A fixed uid/gid, so secret files on the host can be given to it (README: compose).
RUN groupadd --gid 10001 kura \
    && useradd --uid 10001 --gid 10001 --home-dir /var/lib/kura --no-create-home --shell /usr/sbin/nologin kura \
    && install -d -o kura -g kura -m 0700 /var/lib/kura
ENV PATH=/opt/kura/bin:$PATH \
    KURA_DATA_DIR=/var/lib/kura \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/kura
ENTRYPOINT ["kura-entrypoint"]
CMD ["kura", "serve"]
