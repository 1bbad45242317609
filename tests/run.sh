#!/usr/bin/env bash
# Every test Batchbook has, from a fresh machine: installs what the tests
# need, then runs them. README.md and .ci/run call exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# A clean clone gains nothing from incremental caches; they only cost disk.
export CARGO_INCREMENTAL=0

echo "== tools"
cargo --version
rustup component add rustfmt clippy >/dev/null 2>&1 || true
# moto (local DynamoDB, SQS, S3 for the AWS adapter tests), the SAM CLI,
# cfn-lint (template checks) and Schemathesis (the API against its document). Versions are pinned in tests/requirements.txt.
python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
# Debian's Chromium and ChromeDriver, and axe-core from npm (pinned in
# tests/browser/package-lock.json), for the patient pages' browser tests;
# with them here, those tests must run (tests/api/browser.rs).
debian=()
command -v chromium >/dev/null || debian+=(chromium)
command -v chromedriver >/dev/null || debian+=(chromium-driver)
command -v npm >/dev/null || debian+=(nodejs npm)
command -v curl >/dev/null || debian+=(curl)
if [ ${#debian[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${debian[@]}" >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq "${debian[@]}" >/dev/null; }
fi
(cd tests/browser && npm ci --silent --no-audit --no-fund)
export BATCHBOOK_BROWSER_TESTS=required

echo "== formatting"
cargo fmt --all -- --check

echo "== template"
AWS_DEFAULT_REGION=eu-west-2 SAM_CLI_TELEMETRY=0 sam validate --lint --template template.yaml
cfn-lint template.yaml

echo "== lints"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== tests"
cargo test --workspace

echo "== the API against its OpenAPI document (report in target/schemathesis)"
cargo build --bin batchbook --quiet
bash tests/schemathesis/run.sh target/debug/batchbook
