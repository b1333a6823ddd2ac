# pier/demo-app: the statically linked pier-demo-app alone, so no base image (and no registry) is
# needed. scripts/images.sh stages the binary. It listens on $HOST:$PORT and names itself with
# PIER_INSTANCE, PIER_APP, PIER_HOST_ID (or --instance, --app, --host-id).
FROM scratch
COPY docker/stage/demo/pier-demo-app /pier-demo-app
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
ENTRYPOINT ["/pier-demo-app"]
