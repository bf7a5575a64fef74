#!/bin/sh
# SPDX-License-Identifier: ISC
# The network goes away: the collector runs in its own network namespace,
# reached over a veth pair whose link is taken down (longer than every
# timeout) and up again while the agent ships. Every record stored once.
BUILD=$1
NAME=flink
. "$(dirname "$0")/lib.sh"

command -v ip >/dev/null || { echo "SKIP: no ip(8)"; exit 77; }
NETNS=ksf-$RUNID
va=kf${RUNID%????}a vb=kf${RUNID%????}b
net=$((16 + $(rand 200))).$(rand 250)
ip netns add "$NETNS" 2>/dev/null || { echo "SKIP: cannot create a network namespace"; exit 77; }
netns_cleanup() {
	cleanup
	ip link del "$va" 2>/dev/null
	ip netns del "$NETNS" 2>/dev/null
}
trap netns_cleanup EXIT
ip link add "$va" type veth peer name "$vb" || die "veth"
ip link set "$vb" netns "$NETNS" || die "veth into namespace"
ip addr add "10.$net.1/30" dev "$va" && ip link set "$va" up || die "address $va"
ip netns exec "$NETNS" sh -c "ip link set lo up && ip addr add 10.$net.2/30 dev $vb && ip link set $vb up" ||
	die "address $vb"
LISTEN_ADDR=10.$net.2 CONNECT_ADDR=10.$net.2

rounds=2 count=15000 rate=1000
[ "$LONG" = 1 ] && rounds=20 count=150000
fleet_setup 1
fleet_start_collector
agent_start 1
feed 1 "$count" "$rate"
for _ in $(seq "$rounds"); do
	sleep 1
	ip link set "$va" down || die "link down"
	sleep 6
	ip link set "$va" up || die "link up"
done
feeders_wait
fleet_verify "1:$count" 90
echo "sessions: $(grep -c 'resuming at' "$T/collector.log") over $rounds link outages"
[ "$(grep -c 'resuming at' "$T/collector.log")" -gt 1 ] || die "the agent never lost its session"
echo PASS
