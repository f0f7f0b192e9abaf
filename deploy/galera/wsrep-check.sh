#!/bin/sh
# haproxy external check for a Galera node: passes only when the node is synced (wsrep_local_state = 4), so a
# node that is joining, donating, or outside the primary component gets no traffic (it would answer errno 1047).
# haproxy calls it as: wsrep-check.sh <proxy_addr> <proxy_port> <server_addr> <server_port>.
# WSREP_CHECK_USER: a user that may run SHOW STATUS (default root; give it a password in ~/.my.cnf, not here).
state=$(mariadb --connect-timeout=2 -h "$3" -P "$4" -u "${WSREP_CHECK_USER:-root}" -N -B \
  -e "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'" 2>/dev/null | cut -f2)
[ "$state" = "4" ]
