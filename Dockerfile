# rosetta-node as a sidecar: configured entirely by ROSETTA_NODE_* environment variables.
#   docker build -t rosetta-node .
#   docker run -p 8080:8080 -e ROSETTA_NODE_RPC_URL=http://geth:8545 -e ROSETTA_NODE_CHAIN_ID=1 \
#     -e ROSETTA_NODE_INDEX_DB=/data/index.sqlite -v rosetta-data:/data rosetta-node
# (or ROSETTA_NODE_INDEX_URL=postgresql://... for an index shared by replicas;
#  ROSETTA_NODE_API_KEYS=k1,k2 for the translator routes)

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rosetta_node ./rosetta_node
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir ".[postgres]"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /home/rosetta rosetta \
    && mkdir -p /data && chown rosetta /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
ENV ROSETTA_NODE_HOST=0.0.0.0
ENV ROSETTA_NODE_PORT=8080
ENV ROSETTA_NODE_LOG_FORMAT=json
VOLUME /data
USER rosetta
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=6s --start-period=20s --retries=3 \
    CMD ["python", "-m", "rosetta_node.healthcheck"]
ENTRYPOINT ["rosetta-node", "serve"]
