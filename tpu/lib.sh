# Shared helpers for tpu/*.sh. Sourced, never run: `source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`.
# shellcheck shell=bash disable=SC2034  # variables set here are used by the scripts that source it
#
# Conventions of every script here:
#   * options as `--flag value` or `--flag=value`; a missing or malformed one is a usage error (exit 2);
#   * --dry-run prints every command, one per line, shell-quoted (the quoting of Python's shlex.quote, so
#     `shlex.split(line)` gives the exact argv back), and runs nothing;
#   * without --dry-run each command is echoed to stderr with a "+ " prefix, then run.

DRY_RUN=0
PROJECT=""

# Print usage (the script defines usage()) to stdout and exit 0.
show_help() {
    usage
    exit 0
}

# A usage error: message, pointer to --help, exit 2.
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    printf "Run '%s --help' for usage.\n" "$PROG" >&2
    exit 2
}

# Shell-quote each argument (like Python's shlex.quote) and join them with spaces; no trailing newline.
quote() {
    local arg out=()
    for arg in "$@"; do
        if [[ -n $arg && $arg =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
            out+=("$arg")
        else
            out+=("'${arg//\'/\'\\\'\'}'")
        fi
    done
    printf '%s' "${out[*]}"
}

# Run a command, or only print it under --dry-run.
run() {
    if ((DRY_RUN)); then
        printf '%s\n' "$(quote "$@")"
    else
        printf '+ %s\n' "$(quote "$@")" >&2
        "$@"
    fi
}

# Parse the value of an option given as "--opt=value" or "--opt value": sets REPLY and SHIFT (1 or 2).
take() {
    local opt=${1%%=*}
    if [[ $1 == *=* ]]; then
        REPLY=${1#*=}
        SHIFT=1
    elif (($# >= 2)) && [[ $2 != --* ]]; then
        REPLY=$2
        SHIFT=2
    else
        die "option $opt needs a value"
    fi
}

# Validators: each dies with a message naming the option.
check_required() { # NAME VALUE
    [[ -n $2 ]] || die "missing required option $1"
}

check_tpu_name() { # Cloud TPU names: lowercase letters, digits and hyphens, starting with a letter
    [[ $1 =~ ^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$ ]] ||
        die "--tpu/--name '$1' is not a valid TPU name (lowercase letters, digits, hyphens; starts with a letter)"
}

check_zone() { # e.g. us-central2-b, europe-west4-a
    [[ $1 =~ ^[a-z]+(-[a-z]+[0-9]+)+-[a-z]$ ]] || die "--zone '$1' does not look like a zone (e.g. us-central2-b)"
}

check_project() {
    [[ -z $1 || $1 =~ ^[a-z][-a-z0-9.:]*[a-z0-9]$ ]] || die "--project '$1' is not a valid project id"
}

check_worker() { # all, N, a range N-M, or a comma-separated list of those (gcloud's --worker)
    [[ $1 == all || $1 =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] ||
        die "--worker '$1' must be 'all', a worker index, a range or a list (e.g. 0, 1-3, 0,2)"
}

# GFLAGS: the flags every gcloud call gets: --zone, and --project when given (else gcloud's configured project).
set_gcloud_flags() {
    GFLAGS=("--zone=$ZONE")
    if [[ -n $PROJECT ]]; then
        GFLAGS+=("--project=$PROJECT")
    fi
}

# A path on the TPU VM as a remote shell word: "~/x" and relative paths live under the remote $HOME (ssh
# commands start there, but the scripts cd around), absolute paths stay as they are.
# shellcheck disable=SC2016  # "$HOME" is expanded by the remote shell, not here
remote_path() {
    local path=$1
    # shellcheck disable=SC2088  # a literal "~" from the command line, resolved on the VM
    case $path in
        "~") printf '"$HOME"' ;;
        "~/"*) printf '"$HOME"/%s' "$(quote "${path#"~/"}")" ;;
        /*) quote "$path" ;;
        *) printf '"$HOME"/%s' "$(quote "$path")" ;;
    esac
}
