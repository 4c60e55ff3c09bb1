#!/usr/bin/env bash
# Run a `tfpretrain` command on the workers of a TPU VM, detached (tmux, else nohup), with a log per worker.
set -euo pipefail
PROG=tpu/launch.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<'EOF'
Usage: tpu/launch.sh --tpu NAME --zone ZONE [--project PROJECT] [--worker all|N] [--single-client]
                     [--session NAME] [--mode tmux|nohup|foreground] [--env KEY=VALUE]...
                     [--venv ~/tfpretrain-venv] [--workdir ~/tfpretrain] [--log-dir ~/tfpretrain-logs]
                     [--dry-run] -- SUBCOMMAND [ARGS...]

Run `tfpretrain SUBCOMMAND ARGS...` on the TPU VM's workers over `gcloud compute tpus tpu-vm ssh --worker=all`,
from --workdir (where tpu/setup.sh put the code, so configs/... paths work), with --venv's tfpretrain. Arguments
reach tfpretrain exactly as given here: spaces, quotes and `key=value` overrides are quoted for every shell on the
way (ssh, tmux). The job runs detached in a tmux session (nohup when tmux is missing) and survives the ssh
connection; its output goes to LOG_DIR/SESSION.log on each worker.

Example:
  tpu/launch.sh --tpu my-v4-8 --zone us-central2-b -- pretrain --config configs/pretrain/bert_base_tpu.yaml \
      --out gs://BUCKET/runs/bert_base data.train=gs://BUCKET/prepared/bert_wordpiece

  --tpu NAME          the TPU VM (--name NAME is accepted too)
  --zone ZONE         its zone
  --project PROJECT   Google Cloud project (default: gcloud's configured project)
  --worker all|N      which workers run the command (default: all)
  --single-client     TensorFlow's TPUStrategy drives a whole multi-host pod slice from ONE client process: run
                      on worker 0 only, with TPU_NAME=NAME and TPU_LOAD_LIBRARY=0 so the strategy resolves the
                      slice by name (the runtime must serve TensorFlow on every host: a tpu-vm-tf-*-pod-pjrt
                      image). Use `trainer.strategy=tpu` (or auto). Not needed on a single-host TPU VM.
  --session NAME      tmux session and log name (default: tfpretrain)
  --mode MODE         tmux (default; falls back to nohup where tmux is missing), nohup, or foreground (stream
                      the output here and wait; the exit status is the command's)
  --env KEY=VALUE     export KEY=VALUE for the command (repeatable), e.g. --env TPU_STDERR_LOG_LEVEL=0
  --venv PATH         virtualenv on the VM (default: ~/tfpretrain-venv)
  --workdir PATH      directory to run in (default: ~/tfpretrain)
  --log-dir PATH      log directory on each worker (default: ~/tfpretrain-logs)
  --dry-run           print the gcloud command (shell-quoted, one line) instead of running it

Preemption (spot VMs): SIGTERM makes `pretrain` save a checkpoint and stop; relaunch the same command with
`--resume` added once the VM is back.
EOF
}

TPU="" ZONE="" WORKER="" SINGLE=0 SESSION=tfpretrain MODE=tmux
# shellcheck disable=SC2088  # "~" is resolved on the VM (remote_path)
VENV="~/tfpretrain-venv" WORKDIR="~/tfpretrain" LOG_DIR="~/tfpretrain-logs"
ENVS=(PYTHONUNBUFFERED=1 TF_USE_LEGACY_KERAS=1)
while (($#)); do
    case $1 in
        -h | --help) show_help ;;
        --tpu | --tpu=* | --name | --name=*) take "$@"; TPU=$REPLY; shift "$SHIFT" ;;
        --zone | --zone=*) take "$@"; ZONE=$REPLY; shift "$SHIFT" ;;
        --project | --project=*) take "$@"; PROJECT=$REPLY; shift "$SHIFT" ;;
        --worker | --worker=*) take "$@"; WORKER=$REPLY; shift "$SHIFT" ;;
        --single-client) SINGLE=1; shift ;;
        --session | --session=*) take "$@"; SESSION=$REPLY; shift "$SHIFT" ;;
        --mode | --mode=*) take "$@"; MODE=$REPLY; shift "$SHIFT" ;;
        --env | --env=*) take "$@"; ENVS+=("$REPLY"); shift "$SHIFT" ;;
        --venv | --venv=*) take "$@"; VENV=$REPLY; shift "$SHIFT" ;;
        --workdir | --workdir=*) take "$@"; WORKDIR=$REPLY; shift "$SHIFT" ;;
        --log-dir | --log-dir=*) take "$@"; LOG_DIR=$REPLY; shift "$SHIFT" ;;
        --dry-run) DRY_RUN=1; shift ;;
        --) shift; break ;;
        *) die "unknown argument '$1' (the tfpretrain command goes after --)" ;;
    esac
done
ARGS=("$@")

check_required --tpu "$TPU"
check_required --zone "$ZONE"
check_tpu_name "$TPU"
check_zone "$ZONE"
check_project "$PROJECT"
((${#ARGS[@]})) || die "missing the tfpretrain command after -- (e.g. -- pretrain --config C --out RUN)"
[[ ${ARGS[0]} =~ ^[a-z][a-z0-9_-]*$ ]] ||
    die "'${ARGS[0]}' is not a tfpretrain subcommand (e.g. prepare, pretrain, finetune, evaluate, export, generate)"
if ((SINGLE)); then
    [[ -z $WORKER || $WORKER == 0 ]] || die "--single-client runs on worker 0 only; drop --worker $WORKER"
    WORKER=0
    ENVS+=("TPU_NAME=$TPU" TPU_LOAD_LIBRARY=0)
fi
WORKER=${WORKER:-all}
check_worker "$WORKER"
[[ $SESSION =~ ^[A-Za-z0-9_-]+$ ]] || die "--session '$SESSION' must be letters, digits, '_' or '-'"
[[ $MODE == tmux || $MODE == nohup || $MODE == foreground ]] ||
    die "--mode '$MODE' must be tmux, nohup or foreground"
[[ -n $VENV && -n $WORKDIR && -n $LOG_DIR ]] || die "--venv, --workdir and --log-dir must not be empty"
for kv in "${ENVS[@]}"; do
    [[ $kv =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env '$kv' must be KEY=VALUE"
done

REMOTE_LOG_DIR=$(remote_path "$LOG_DIR")
LOG="$REMOTE_LOG_DIR/$SESSION.log"
SCRIPT="$REMOTE_LOG_DIR/$SESSION.sh"
# shellcheck disable=SC2016  # expanded on the VM
STAMP='[tpu/launch.sh] $(date -u +%Y-%m-%dT%H:%M:%SZ) $(hostname)'

# The job, written to LOG_DIR/SESSION.sh on each worker (a record of what ran; bash's xtrace logs the exact
# command line), then started detached with its output appended to LOG_DIR/SESSION.log.
LINES=(
    "#!/usr/bin/env bash"
    "# written by tpu/launch.sh; output: $LOG_DIR/$SESSION.log"
    "echo \"$STAMP: starting session $SESSION\""
    "cd $(remote_path "$WORKDIR") || exit 1"
    "export $(quote "${ENVS[@]}")"
    "set -x"
    "$(remote_path "$VENV")/bin/tfpretrain $(quote "${ARGS[@]}")"
    "rc=\$?"
    "{ set +x; } 2>/dev/null"
    "echo \"$STAMP: exit status \$rc\""
    "exit \$rc"
)
# Written beside, then renamed: a job still running from an earlier launch keeps reading its own file.
WRITE="printf '%s\\n' $(quote "${LINES[@]}") > $SCRIPT.tmp && mv -f $SCRIPT.tmp $SCRIPT"
# shellcheck disable=SC2016  # expanded on the VM
HOST='"$(hostname)"'
if [[ $MODE == foreground ]]; then
    # Shown here as well as logged; the ssh exit status is the job's.
    START="bash $SCRIPT 2>&1 | tee -a $LOG; exit \"\${PIPESTATUS[0]}\""
else
    NOHUP="(nohup bash $SCRIPT >> $LOG 2>&1 < /dev/null &)"
    TMUX="tmux new-session -d -s $SESSION -c $REMOTE_LOG_DIR $(quote "bash $SESSION.sh >> $SESSION.log 2>&1")"
    case $MODE in
        tmux) START="if command -v tmux > /dev/null 2>&1; then $TMUX; else $NOHUP; fi" ;;
        nohup) START=$NOHUP ;;
    esac
    START+="; printf '%s: started %s (%s), log: %s\\n' $HOST $SESSION $MODE $LOG"
fi
# A job of the same session still running (tmux) is never replaced.
BUSY="if command -v tmux > /dev/null 2>&1 && tmux has-session -t =$SESSION 2> /dev/null; then printf '%s: tmux session %s is still running (log: %s); choose another --session\\n' $HOST $SESSION $LOG >&2; exit 1; fi"
REMOTE="set -eu; mkdir -p $REMOTE_LOG_DIR; $BUSY; $WRITE; $START"

if ((DRY_RUN)); then
    printf '# job script written to %s on each worker:\n' "$LOG_DIR/$SESSION.sh" >&2
    printf '#   %s\n' "${LINES[@]}" >&2
fi
set_gcloud_flags
run gcloud compute tpus tpu-vm ssh "$TPU" "${GFLAGS[@]}" "--worker=$WORKER" "--command=$REMOTE"

if ((!DRY_RUN)) && [[ $MODE != foreground ]]; then
    FIRST=${WORKER%%[,-]*}
    if [[ $FIRST == all ]]; then
        FIRST=0
    fi
    cat >&2 <<EOF
Follow worker $FIRST's log:
  gcloud compute tpus tpu-vm ssh $TPU ${GFLAGS[*]} --worker=$FIRST --command='tail -f $LOG_DIR/$SESSION.log'
Attach to the session: gcloud compute tpus tpu-vm ssh $TPU ${GFLAGS[*]} --worker=$FIRST -- -t tmux attach -t $SESSION
EOF
fi
