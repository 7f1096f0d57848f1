# Parlour image. Build: docker build -t parlour .   (add --build-arg WITH_LOCAL=0 to skip llama.cpp)
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY scripts/copy_vendor.py scripts/
COPY src/parlour/web/static src/parlour/web/static
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 >/dev/null \
    && python3 scripts/copy_vendor.py

FROM python:3.11-slim-bookworm
ARG WITH_LOCAL=1
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CMAKE_ARGS="-DGGML_NATIVE=OFF" \
    HOST=0.0.0.0 PORT=8000 DATA_DIR=/data AUTH_MODE=password
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends build-essential cmake \
    >/dev/null && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY src src
COPY --from=assets /src/src/parlour/web/static/vendor src/parlour/web/static/vendor
RUN if [ "$WITH_LOCAL" = 1 ]; then extra="[local]"; else extra=""; fi \
    && pip install --no-cache-dir -c constraints.txt ".$extra" \
    && useradd --system --home /data parlour && mkdir -p /data && chown parlour /data
USER parlour
VOLUME /data
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz')" || exit 1
# With accounts on (AUTH_MODE=password), start it with a SECRET_KEY:
#   docker run -e SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))') ...
CMD ["parlour", "serve"]
