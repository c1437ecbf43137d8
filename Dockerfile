# syntax=docker/dockerfile:1
# One image for both the api and the generation worker (see compose.yaml).
#
#   docker build -t fabula .                                    # CUDA torch (GPU hosts)
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu -t fabula .
#
# torch is installed first, from TORCH_INDEX_URL, so the project's "torch>=2.5"
# requirement is already met by the build the host needs and pip keeps it.

FROM python:3.11-slim

# The CUDA 12.8 wheels need an NVIDIA driver >= 570 on the host; pick another
# index (cu126, cu130, cpu) to match yours.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
# Empty: the newest torch on that index; or pin, e.g. "==2.9.1".
ARG TORCH_VERSION=

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN pip install --index-url "${TORCH_INDEX_URL}" "torch${TORCH_VERSION}"

WORKDIR /app

# Dependencies in their own layer: editing the code does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /var/lib/fabula --shell /usr/sbin/nologin fabula \
    && mkdir -p /var/lib/fabula/media /var/lib/fabula/models \
    && chown -R fabula:fabula /var/lib/fabula
# (A named volume mounted on /var/lib/fabula/* starts with this ownership.)

USER fabula
ENV FABULA_DATA_DIR=/var/lib/fabula \
    FABULA_MEDIA_DIR=/var/lib/fabula/media \
    FABULA_MODEL_DIR=/var/lib/fabula/models \
    HF_HOME=/var/lib/fabula/models/hf

EXPOSE 8000
CMD ["fabula", "api", "--host", "0.0.0.0", "--port", "8000"]
