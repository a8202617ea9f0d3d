#!/usr/bin/env bash
# ElasticMQ, an SQS-compatible server (JVM), for the tests of `diffc trigger sqs`: resolved from
# Maven Central with `mvn dependency:copy-dependencies` (there is no single-jar download on a
# package registry; the server's jar and its dependencies are ordinary Maven artifacts).
#
#   infra/elasticmq.sh fetch        resolve into the cache (skipped when already there)
#   infra/elasticmq.sh classpath    print the Java classpath (fetches first if needed)
#   infra/elasticmq.sh version      print the pinned version
#
# Jars go to ${DIFFC_CACHE:-$HOME/.cache/diffc}/elasticmq/<version>/lib, plus a `.complete`
# stamp written last, so an interrupted fetch is redone rather than used. Maven's own downloads
# are cached in its local repository (~/.m2, or $DIFFC_MAVEN_REPO). Needs Java 17+ and Maven 3.6+.
# Run it with: java -cp "$(infra/elasticmq.sh classpath)" -Dconfig.file=F org.elasticmq.server.Main
set -euo pipefail

# 1.7.1 is the latest org.elasticmq:elasticmq-server_2.13 on Maven Central (2026-10) and runs on Java 17.
ELASTICMQ_VERSION="${DIFFC_ELASTICMQ_VERSION:-1.7.1}"
# Pinned so the resolution does not change under us when Maven's default plugin version does.
DEPENDENCY_PLUGIN_VERSION="3.8.1"
CACHE="${DIFFC_CACHE:-$HOME/.cache/diffc}"
DIR="$CACHE/elasticmq/$ELASTICMQ_VERSION"
LIB="$DIR/lib"

die() { echo "elasticmq: $*" >&2; exit 1; }
log() { echo "elasticmq: $*" >&2; }

fetch() {
  if [[ -f "$DIR/.complete" ]]; then
    log "elasticmq $ELASTICMQ_VERSION already fetched: $LIB"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "Maven is not installed (need mvn 3.6+ on PATH)"
  command -v java >/dev/null 2>&1 || die "Java is not installed (need java 17+ on PATH)"
  local start=$SECONDS work
  mkdir -p "$CACHE/elasticmq"
  work="$(mktemp -d "$CACHE/elasticmq/.fetch-$ELASTICMQ_VERSION.XXXXXX")"
  # A throwaway project whose only dependency is the server; copy-dependencies puts its runtime
  # closure in one folder.
  cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>diffc.infra</groupId>
  <artifactId>elasticmq-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.elasticmq</groupId>
      <artifactId>elasticmq-server_2.13</artifactId>
      <version>$ELASTICMQ_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  log "resolving org.elasticmq:elasticmq-server_2.13:$ELASTICMQ_VERSION from Maven Central ..."
  local repo=()
  [[ -n "${DIFFC_MAVEN_REPO:-}" ]] && repo=("-Dmaven.repo.local=$DIFFC_MAVEN_REPO")
  if ! mvn -B -q -f "$work/pom.xml" "${repo[@]}" \
      "org.apache.maven.plugins:maven-dependency-plugin:$DEPENDENCY_PLUGIN_VERSION:copy-dependencies" \
      -DincludeScope=runtime -DoutputDirectory="$work/lib" >"$work/mvn.log" 2>&1; then
    tail -n 30 "$work/mvn.log" >&2
    rm -rf "$work"
    die "mvn could not resolve elasticmq-server $ELASTICMQ_VERSION (is Maven Central reachable?)"
  fi
  ls "$work/lib"/elasticmq-server_2.13-"$ELASTICMQ_VERSION".jar >/dev/null 2>&1 || { rm -rf "$work"; die "the server jar is missing after resolution"; }
  rm -rf "$DIR"
  mkdir -p "$DIR"
  mv "$work/lib" "$LIB"
  rm -rf "$work"
  date -u +%FT%TZ >"$DIR/.complete"
  log "fetched elasticmq $ELASTICMQ_VERSION ($(ls "$LIB" | wc -l) jars) in $((SECONDS - start)) s: $LIB"
}

case "${1:-fetch}" in
  fetch) fetch ;;
  classpath)
    [[ -f "$DIR/.complete" ]] || fetch
    # Every jar in lib/, ':'-separated (no jar name holds ':').
    printf '%s\n' "$LIB"/*.jar | paste -sd: - ;;
  version) echo "$ELASTICMQ_VERSION" ;;
  -h|--help) sed -n '2,/^set -/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
  *) die "unknown command '$1' (fetch, classpath or version)" ;;
esac
