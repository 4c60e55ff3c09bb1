#!/usr/bin/env bash
# Delete a Cloud TPU VM (and stop paying for it). See tpu/README.md.
set -euo pipefail
PROG=tpu/delete.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<'USAGE'
Usage: tpu/delete.sh --name NAME --zone ZONE [--project PROJECT] [--yes] [--async] [--dry-run]

Delete a TPU VM with `gcloud compute tpus tpu-vm delete`. Its boot disk and everything on it (logs, local runs) go
with it; data, checkpoints and TensorBoard logs written to gs:// stay (delete buckets separately: tpu/README.md).

  --name NAME        TPU name (--tpu NAME is accepted too)
  --zone ZONE        its zone
  --project PROJECT  Google Cloud project (default: gcloud's configured project)
  --yes              do not ask for confirmation (gcloud --quiet)
  --async            return without waiting for the deletion to finish
  --dry-run          print the gcloud command instead of running it
USAGE
}

NAME="" ZONE="" QUIET=0 ASYNC=0
while (($#)); do
    case $1 in
        -h | --help) show_help ;;
        --name | --name=* | --tpu | --tpu=*) take "$@"; NAME=$REPLY; shift "$SHIFT" ;;
        --zone | --zone=*) take "$@"; ZONE=$REPLY; shift "$SHIFT" ;;
        --project | --project=*) take "$@"; PROJECT=$REPLY; shift "$SHIFT" ;;
        --yes | -y) QUIET=1; shift ;;
        --async) ASYNC=1; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        *) die "unknown argument '$1'" ;;
    esac
done

check_required --name "$NAME"
check_required --zone "$ZONE"
check_tpu_name "$NAME"
check_zone "$ZONE"
check_project "$PROJECT"

set_gcloud_flags
CMD=(gcloud compute tpus tpu-vm delete "$NAME" "${GFLAGS[@]}")
if ((ASYNC)); then
    CMD+=(--async)
fi
if ((QUIET)); then
    CMD+=(--quiet)
fi
run "${CMD[@]}"
