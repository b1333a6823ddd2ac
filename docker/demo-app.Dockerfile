# pier/demo-app: the statically linked pier-demo-app alone, so no base image (and no registry) is
# needed. scripts/images.sh stages the binary. It listens on $HOST:$PORT and names itself with
# PIER_INSTANCE, PIER_APP, PIER_HOST_ID (or --instance, --app, --host-id).
FROM scratch
# In PATH, so that an app spec's `command: [pier-demo-app, ...]` runs the same under both runtimes
# (the docker runtime treats `command` as the container's entrypoint and arguments).
COPY docker/stage/demo/pier-demo-app /usr/local/bin/pier-demo-app
ENV PATH=/usr/local/bin HOST=0.0.0.0 PORT=8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/pier-demo-app"]
