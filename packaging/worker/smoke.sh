#!/usr/bin/env bash
# Smoke test of the shot worker under runpod's own SDK, without a GPU: a throwaway venv
# with runpod (which cannot share the desktop's venv: it needs boto3 >= 1.43, aioboto3
# pins 1.40), moto's S3 server for R2, the draft backend, and runpod's local API server
# (--rp_serve_api). Checks one good job (object uploaded, sha256 matches), the same job
# again (refused: the worker never overwrites) and one refused job.
# Usage: packaging/worker/smoke.sh   (from the repository root; needs PyPI)
set -euo pipefail
VENV=${SMOKE_VENV:-/tmp/storyreel-worker-smoke}
S3_PORT=${S3_PORT:-47123}
API_PORT=${API_PORT:-47200}

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet runpod boto3 pillow pydantic 'moto[server]'

"$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >/tmp/smoke-moto.log 2>&1 &
MOTO=$!
export STORYREEL_WORKER_BACKEND=draft R2_ENDPOINT_URL=http://127.0.0.1:$S3_PORT \
       R2_ACCESS_KEY_ID=test R2_SECRET_ACCESS_KEY=test R2_BUCKET=storyreel
"$VENV/bin/python" -m app.worker.handler --rp_serve_api --rp_api_host 127.0.0.1 \
  --rp_api_port "$API_PORT" >/tmp/smoke-worker.log 2>&1 &
WORKER=$!
trap 'kill $WORKER $MOTO 2>/dev/null || true' EXIT

"$VENV/bin/python" - "$S3_PORT" "$API_PORT" <<'PY'
import hashlib, json, sys, time, urllib.request
import boto3

s3_port, api_port = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}", region_name="auto",
                  aws_access_key_id="test", aws_secret_access_key="test")
for _ in range(100):
    try:
        s3.create_bucket(Bucket="storyreel", CreateBucketConfiguration={"LocationConstraint": "auto"})
        break
    except Exception:
        time.sleep(0.2)

def runsync(payload):
    for _ in range(100):
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{api_port}/runsync",
                                         data=json.dumps({"input": payload}).encode(),
                                         headers={"content-type": "application/json"})
            return json.load(urllib.request.urlopen(req, timeout=30))
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the worker's local API never answered")

key = "runs/smoke/shots/s01-01/1.png"
shot = {"task": "shot", "prompt": "wide shot, camera static. a harbour at dawn.",
        "width": 512, "height": 288, "seed": 3, "steps": 4, "guidance": 0.0,
        "output": {"bucket": "storyreel", "key": key}}
good = runsync(shot)
assert good["status"] == "COMPLETED", good
data = s3.get_object(Bucket="storyreel", Key=key)["Body"].read()
assert hashlib.sha256(data).hexdigest() == good["output"]["image"]["sha256"], good
again = runsync(shot)
assert again["status"] == "FAILED" and "already exists" in again["error"], again
assert s3.get_object(Bucket="storyreel", Key=key)["Body"].read() == data
bad = runsync({"task": "shot", "prompt": "", "width": 512, "height": 288, "seed": 3,
               "steps": 4, "guidance": 0.0, "output": {"bucket": "storyreel", "key": key}})
assert bad["status"] == "FAILED" and bad["error"].startswith("invalid shot input"), bad
print("worker smoke test: ok")
PY
