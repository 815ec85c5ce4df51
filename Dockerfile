# One image for the balancer and its replicas (different commands).
#   docker build -t ringlb .                   (or: docker compose build)
# Offline machines: `deno task docker:prepare` first fills .deno-dir with the npm packages, and
# tools/docker/local_base_image.sh builds denoland/deno locally; no download happens here then.
ARG DENO_VERSION=2.9.6
FROM denoland/deno:${DENO_VERSION}

WORKDIR /app
# npm packages fetched on the host (empty unless `deno task docker:prepare` ran).
COPY .deno-dir/ /deno-dir/
COPY deno.json deno.lock ./
COPY ring/ ring/
COPY contract/ contract/
COPY server/ server/
COPY balancer/ balancer/
# Fetches whatever .deno-dir did not bring (needs the npm registry then), so that the
# container never downloads at run time (--cached-only below).
RUN deno cache --frozen balancer/main.ts server/main.ts

EXPOSE 5000
# The balancer. Replicas run from this image with:
#   run --cached-only --allow-net --allow-env server/main.ts
# It talks to the Docker engine through the mounted socket, so it runs as root (the socket
# is root:docker 0660); replicas run as the unprivileged `deno` user.
ENV LB_PROVIDER=docker
CMD ["run", "--cached-only", "--allow-net", "--allow-env", "--allow-read", \
     "--allow-write=/var/run/docker.sock", "--allow-run", "balancer/main.ts"]
