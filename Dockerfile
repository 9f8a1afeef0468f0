# Kura for compose.yaml: production uses vLLM, so the embedded llama.cpp runtime is left out.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN grep -v '^llama' requirements.lock > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt
COPY . .
RUN pip install --no-cache-dir --no-deps . && useradd --uid 10001 --create-home kura \
    && mkdir -p /var/lib/kura && chown kura /var/lib/kura
ENV KURA_DATA_DIR=/var/lib/kura
USER kura
