# Shared by the CLI test scripts. They set `attune` (the binary), `tmp` (a scratch directory) and
# `failures` (a counter) before sourcing this file.

expect() {  # expect CODE PATTERN -- ARGS...: exit code CODE and PATTERN in stdout+stderr
  local code="$1" pattern="$2"
  shift 3
  "$attune" "$@" >"$tmp/out" 2>&1
  local got=$?
  if [ "$got" -ne "$code" ] || ! grep -qE -- "$pattern" "$tmp/out"; then
    echo "FAIL: attune $* -> exit $got (want $code), output:"
    sed 's/^/  | /' "$tmp/out"
    failures=$((failures + 1))
  else
    echo "ok: attune $*"
  fi
}
