# The jixiao portal and command line, for docker-compose.yml.
FROM python:3.11-slim
ARG TORCH_SPEC="torch==2.13.0"
RUN apt-get update && apt-get install -y --no-install-recommends \
        tesseract-ocr tesseract-ocr-chi-sim curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# torch first (pick a CPU build through TORCH_SPEC / pip's index options), then the rest.
RUN pip install --no-cache-dir "$TORCH_SPEC"
COPY pyproject.toml README.md ./
COPY indexer indexer
COPY webapp webapp
COPY mappings mappings
COPY corpus corpus
RUN pip install --no-cache-dir -e . \
    && python -m indexer.e5_model
EXPOSE 8000
CMD ["jixiao", "serve", "--host", "0.0.0.0", "--port", "8000"]
