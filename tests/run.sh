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
