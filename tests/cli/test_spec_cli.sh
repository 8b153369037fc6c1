#!/usr/bin/env bash
# `attune tune FILE.toml --check`: the three example specs validate with their space sizes and
# argument sizes, --set overrides a problem size (and the restrictions that read it), and
# malformed specs exit 2 with a message naming the file, line and key.
set -u
attune="$1"
examples="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
source "$(dirname "$0")/lib.sh"

# The examples, with space sizes counted by hand. SGEMM at 512^3: every tile divides 512, so the
# problem restrictions rule nothing out. (MWG, MDIMC, VWM) with MWG % (MDIMC * VWM) == 0: 3 for
# MWG = 16, 6 for 32, 9 for 64, 18 in all; the same 18 for n; (KWG, KWI) 4; STRM, STRN, SA, SB
# 16: 18 * 18 * 4 * 16 = 20736 of 3*3*2*3*3*2*4*4*2*2*2*2 = 82944.
expect 0 "space +20736 valid configurations of 82944" -- tune "$examples/opencl_sgemm.toml" --check
expect 0 "c +float32 buffer, 262144 elements \(1 MiB\), output" -- \
  tune "$examples/opencl_sgemm.toml" --check
expect 0 "launch +global 256 x 256, local 8 x 8" -- tune "$examples/opencl_sgemm.toml" --check
# Convolution: 4 * 5 block shapes less 128 x 16 (over 1024 work-items), 3 * 3 tiles, 3 of the 4
# (use_local, use_padding) pairs: 19 * 9 * 3 = 513 of 4 * 5 * 3 * 3 * 2 * 2 = 720.
expect 0 "space +513 valid configurations of 720" -- tune "$examples/opencl_conv2d.toml" --check
expect 0 "input +float32 buffer, 1077444 elements" -- tune "$examples/opencl_conv2d.toml" --check
expect 0 "space +384 valid configurations of 384" -- tune "$examples/cpp_stencil.toml" --check
expect 0 "worker memory limit 2 GiB" -- tune "$examples/cpp_stencil.toml" --check

# --set: m = 48 leaves MWG = 16 only (48 is not a multiple of 32 or 64): 3 * 18 * 4 * 16 = 3456.
expect 0 "problem +m=48 n=512 k=512" -- tune "$examples/opencl_sgemm.toml" --check --set m=48
expect 0 "space +3456 valid configurations of 82944" -- \
  tune "$examples/opencl_sgemm.toml" --check --set m=48
expect 0 "a +float32 buffer, 24576 elements" -- tune "$examples/opencl_sgemm.toml" --check --set m=48
# nx = 200 leaves block_x = 64 only: 1 * 4 * 3 * 4 * 2 = 96.
expect 0 "space +96 valid configurations of 384" -- \
  tune "$examples/cpp_stencil.toml" --check --set nx=200
expect 2 "no problem size named .q.; its sizes are: m, n, k" -- \
  tune "$examples/opencl_sgemm.toml" --check --set q=4
expect 2 "expected NAME=INTEGER" -- tune "$examples/opencl_sgemm.toml" --check --set m=big
# No tile divides 40: an empty space is an error of the spec's problem, not a silent success.
expect 2 "no configuration of the 82944 satisfies every restriction" -- \
  tune "$examples/opencl_sgemm.toml" --check --set m=40
expect 2 "neither a spec file" -- tune "$tmp/kernel.txt" --check
expect 2 "spec file .*missing.toml not found" -- tune "$tmp/missing.toml" --check

# Malformed specs, each next to a kernel source so that only the planted mistake is wrong.
echo '__kernel void k(__global float* out) { out[0] = 1.0f; }' >"$tmp/k.cl"
head='[kernel]
source = "k.cl"
entry = "k"
backend = "opencl"
[params]
B = [1, 2]'
args='[[arguments]]
name = "out"
type = "float32"
size = "B * 4"
output = true'
launch='[launch]
global = ["B"]'
# Lines: 1-6 head, then whatever a case inserts, then the argument (5 lines) and the launch.

printf '%s\n' "$head" "$args" "init = { random = { seed = 1, hgih = 2 } }" "$launch" >"$tmp/typo.toml"
expect 2 "typo.toml:12: key .arguments.out.init.random.hgih.: unknown key \(did you mean .high.\?\)" -- \
  tune "$tmp/typo.toml" --check

printf '%s\n' "$head" "C = []" "$args" "$launch" >"$tmp/empty.toml"
expect 2 "empty.toml:7: key .params.C.: empty value list" -- tune "$tmp/empty.toml" --check

printf '%s\n' "$head" "$args" "$launch" | sed 's/size = "B \* 4"/size = "B * W"/' >"$tmp/size.toml"
expect 2 "size.toml:10: key .arguments.out.size.: .*unknown name 'W'" -- tune "$tmp/size.toml" --check

printf '%s\n' "$head" "$args" "$launch" | sed 's/type = "float32"/type = "half"/' >"$tmp/type.toml"
expect 2 "type.toml:9: key .arguments.out.type.: unknown element type \"half\"; expected one of" -- \
  tune "$tmp/type.toml" --check

printf '%s\n' "$head" "$args" >"$tmp/nolaunch.toml"
expect 2 "nolaunch.toml:4: key .launch.: missing" -- tune "$tmp/nolaunch.toml" --check

printf '%s\n' "$head" "restrictions = [\"B < \"]" "$args" "$launch" >"$tmp/syntax.toml"
expect 2 "syntax.toml:7: key .params.restrictions\[0\].: " -- tune "$tmp/syntax.toml" --check

printf '%s\n' "$head" "B = [3]" "$args" "$launch" >"$tmp/toml.toml"
expect 2 "toml.toml:7:[0-9]+: TOML syntax error" -- tune "$tmp/toml.toml" --check

printf '%s\n' "$head" "$args" "$launch" | sed 's/k.cl/gone.cl/' >"$tmp/source.toml"
expect 2 "source.toml:2: key .kernel.source.: source file \"gone.cl\" not found" -- \
  tune "$tmp/source.toml" --check

# The built-in form still works next to the spec form.
expect 0 "Tune the built-in SGEMM" -- tune gemm --help

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all spec CLI checks passed"
