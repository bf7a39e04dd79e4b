#!/usr/bin/env bash
# Reproduces the numbers of docs/benchmarks.md. Needs Node.js with npm (the Cookbook baseline), and hyperfine and
# GNU time (apt-get install -y hyperfine time). Writes its data files to $BENCH_DIR (default /tmp/phi-bench).
# Run it on an otherwise idle machine: the numbers are wall-clock times.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_DIR:-/tmp/phi-bench}
mkdir -p "$out"

dotnet build -c Release src/StrawberryPhi.Cli >/dev/null
dotnet build -c Release bench/StrawberryPhi.Benchmarks >/dev/null
bench="dotnet bench/StrawberryPhi.Benchmarks/bin/Release/net10.0/StrawberryPhi.Benchmarks.dll"
phi=$PWD/src/StrawberryPhi.Cli/bin/Release/net10.0/phi
(cd bench/cookbook-node && npm ci --no-audit --no-fund >/dev/null)

echo "## machine"; nproc; grep -m1 "model name" /proc/cpuinfo; free -g | sed -n 2p; dotnet --version; node --version
[ -f "$out/chat-50mb.jsonl" ] || $bench generate "$out/chat-50mb.jsonl" 50 42
[ -f "$out/chat-1gb.jsonl" ] || $bench generate "$out/chat-1gb.jsonl" 1024 7

echo "## 50 MB: the Cookbook's logic in Node (tiktoken) vs phi validate, end to end"
hyperfine --warmup 1 --runs 3 "node bench/cookbook-node/cookbook.mjs $out/chat-50mb.jsonl o200k_base"
hyperfine --warmup 1 --runs 10 "$phi validate $out/chat-50mb.jsonl --format json" "$phi validate $out/chat-50mb.jsonl --format json --threads 1"
echo "## start-up: a 12-line file"
head -12 "$out/chat-50mb.jsonl" > "$out/chat-12.jsonl"
hyperfine --warmup 1 --runs 10 "$phi validate $out/chat-12.jsonl --format json"

echo "## in process, warm: tokenizer alone vs the whole validation, by thread count"
$bench tokenizer "$out/chat-50mb.jsonl" 2 3
$bench validate "$out/chat-50mb.jsonl" 2 3

echo "## memory"
/usr/bin/time -f "node cookbook 50 MB: %e s, peak RSS %M KB" node bench/cookbook-node/cookbook.mjs "$out/chat-50mb.jsonl" >/dev/null
/usr/bin/time -f "phi validate 50 MB: %e s, peak RSS %M KB" "$phi" validate "$out/chat-50mb.jsonl" --format json >/dev/null
/usr/bin/time -f "phi validate 1 GB: %e s, peak RSS %M KB" "$phi" validate "$out/chat-1gb.jsonl" --format json >"$out/1gb.json" || true
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('1 GB:', r['examples'], 'examples,', r['tokens']['total'], 'tokens')" "$out/1gb.json" 2>/dev/null || true

echo "## the studio's preview (docs/benchmarks.md, issue 4)"
[ -f "$out/chat-500mb.jsonl" ] || $bench generate "$out/chat-500mb.jsonl" 500 11
$bench preview "$out/chat-500mb.jsonl" zebra assistant
dotnet build -c Release src/StrawberryPhi.Web >/dev/null
data=$(mktemp -d)
(cd src/StrawberryPhi.Web/bin/Release/net10.0 && DataDirectory=$data ASPNETCORE_ENVIRONMENT=Production exec dotnet StrawberryPhi.Web.dll --urls http://127.0.0.1:5181) >"$data.log" 2>&1 &
studio=$!
trap 'kill $studio 2>/dev/null || true' EXIT
until curl -sf -o /dev/null http://127.0.0.1:5181/api/settings; do sleep 0.5; done
/usr/bin/time -f "upload 500 MB: %e s" curl -s -o "$data.up" -F file=@"$out/chat-500mb.jsonl" http://127.0.0.1:5181/api/datasets
id=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['id'])" "$data.up")
# Wait on the studio's own log line: polling the API while it validates would take CPU from the validation.
until grep -q "Validated dataset" "$data.log"; do sleep 1; done
grep -o "Validated dataset.*" "$data.log"
for page in 0 0 3000 7000; do curl -s -o /dev/null -w "examples page $page: %{time_total} s, %{size_download} bytes\n" "http://127.0.0.1:5181/api/datasets/$id/examples?page=$page&pageSize=20"; done
for i in 1 2; do curl -s -o /dev/null -w "search zebra: %{time_total} s\n" "http://127.0.0.1:5181/api/datasets/$id/examples?search=zebra"; done
grep VmHWM /proc/$(pgrep -f "StrawberryPhi.Web.dll --urls http://127.0.0.1:5181" | head -1)/status || true

echo "## jobs (issue 9): the list at 10,000 jobs, a job page with 10,000 metric points, a stored change to an open page"
command -v chromium >/dev/null || { echo "bench jobs needs Chromium: apt-get install -y chromium"; exit 1; }
$bench jobs 10000 10000 40

echo "## engine chat and gateway (issue 10): the key-value cache and batched decoding; what /api/v1 adds"
$bench engine-chat strawberry-small 32 4 128
$bench gateway 300

echo "## bundle (issue 11): export and import of 100 MB of datasets and 200,204 rows"
$bench bundle 4 25 200 500
