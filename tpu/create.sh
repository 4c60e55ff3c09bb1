#!/usr/bin/env bash
# Create a Cloud TPU VM (single host or pod slice). See tpu/README.md.
set -euo pipefail
PROG=tpu/create.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<'EOF'
Usage: tpu/create.sh --name NAME --zone ZONE --accelerator-type TYPE [--version RUNTIME] [--project PROJECT]
                     [--spot | --preemptible] [--dry-run] [-- EXTRA_GCLOUD_FLAGS...]

Create a TPU VM with `gcloud compute tpus tpu-vm create`.

  --name NAME               TPU name (lowercase letters, digits, hyphens)
  --zone ZONE               e.g. us-central2-b (v4), us-west4-a (v5e), us-east5-a (v5p)
  --accelerator-type TYPE   e.g. v4-8 (one host), v4-32 (pod slice, 4 hosts), v5litepod-8, v5p-8, v6e-8
  --version RUNTIME         TPU software version. Default by TPU generation: tpu-ubuntu2204-base (v2-v4),
                            v2-alpha-tpuv5-lite (v5e), v2-alpha-tpuv5 (v5p), v2-alpha-tpuv6e (v6e); tpu/setup.sh
                            installs tensorflow-tpu 2.20 into its own virtualenv on these. TensorFlow runtime images
                            (e.g. tpu-vm-tf-2.20.0-pjrt, tpu-vm-tf-2.20.0-pod-pjrt for pod slices) work too: list
                            them with `gcloud compute tpus tpu-vm versions list --zone ZONE`.
  --project PROJECT         Google Cloud project (default: gcloud's configured project)
  --spot                    Spot VM: much cheaper, can be preempted at any time (train with checkpoints; relaunch
                            with `pretrain --resume`)
  --preemptible             the older preemptible flavour (24 h limit)
  --dry-run                 print the gcloud command instead of running it
  -- FLAGS...               anything after -- is passed to gcloud as it is (e.g. --network=NET --tags=T)
EOF
}

NAME="" ZONE="" TYPE="" VERSION="" CAPACITY=""
EXTRA=()
while (($#)); do
    case $1 in
        -h | --help) show_help ;;
        --name | --name=*) take "$@"; NAME=$REPLY; shift "$SHIFT" ;;
        --zone | --zone=*) take "$@"; ZONE=$REPLY; shift "$SHIFT" ;;
        --accelerator-type | --accelerator-type=*) take "$@"; TYPE=$REPLY; shift "$SHIFT" ;;
        --version | --version=*) take "$@"; VERSION=$REPLY; shift "$SHIFT" ;;
        --project | --project=*) take "$@"; PROJECT=$REPLY; shift "$SHIFT" ;;
        --spot | --preemptible)
            [[ -z $CAPACITY || $CAPACITY == "$1" ]] || die "--spot and --preemptible exclude each other"
            CAPACITY=$1
            shift
            ;;
        --dry-run) DRY_RUN=1; shift ;;
        --) shift; EXTRA=("$@"); break ;;
        *) die "unknown argument '$1'" ;;
    esac
done

check_required --name "$NAME"
check_required --zone "$ZONE"
check_required --accelerator-type "$TYPE"
check_tpu_name "$NAME"
check_zone "$ZONE"
check_project "$PROJECT"
[[ $TYPE =~ ^v[0-9]+[a-z]*-[0-9]+$ ]] ||
    die "--accelerator-type '$TYPE' does not look like a TPU type (e.g. v4-8, v5litepod-16, v5p-8, v6e-8)"

if [[ -z $VERSION ]]; then
    case ${TYPE%%-*} in
        v2 | v3 | v4) VERSION=tpu-ubuntu2204-base ;;
        v5litepod | v5e) VERSION=v2-alpha-tpuv5-lite ;;
        v5p) VERSION=v2-alpha-tpuv5 ;;
        v6e) VERSION=v2-alpha-tpuv6e ;;
        *) die "no default --version for accelerator type '$TYPE': pass --version" ;;
    esac
fi
[[ $VERSION =~ ^[a-z0-9][-a-z0-9.]*$ ]] || die "--version '$VERSION' is not a valid TPU software version"

set_gcloud_flags
CMD=(gcloud compute tpus tpu-vm create "$NAME" "${GFLAGS[@]}" "--accelerator-type=$TYPE" "--version=$VERSION")
if [[ -n $CAPACITY ]]; then
    CMD+=("$CAPACITY")
fi
run "${CMD[@]}" ${EXTRA[@]+"${EXTRA[@]}"}  # (bash 3.2, macOS: empty arrays under set -u)
