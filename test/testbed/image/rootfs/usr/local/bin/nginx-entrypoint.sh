#!/bin/sh
# Stand-in for the frontend's nginx: one small HTTP handler per connection on 8080.
trap 'kill "$pid" 2>/dev/null; exit 0' TERM INT HUP
echo "frontend: stand-in $(cat /etc/standin/version) ($(cat /etc/standin/variant)) listening on 8080"
nc -ll -p 8080 -e /usr/local/bin/standin-http &
pid=$!
wait "$pid"
