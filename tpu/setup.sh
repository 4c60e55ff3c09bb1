#!/usr/bin/env bash
# Install tfpretrain (with the [tpu] extra: tensorflow-tpu 2.20 + libtpu) on every worker of a TPU VM.
set -euo pipefail
PROG=tpu/setup.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIBTPU_INDEX=https://storage.googleapis.com/libtpu-tf-releases/index.html
UV_INSTALLER=https://astral.sh/uv/install.sh

usage() {
    cat <<EOF
Usage: tpu/setup.sh --tpu NAME --zone ZONE [--project PROJECT] [--worker all|N] [--dry-run]
                    [--source DIR | --git URL [--ref REF] | --wheel FILE.whl | --package SPEC]
                    [--extras tpu] [--python 3.11] [--venv ~/tfpretrain-venv] [--workdir ~/tfpretrain]
                    [--find-links URL] [--exclude PATTERN]...

Put tfpretrain on every worker (host) of a TPU VM over \`gcloud compute tpus tpu-vm ssh --worker=all\`: a Python
virtualenv made with uv (installed on the VM if missing; it also fetches the Python version asked for), then
\`pip install '.[tpu]'\` there. Run it again after changing the code: it updates the copy and the install.

Where the code comes from (one of; default: --source with this repository):
  --source DIR     copy a local checkout: a tar.gz of DIR (without .git, virtualenvs, runs/, caches) is copied
                   to each worker with \`tpu-vm scp --worker=all\` and unpacked into --workdir
  --git URL        git clone URL into --workdir on each worker (then fetch + checkout --ref, default HEAD)
  --wheel FILE     copy a built wheel (python -m build) to each worker and install it
  --package SPEC   pip install SPEC as given, e.g. 'tfpretrain[tpu] @ git+https://HOST/ORG/tfpretrain@v0.1.0'
                   (--wheel and --package install no configs/: copy your YAML files next to the run)

  --tpu NAME          the TPU VM (--name NAME is accepted too)
  --zone ZONE         its zone
  --project PROJECT   Google Cloud project (default: gcloud's configured project)
  --worker all|N      which workers (default: all; every host of a pod slice needs the install)
  --extras LIST       pip extras (default: tpu; e.g. tpu,eval for TFMA evaluation on the VM too)
  --python VERSION    Python for the virtualenv (default: 3.11, which tfpretrain requires)
  --venv PATH         virtualenv on the VM (default: ~/tfpretrain-venv)
  --workdir PATH      checkout on the VM (default: ~/tfpretrain); tpu/launch.sh runs commands there
  --find-links URL    extra wheel index for libtpu (default: $LIBTPU_INDEX;
                      --find-links= for none)
  --exclude PATTERN   also leave PATTERN out of the --source archive (repeatable; e.g. --exclude=data)
  --dry-run           print the commands (one per line, shell-quoted) instead of running them
EOF
}

TPU="" ZONE="" WORKER=all MODE="" SOURCE="" REF="" EXTRAS=tpu PYVER=3.11
# shellcheck disable=SC2088  # "~" is resolved on the VM (remote_path)
VENV="~/tfpretrain-venv" WORKDIR="~/tfpretrain" FIND_LINKS=$LIBTPU_INDEX
EXCLUDES=(.git .venv '.venv-*' runs __pycache__ .pytest_cache .ruff_cache .hypothesis '*.egg-info' build dist)

set_mode() { # MODE VALUE
    [[ -z $MODE || $MODE == "$1" ]] || die "--$MODE and --$1 exclude each other: choose one source"
    MODE=$1
    SOURCE=$2
}

while (($#)); do
    case $1 in
        -h | --help) show_help ;;
        --tpu | --tpu=* | --name | --name=*) take "$@"; TPU=$REPLY; shift "$SHIFT" ;;
        --zone | --zone=*) take "$@"; ZONE=$REPLY; shift "$SHIFT" ;;
        --project | --project=*) take "$@"; PROJECT=$REPLY; shift "$SHIFT" ;;
        --worker | --worker=*) take "$@"; WORKER=$REPLY; shift "$SHIFT" ;;
        --source | --source=*) take "$@"; set_mode source "$REPLY"; shift "$SHIFT" ;;
        --git | --git=*) take "$@"; set_mode git "$REPLY"; shift "$SHIFT" ;;
        --wheel | --wheel=*) take "$@"; set_mode wheel "$REPLY"; shift "$SHIFT" ;;
        --package | --package=*) take "$@"; set_mode package "$REPLY"; shift "$SHIFT" ;;
        --ref | --ref=*) take "$@"; REF=$REPLY; shift "$SHIFT" ;;
        --extras | --extras=*) take "$@"; EXTRAS=$REPLY; shift "$SHIFT" ;;
        --python | --python=*) take "$@"; PYVER=$REPLY; shift "$SHIFT" ;;
        --venv | --venv=*) take "$@"; VENV=$REPLY; shift "$SHIFT" ;;
        --workdir | --workdir=*) take "$@"; WORKDIR=$REPLY; shift "$SHIFT" ;;
        --find-links=*) FIND_LINKS=${1#*=}; shift ;;
        --find-links) take "$@"; FIND_LINKS=$REPLY; shift "$SHIFT" ;;
        --exclude | --exclude=*) take "$@"; EXCLUDES+=("$REPLY"); shift "$SHIFT" ;;
        --dry-run) DRY_RUN=1; shift ;;
        *) die "unknown argument '$1'" ;;
    esac
done

check_required --tpu "$TPU"
check_required --zone "$ZONE"
check_tpu_name "$TPU"
check_zone "$ZONE"
check_project "$PROJECT"
check_worker "$WORKER"
if [[ -z $MODE ]]; then
    MODE=source
    SOURCE=$REPO_ROOT
fi
[[ -n $SOURCE ]] || die "--$MODE needs a non-empty value"
[[ -z $REF || $MODE == git ]] || die "--ref only applies to --git"
[[ $EXTRAS =~ ^[A-Za-z0-9_,-]*$ ]] || die "--extras '$EXTRAS' must be a comma-separated list of extras (e.g. tpu,eval)"
[[ $PYVER =~ ^3\.[0-9]+(\.[0-9]+)?$ ]] || die "--python '$PYVER' must be a Python version such as 3.11"
[[ -n $VENV && -n $WORKDIR ]] || die "--venv and --workdir must not be empty"
case $MODE in
    source)
        [[ -d $SOURCE && -f $SOURCE/setup.py ]] || die "--source '$SOURCE' is not a tfpretrain checkout (no setup.py)"
        SOURCE=$(cd "$SOURCE" && pwd)
        ;;
    wheel) [[ -f $SOURCE && $SOURCE == *.whl ]] || die "--wheel '$SOURCE' is not a .whl file" ;;
    git) [[ $SOURCE != -* ]] || die "--git '$SOURCE' is not a repository URL" ;;
esac

set_gcloud_flags
SSH=(gcloud compute tpus tpu-vm ssh "$TPU" "${GFLAGS[@]}" "--worker=$WORKER")
SCP=(gcloud compute tpus tpu-vm scp)
SCP_FLAGS=("${GFLAGS[@]}" "--worker=$WORKER")
REMOTE_VENV=$(remote_path "$VENV")
REMOTE_WORKDIR=$(remote_path "$WORKDIR")
WITH_EXTRAS=${EXTRAS:+[$EXTRAS]}

# The remote script, one line: each statement runs on every selected worker in its login shell (bash).
STEPS=("set -eu")
ARCHIVE="" REMOTE_ARCHIVE=.tfpretrain-src.tar.gz
case $MODE in
    source)
        ARCHIVE="${TMPDIR:-/tmp}/tfpretrain-$TPU-src.tar.gz"
        STEPS+=(
            "mkdir -p $REMOTE_WORKDIR"
            "tar -xzf \"\$HOME\"/$REMOTE_ARCHIVE -C $REMOTE_WORKDIR"
            "rm -f \"\$HOME\"/$REMOTE_ARCHIVE"
        )
        SPEC=".$WITH_EXTRAS"
        ;;
    git)
        STEPS+=(
            "if [ ! -d $REMOTE_WORKDIR/.git ]; then git clone --quiet $(quote "$SOURCE") $REMOTE_WORKDIR; fi"
            "git -C $REMOTE_WORKDIR fetch --quiet $(quote "$SOURCE") $(quote "${REF:-HEAD}")"
            "git -C $REMOTE_WORKDIR checkout --quiet --force FETCH_HEAD"
        )
        SPEC=".$WITH_EXTRAS"
        ;;
    wheel)
        WHEEL=$(basename "$SOURCE")
        STEPS+=("mkdir -p $REMOTE_WORKDIR")
        SPEC="tfpretrain$WITH_EXTRAS @ file://\$HOME/$WHEEL"
        ;;
    package)
        STEPS+=("mkdir -p $REMOTE_WORKDIR")
        SPEC=$SOURCE
        ;;
esac
if [[ $MODE == wheel ]]; then
    SPEC_WORD="\"$SPEC\"" # $HOME expands on the VM; a wheel's file name needs no quoting
    [[ $WHEEL =~ ^[A-Za-z0-9_.+-]+$ ]] || die "--wheel file name '$WHEEL' has unexpected characters"
else
    SPEC_WORD=$(quote "$SPEC")
fi
PIP=("\"\$UV\" pip install --python $REMOTE_VENV/bin/python")
if [[ -n $FIND_LINKS ]]; then
    PIP+=("--find-links $(quote "$FIND_LINKS")")
fi
STEPS+=(
    "if command -v uv >/dev/null 2>&1; then UV=uv; elif [ -x \"\$HOME\"/.local/bin/uv ]; then UV=\"\$HOME\"/.local/bin/uv; else curl -LsSf $UV_INSTALLER | env UV_INSTALL_DIR=\"\$HOME\"/.local/bin INSTALLER_NO_MODIFY_PATH=1 sh; UV=\"\$HOME\"/.local/bin/uv; fi"
    "if [ ! -x $REMOTE_VENV/bin/python ]; then \"\$UV\" venv --quiet --python $PYVER $REMOTE_VENV; fi"
    "cd $REMOTE_WORKDIR"
    "${PIP[*]} $SPEC_WORD"
    "$REMOTE_VENV/bin/tfpretrain --help >/dev/null"
    "printf '%s: tfpretrain installed in %s\\n' \"\$(hostname)\" $REMOTE_VENV"
)
REMOTE=""
for step in "${STEPS[@]}"; do
    REMOTE+="${REMOTE:+; }$step"
done

if [[ $MODE == source ]]; then
    TAR=(tar -czf "$ARCHIVE" -C "$SOURCE")
    for pattern in "${EXCLUDES[@]}"; do
        TAR+=("--exclude=$pattern")
    done
    if ((!DRY_RUN)); then
        trap 'rm -f "$ARCHIVE"' EXIT
    fi
    run "${TAR[@]}" .
    run "${SCP[@]}" "$ARCHIVE" "$TPU:$REMOTE_ARCHIVE" "${SCP_FLAGS[@]}"
elif [[ $MODE == wheel ]]; then
    run "${SCP[@]}" "$SOURCE" "$TPU:$WHEEL" "${SCP_FLAGS[@]}"
fi
run "${SSH[@]}" "--command=$REMOTE"
if [[ $MODE == source ]]; then
    run rm -f "$ARCHIVE"
fi
