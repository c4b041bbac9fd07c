#!/usr/bin/env bash
# Create or update a RabbitMQ user, its vhost, permissions and tags on a running node, and
# the vhost's bounds on its queues.
#
# Usage: rabbitmq/setup-rabbitmq.sh [USER [PASSWORD [VHOST]]]
# Missing arguments come from RABBITMQ_USER, RABBITMQ_PASSWORD, RABBITMQ_VHOST, then
# from the defaults django / django / rabbit. The user gets the tag `management` and
# all permissions on that vhost. The policy `task-queue-bound` keeps at most
# SUBMISSIONS_MAX_QUEUED (10000) messages in each task queue of the vhost and refuses
# publishes past it (Celery's broadcast, reply and event queues left out); the policy
# `internal-queue-bound` keeps each of those to 1000 messages of at most 5 minutes and
# deletes it after 10 minutes unused. A policy, unlike a queue argument, changes on a
# queue that exists. Each step looks first and changes only what differs, so running the
# script again changes nothing. Needs rabbitmqctl and the node's
# Erlang cookie (root on a local install, or `docker compose exec rabbitmq ...`).
set -euo pipefail

if [[ $# -gt 3 || ${1:-} == -h || ${1:-} == --help ]]; then
    echo "usage: $0 [USER [PASSWORD [VHOST]]]" >&2
    exit 2
fi

user=${1:-${RABBITMQ_USER:-django}}
password=${2:-${RABBITMQ_PASSWORD:-django}}
vhost=${3:-${RABBITMQ_VHOST:-rabbit}}
tags=management
permission='.*'
max_queued=${SUBMISSIONS_MAX_QUEUED:-10000}
# Definitions with their keys in order, as list_policies prints them.
task_policy_definition="{\"max-length\":$max_queued,\"overflow\":\"reject-publish\"}"
internal_policy_definition='{"expires":600000,"max-length":1000,"message-ttl":300000}'

ctl() {
    rabbitmqctl --quiet "$@"
}

# Prints the lines of a listing without its header, one record a line, tab-separated.
listing() {
    rabbitmqctl --silent "$@"
}

if ! ctl await_startup --timeout 30 >/dev/null; then
    echo "setup-rabbitmq: RabbitMQ is not running or rabbitmqctl cannot reach it" >&2
    exit 1
fi

# Listings are read whole before grep looks at them: with pipefail, an early grep -q
# exit could kill rabbitmqctl with SIGPIPE and turn a match into a failure.
vhosts=$(listing list_vhosts name)
if grep -Fxq -- "$vhost" <<<"$vhosts"; then
    echo "vhost $vhost: exists"
else
    ctl add_vhost "$vhost" >/dev/null
    echo "vhost $vhost: created"
fi

users=$(listing list_users)
if awk -F'\t' -v name="$user" '$1 == name { found = 1 } END { exit !found }' <<<"$users"; then
    if ctl authenticate_user "$user" "$password" >/dev/null 2>&1; then
        echo "user $user: exists, password unchanged"
    else
        ctl change_password "$user" "$password" >/dev/null
        echo "user $user: password changed"
    fi
else
    ctl add_user "$user" "$password" >/dev/null
    echo "user $user: created"
fi

wanted_permissions=$(printf '%s\t%s\t%s\t%s' "$user" "$permission" "$permission" "$permission")
permissions=$(listing list_permissions -p "$vhost")
if grep -Fxq -- "$wanted_permissions" <<<"$permissions"; then
    echo "permissions of $user on $vhost: unchanged (configure, write, read: $permission)"
else
    ctl set_permissions -p "$vhost" "$user" "$permission" "$permission" "$permission" >/dev/null
    echo "permissions of $user on $vhost: set (configure, write, read: $permission)"
fi

users=$(listing list_users)
current_tags=$(awk -F'\t' -v name="$user" '$1 == name { print $2 }' <<<"$users")
if [[ $current_tags == "[$tags]" ]]; then
    echo "tags of $user: unchanged ($tags)"
else
    ctl set_user_tags "$user" "$tags" >/dev/null
    echo "tags of $user: set ($tags)"
fi

# Usage: ensure_policy NAME PATTERN DEFINITION DESCRIPTION
ensure_policy() {
    local name=$1 pattern=$2 definition=$3 description=$4 policies current
    # Columns: vhost, name, pattern, apply-to, definition, priority.
    policies=$(listing list_policies -p "$vhost")
    current=$(awk -F'\t' -v name="$name" '$2 == name { print $3 "\t" $4 "\t" $5 }' <<<"$policies")
    if [[ $current == "$(printf '%s\t%s\t%s' "$pattern" queues "$definition")" ]]; then
        echo "policy $name on $vhost: unchanged ($description)"
    else
        ctl set_policy -p "$vhost" --apply-to queues "$name" "$pattern" "$definition" >/dev/null
        echo "policy $name on $vhost: set ($description)"
    fi
}

ensure_policy task-queue-bound '^(?!celeryev\.)(?!.*\.pidbox$)' "$task_policy_definition" \
    "at most $max_queued messages a task queue"
ensure_policy internal-queue-bound '^celeryev\.|\.pidbox$' "$internal_policy_definition" \
    "at most 1000 messages an event, broadcast or reply queue"
