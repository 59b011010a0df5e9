# JupyterLab with sentence-mtl, the packaged model and everything preinstalled.
#   docker build -t sentence-mtl .
#   docker run -p 8888:8888 sentence-mtl          (the URL with its token is printed)
#   docker run -p 8888:8888 -e JUPYTER_TOKEN=choose-one sentence-mtl
# Dependencies have one source of truth: this image runs the same `make install` as a
# developer machine (requirements.txt), and starts JupyterLab with the same `make lab`.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 --shell /bin/bash jovyan \
    && install -d -o jovyan -g jovyan /home/jovyan/sentence-mtl

# Created above with jovyan as owner: the classic builder and buildah make a missing
# WORKDIR owned by root, and `make install` could not write .venv into it.
USER jovyan
WORKDIR /home/jovyan/sentence-mtl

# Installed first, so editing notebooks or data does not reinstall the dependencies.
COPY --chown=jovyan:jovyan Makefile requirements.txt pyproject.toml README.md ./
COPY --chown=jovyan:jovyan helpers/ helpers/
COPY --chown=jovyan:jovyan jupyter/ jupyter/
RUN make install

COPY --chown=jovyan:jovyan notebooks/ notebooks/
COPY --chown=jovyan:jovyan data/ data/
COPY --chown=jovyan:jovyan configs/ configs/
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
# The default trained model, built now (about a minute) into the user's cache, so that
# `docker run IMAGE sentence-mtl predict "..."` answers offline at once.
RUN .venv/bin/sentence-mtl predict --retrain "The striker scored twice."

# The command line too: docker run sentence-mtl sentence-mtl predict --model ... "A sentence."
ENV PATH=/home/jovyan/sentence-mtl/.venv/bin:$PATH
EXPOSE 8888
CMD ["make", "lab", "LAB_IP=0.0.0.0", "PORT=8888"]
