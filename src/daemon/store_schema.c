/*
 * store_schema.c - the store's schema, one list of migrations per dialect
 * (db.h). Both lists describe the same tables; keep them in step.
 */
#include "store_int.h"

#include "util.h"

/*
 * Schema migrations: store_schema_<dialect>[i] takes the database from
 * version i to i + 1. Never edit a released step; append a new one, to both
 * lists.
 */
const char *const store_schema_sqlite[] = {
	"CREATE TABLE tenants ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);"
	"CREATE TABLE quotas ("
	"  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,"
	"  max_vcpus INTEGER NOT NULL, max_memory_mib INTEGER NOT NULL,"
	"  max_disk_gib INTEGER NOT NULL, max_vms INTEGER NOT NULL);"
	"CREATE TABLE tokens ("
	"  id TEXT PRIMARY KEY, hash BLOB NOT NULL UNIQUE,"
	"  tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,"
	"  role TEXT NOT NULL CHECK (role IN ('operator', 'tenant')),"
	"  created_at TEXT NOT NULL);"
	"CREATE TABLE vms ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL, service TEXT NOT NULL, image TEXT NOT NULL,"
	"  vcpus INTEGER NOT NULL, memory_mib INTEGER NOT NULL, disk_gib INTEGER NOT NULL,"
	"  user_data TEXT, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',"
	"  ready INTEGER NOT NULL DEFAULT 0, accel TEXT NOT NULL DEFAULT '',"
	"  restart_required INTEGER NOT NULL DEFAULT 0,"
	"  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
	"  UNIQUE (tenant_id, name));"
	"CREATE TABLE operations ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, vm_id TEXT NOT NULL,"
	"  kind TEXT NOT NULL, state TEXT NOT NULL, progress INTEGER NOT NULL DEFAULT 0,"
	"  message TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '', args TEXT,"
	"  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
	"CREATE INDEX operations_vm ON operations (vm_id, state);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, actor TEXT NOT NULL,"
	"  tenant_id TEXT, action TEXT NOT NULL, target TEXT NOT NULL,"
	"  outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX events_tenant ON events (tenant_id, id);",
	/* 2: a tenant's VM list in order without a sort (GET /v1/vms). */
	"CREATE INDEX vms_tenant_order ON vms (tenant_id, created_at, id);",
	/* 3: how the host provisioned the VM (clone from a template, or cold). */
	"ALTER TABLE vms ADD COLUMN provision TEXT NOT NULL DEFAULT '';",
	/* 4: tenant networks, VM NICs, external addresses, port forwards,
	 * firewall rules (docs/networks.md). */
	"ALTER TABLE tenants ADD COLUMN firewall_mode TEXT NOT NULL DEFAULT 'namespace';"
	"CREATE TABLE networks ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, cidr TEXT NOT NULL, created_at TEXT NOT NULL,"
	"  UNIQUE (tenant_id, name), UNIQUE (tenant_id, cidr));"
	"CREATE TABLE vm_nics ("
	"  vm_id TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE, idx INTEGER NOT NULL,"
	"  network_id TEXT NOT NULL REFERENCES networks(id), address TEXT NOT NULL,"
	"  PRIMARY KEY (vm_id, idx), UNIQUE (network_id, address));"
	"CREATE TABLE addresses ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  address TEXT NOT NULL UNIQUE, is_default INTEGER NOT NULL DEFAULT 0,"
	"  vm_id TEXT REFERENCES vms(id) ON DELETE SET NULL, created_at TEXT NOT NULL);"
	"CREATE TABLE forwards ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  address_id TEXT NOT NULL REFERENCES addresses(id) ON DELETE CASCADE,"
	"  protocol TEXT NOT NULL, port INTEGER NOT NULL,"
	"  vm_id TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE, to_port INTEGER NOT NULL,"
	"  created_at TEXT NOT NULL, UNIQUE (address_id, protocol, port));"
	"CREATE TABLE fw_rules ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  direction TEXT NOT NULL, action TEXT NOT NULL, protocol TEXT NOT NULL,"
	"  port_min INTEGER, port_max INTEGER, remote TEXT NOT NULL,"
	"  target_vm TEXT REFERENCES vms(id) ON DELETE CASCADE,"
	"  target_network TEXT REFERENCES networks(id) ON DELETE CASCADE,"
	"  priority INTEGER NOT NULL, origin TEXT NOT NULL, created_at TEXT NOT NULL);"
	"CREATE INDEX fw_rules_tenant ON fw_rules (tenant_id, priority, created_at);",
	/* 5: volumes in the host's storage pool and the alerts pulled from it
	 * (store_volume.h). */
	"CREATE TABLE volumes ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL, size_gib INTEGER NOT NULL, redundancy TEXT NOT NULL,"
	"  state TEXT NOT NULL, origin TEXT, readonly INTEGER NOT NULL DEFAULT 0,"
	"  vm_id TEXT REFERENCES vms(id) ON DELETE SET NULL, created_at TEXT NOT NULL,"
	"  UNIQUE (tenant_id, name));"
	"CREATE INDEX volumes_vm ON volumes (vm_id);"
	"CREATE TABLE alerts ("
	"  seq INTEGER PRIMARY KEY, tenant_id TEXT, volume_id TEXT, kind TEXT NOT NULL,"
	"  off INTEGER, signature TEXT, engine TEXT, source TEXT, device INTEGER,"
	"  message TEXT NOT NULL DEFAULT '', time TEXT NOT NULL);"
	"CREATE INDEX alerts_tenant ON alerts (tenant_id, seq);",
	/* 6: how long each step of an operation took (JSON, store.h). */
	"ALTER TABLE operations ADD COLUMN timing TEXT;",
	/* 7: several hosts (docs/hosts.md, store_host.h): the hosts, each VM's
	 * host and its state before its host went down, a tenant's home host
	 * and the hosts that have its networks, a VNI per network, the MAC of
	 * each NIC (the home host's DHCP leases for VMs elsewhere). */
	"CREATE TABLE hosts ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, socket TEXT NOT NULL,"
	"  underlay_address TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT 'down',"
	"  draining INTEGER NOT NULL DEFAULT 0, cpus INTEGER NOT NULL DEFAULT 0,"
	"  memory_mib INTEGER NOT NULL DEFAULT 0, mem_overcommit REAL NOT NULL DEFAULT 1.0,"
	"  accel TEXT NOT NULL DEFAULT '', agent_version TEXT NOT NULL DEFAULT '',"
	"  last_heartbeat TEXT, created_at TEXT NOT NULL);"
	"ALTER TABLE vms ADD COLUMN host_id TEXT NOT NULL DEFAULT 'local';"
	"ALTER TABLE vms ADD COLUMN last_state TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX vms_host ON vms (host_id);"
	"ALTER TABLE tenants ADD COLUMN home_host TEXT;"
	"CREATE TABLE tenant_hosts ("
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  host_id TEXT NOT NULL, PRIMARY KEY (tenant_id, host_id));"
	/* Until now every tenant lived on the one host: local is its home. */
	"UPDATE tenants SET home_host = 'local';"
	"INSERT INTO tenant_hosts (tenant_id, host_id) SELECT id, 'local' FROM tenants;"
	"ALTER TABLE networks ADD COLUMN vni INTEGER;"
	"UPDATE networks SET vni = rowid;"
	"CREATE UNIQUE INDEX networks_vni ON networks (vni);"
	"ALTER TABLE vm_nics ADD COLUMN mac TEXT NOT NULL DEFAULT '';",
	/* 8: placement groups with anti-affinity, each host's disk, volumes
	 * per host, TLS hosts and join tokens (docs/hosts.md). */
	"ALTER TABLE vms ADD COLUMN group_name TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE vms ADD COLUMN anti_affinity INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX vms_group ON vms (tenant_id, group_name);"
	"ALTER TABLE hosts ADD COLUMN disk_gib INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN disk_free_gib INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN templates TEXT NOT NULL DEFAULT '[]';"
	/* Volumes in each host's pool; alerts numbered per host (host_id,
	 * seq), in the control plane's order by id. */
	"ALTER TABLE volumes ADD COLUMN host_id TEXT NOT NULL DEFAULT 'local';"
	"DROP INDEX alerts_tenant;"
	"ALTER TABLE alerts RENAME TO alerts_v7;"
	"CREATE TABLE alerts ("
	"  id INTEGER PRIMARY KEY, host_id TEXT NOT NULL, seq INTEGER NOT NULL,"
	"  tenant_id TEXT, volume_id TEXT, kind TEXT NOT NULL,"
	"  off INTEGER, signature TEXT, engine TEXT, source TEXT, device INTEGER,"
	"  message TEXT NOT NULL DEFAULT '', time TEXT NOT NULL, UNIQUE (host_id, seq));"
	"INSERT INTO alerts (host_id, seq, tenant_id, volume_id, kind, off, signature, engine,"
	"  source, device, message, time) SELECT 'local', seq, tenant_id, volume_id, kind, off,"
	"  signature, engine, source, device, message, time FROM alerts_v7 ORDER BY seq;"
	"DROP TABLE alerts_v7;"
	"CREATE INDEX alerts_tenant ON alerts (tenant_id, id);"
	/* Hosts reached over mutual TLS (an agent's address and pinned
	 * certificate fingerprint instead of a socket), the protocol range the
	 * agent last reported, why a host is down, and one-time join tokens
	 * (only a hash of the secret; store_host.h). */
	"ALTER TABLE hosts ADD COLUMN address TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN protocol TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN reason TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE join_tokens ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL, hash BLOB NOT NULL UNIQUE,"
	"  expires_at INTEGER NOT NULL, created_at TEXT NOT NULL);"
	/* Intrusion detection (store_ids.h): a tenant's settings and the
	 * alerts pulled from every host's sensor, per (host, seq, time): a
	 * host whose numbering started again adds, never overwrites. */
	"ALTER TABLE tenants ADD COLUMN ids_enabled INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE tenants ADD COLUMN ids_rules TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE ids_alerts ("
	"  id INTEGER PRIMARY KEY, host_id TEXT NOT NULL, seq INTEGER NOT NULL,"
	"  tenant_id TEXT, network_id TEXT, time TEXT NOT NULL, sid INTEGER NOT NULL,"
	"  severity INTEGER NOT NULL, signature TEXT NOT NULL, category TEXT NOT NULL,"
	"  src_ip TEXT, src_port INTEGER, dest_ip TEXT, dest_port INTEGER, proto TEXT,"
	"  app_proto TEXT, src_vm TEXT, dest_vm TEXT, eve TEXT NOT NULL,"
	"  UNIQUE (host_id, seq, time));"
	"CREATE INDEX ids_alerts_tenant ON ids_alerts (tenant_id, id);"
	/* A VM being moved: the host it goes to, charged there meanwhile and
	 * sent the tenant's networks (docs/migration.md). */
	"ALTER TABLE vms ADD COLUMN migrating_to TEXT NOT NULL DEFAULT '';"
	/* A tenant's SSH public keys (store_keys.h) and the ones a VM was made
	 * with (its seed's, kept as they were at the create). */
	"CREATE TABLE ssh_keys ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, type TEXT NOT NULL, bits INTEGER NOT NULL,"
	"  fingerprint TEXT NOT NULL, public_key TEXT NOT NULL, created_at TEXT NOT NULL,"
	"  UNIQUE (tenant_id, name));"
	"ALTER TABLE vms ADD COLUMN ssh_keys TEXT;"
	/* The cloudletd instance running an operation and its lease
	 * (store_lease.h). */
	"ALTER TABLE operations ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE operations ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX operations_state ON operations (state, lease_until);"
	/* API tokens a tenant manages: a name, an expiry, when last used. */
	"ALTER TABLE tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE tokens ADD COLUMN expires_at INTEGER;"
	"ALTER TABLE tokens ADD COLUMN last_used TEXT;",
	/* 9: VPN channels (docs/networks.md, "VPN channels"): a tenant's
	 * gateway (its port, tunnel pool and public key: the private key is a
	 * file of the daemon's, store_vpn.h), its channels and their peers
	 * (public keys only). */
	"CREATE TABLE vpn_gateways ("
	"  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,"
	"  listen_port INTEGER NOT NULL, pool TEXT NOT NULL, public_key TEXT NOT NULL,"
	"  created_at TEXT NOT NULL);"
	"CREATE TABLE vpn_channels ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, kind TEXT NOT NULL, network_id TEXT, vms TEXT NOT NULL DEFAULT '[]',"
	"  remote_cidrs TEXT NOT NULL DEFAULT '[]', dns TEXT NOT NULL DEFAULT '',"
	"  created_at TEXT NOT NULL, UNIQUE (tenant_id, name));"
	"CREATE TABLE vpn_peers ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  channel_id TEXT NOT NULL REFERENCES vpn_channels(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, public_key TEXT NOT NULL, address TEXT NOT NULL,"
	"  endpoint TEXT NOT NULL DEFAULT '', expires_at INTEGER, created_at TEXT NOT NULL,"
	"  UNIQUE (tenant_id, public_key), UNIQUE (tenant_id, address),"
	"  UNIQUE (channel_id, name));",
	/* 10: a tenant's intrusion detection suppressions (store_ids.h). */
	"CREATE TABLE ids_suppressions ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  sid INTEGER NOT NULL, gid INTEGER NOT NULL, track TEXT NOT NULL DEFAULT '',"
	"  ip TEXT NOT NULL DEFAULT '', expires INTEGER NOT NULL DEFAULT 0,"
	"  created_at TEXT NOT NULL);"
	"CREATE INDEX ids_suppressions_tenant ON ids_suppressions (tenant_id);",
	/* 11: disk images tenants uploaded (store_images.h), checked and
	 * converted to raw (docs/images.md); they count against max_disk_gib. */
	"CREATE TABLE images ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, source_format TEXT NOT NULL, virtual_size INTEGER NOT NULL,"
	"  created_at TEXT NOT NULL, UNIQUE (tenant_id, name));",
	/* 12: sites (docs/dr.md): the site a host belongs to ('' = the only
	 * site), and where each VM's disks are replicated at the standby. */
	"ALTER TABLE hosts ADD COLUMN site TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE vm_replicas ("
	"  vm_id TEXT PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,"
	"  host_id TEXT NOT NULL, agent_id TEXT NOT NULL, created_at TEXT NOT NULL);",
	/* 13: a tenant's VM-to-VM tunnel between hosts (docs/networks.md, "VM
	 * to VM"): its slot, unique per control plane, gives its UDP port and
	 * tunnel addresses; the hosts' private keys are files (store_vpn.h). */
	"CREATE TABLE vpn_vmvm ("
	"  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,"
	"  slot INTEGER NOT NULL UNIQUE, created_at TEXT NOT NULL);",
};

/*
 * PostgreSQL: the same steps, numbered alike (schema_version), in its
 * types: BIGINT for INTEGER (every integer column is int8, as the store
 * binds int8), BYTEA for BLOB, DOUBLE PRECISION for REAL, BIGSERIAL for
 * AUTOINCREMENT, and a rowid BIGSERIAL column in the tables listed in
 * creation order (SQLite's rowid).
 */
const char *const store_schema_pg[] = {
	"CREATE TABLE tenants ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);"
	"CREATE TABLE quotas ("
	"  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,"
	"  max_vcpus BIGINT NOT NULL, max_memory_mib BIGINT NOT NULL,"
	"  max_disk_gib BIGINT NOT NULL, max_vms BIGINT NOT NULL);"
	"CREATE TABLE tokens ("
	"  id TEXT PRIMARY KEY, hash BYTEA NOT NULL UNIQUE,"
	"  tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,"
	"  role TEXT NOT NULL CHECK (role IN ('operator', 'tenant')),"
	"  created_at TEXT NOT NULL);"
	"CREATE TABLE vms ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL, service TEXT NOT NULL, image TEXT NOT NULL,"
	"  vcpus BIGINT NOT NULL, memory_mib BIGINT NOT NULL, disk_gib BIGINT NOT NULL,"
	"  user_data TEXT, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',"
	"  ready BIGINT NOT NULL DEFAULT 0, accel TEXT NOT NULL DEFAULT '',"
	"  restart_required BIGINT NOT NULL DEFAULT 0,"
	"  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
	"  UNIQUE (tenant_id, name));"
	"CREATE TABLE operations ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, vm_id TEXT NOT NULL,"
	"  kind TEXT NOT NULL, state TEXT NOT NULL, progress BIGINT NOT NULL DEFAULT 0,"
	"  message TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '', args TEXT,"
	"  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
	"CREATE INDEX operations_vm ON operations (vm_id, state);"
	"CREATE TABLE events ("
	"  id BIGSERIAL PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL,"
	"  tenant_id TEXT, action TEXT NOT NULL, target TEXT NOT NULL,"
	"  outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX events_tenant ON events (tenant_id, id);",
	/* 2: a tenant's VM list in order without a sort (GET /v1/vms). */
	"CREATE INDEX vms_tenant_order ON vms (tenant_id, created_at, id);",
	/* 3: how the host provisioned the VM (clone from a template, or cold). */
	"ALTER TABLE vms ADD COLUMN provision TEXT NOT NULL DEFAULT '';",
	/* 4: tenant networks, VM NICs, external addresses, port forwards,
	 * firewall rules (docs/networks.md). */
	"ALTER TABLE tenants ADD COLUMN firewall_mode TEXT NOT NULL DEFAULT 'namespace';"
	"CREATE TABLE networks ("
	"  rowid BIGSERIAL, id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, cidr TEXT NOT NULL, created_at TEXT NOT NULL,"
	"  UNIQUE (tenant_id, name), UNIQUE (tenant_id, cidr));"
	"CREATE TABLE vm_nics ("
	"  vm_id TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE, idx BIGINT NOT NULL,"
	"  network_id TEXT NOT NULL REFERENCES networks(id), address TEXT NOT NULL,"
	"  PRIMARY KEY (vm_id, idx), UNIQUE (network_id, address));"
	"CREATE TABLE addresses ("
	"  rowid BIGSERIAL, id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  address TEXT NOT NULL UNIQUE, is_default BIGINT NOT NULL DEFAULT 0,"
	"  vm_id TEXT REFERENCES vms(id) ON DELETE SET NULL, created_at TEXT NOT NULL);"
	"CREATE TABLE forwards ("
	"  rowid BIGSERIAL, id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  address_id TEXT NOT NULL REFERENCES addresses(id) ON DELETE CASCADE,"
	"  protocol TEXT NOT NULL, port BIGINT NOT NULL,"
	"  vm_id TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE, to_port BIGINT NOT NULL,"
	"  created_at TEXT NOT NULL, UNIQUE (address_id, protocol, port));"
	"CREATE TABLE fw_rules ("
	"  rowid BIGSERIAL, id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  direction TEXT NOT NULL, action TEXT NOT NULL, protocol TEXT NOT NULL,"
	"  port_min BIGINT, port_max BIGINT, remote TEXT NOT NULL,"
	"  target_vm TEXT REFERENCES vms(id) ON DELETE CASCADE,"
	"  target_network TEXT REFERENCES networks(id) ON DELETE CASCADE,"
	"  priority BIGINT NOT NULL, origin TEXT NOT NULL, created_at TEXT NOT NULL);"
	"CREATE INDEX fw_rules_tenant ON fw_rules (tenant_id, priority, created_at);",
	/* 5: volumes in the host's storage pool and the alerts pulled from it
	 * (store_volume.h). */
	"CREATE TABLE volumes ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL, size_gib BIGINT NOT NULL, redundancy TEXT NOT NULL,"
	"  state TEXT NOT NULL, origin TEXT, readonly BIGINT NOT NULL DEFAULT 0,"
	"  vm_id TEXT REFERENCES vms(id) ON DELETE SET NULL, created_at TEXT NOT NULL,"
	"  UNIQUE (tenant_id, name));"
	"CREATE INDEX volumes_vm ON volumes (vm_id);"
	"CREATE TABLE alerts ("
	"  seq BIGINT PRIMARY KEY, tenant_id TEXT, volume_id TEXT, kind TEXT NOT NULL,"
	"  off BIGINT, signature TEXT, engine TEXT, source TEXT, device BIGINT,"
	"  message TEXT NOT NULL DEFAULT '', time TEXT NOT NULL);"
	"CREATE INDEX alerts_tenant ON alerts (tenant_id, seq);",
	/* 6: how long each step of an operation took (JSON, store.h). */
	"ALTER TABLE operations ADD COLUMN timing TEXT;",
	/* 7: several hosts (docs/hosts.md, store_host.h): the hosts, each VM's
	 * host and its state before its host went down, a tenant's home host
	 * and the hosts that have its networks, a VNI per network, the MAC of
	 * each NIC (the home host's DHCP leases for VMs elsewhere). */
	"CREATE TABLE hosts ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, socket TEXT NOT NULL,"
	"  underlay_address TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT 'down',"
	"  draining BIGINT NOT NULL DEFAULT 0, cpus BIGINT NOT NULL DEFAULT 0,"
	"  memory_mib BIGINT NOT NULL DEFAULT 0,"
	"  mem_overcommit DOUBLE PRECISION NOT NULL DEFAULT 1.0,"
	"  accel TEXT NOT NULL DEFAULT '', agent_version TEXT NOT NULL DEFAULT '',"
	"  last_heartbeat TEXT, created_at TEXT NOT NULL);"
	"ALTER TABLE vms ADD COLUMN host_id TEXT NOT NULL DEFAULT 'local';"
	"ALTER TABLE vms ADD COLUMN last_state TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX vms_host ON vms (host_id);"
	"ALTER TABLE tenants ADD COLUMN home_host TEXT;"
	"CREATE TABLE tenant_hosts ("
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  host_id TEXT NOT NULL, PRIMARY KEY (tenant_id, host_id));"
	/* Until now every tenant lived on the one host: local is its home. */
	"UPDATE tenants SET home_host = 'local';"
	"INSERT INTO tenant_hosts (tenant_id, host_id) SELECT id, 'local' FROM tenants;"
	"ALTER TABLE networks ADD COLUMN vni BIGINT;"
	"UPDATE networks SET vni = rowid;"
	"CREATE UNIQUE INDEX networks_vni ON networks (vni);"
	"ALTER TABLE vm_nics ADD COLUMN mac TEXT NOT NULL DEFAULT '';",
	/* 8: as SQLite's step 8 (placement groups, hosts' disk and templates,
	 * volumes and alerts per host, TLS hosts and join tokens, intrusion
	 * detection, moving VMs, SSH keys, operations' owner and lease). */
	"ALTER TABLE vms ADD COLUMN group_name TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE vms ADD COLUMN anti_affinity BIGINT NOT NULL DEFAULT 0;"
	"CREATE INDEX vms_group ON vms (tenant_id, group_name);"
	"ALTER TABLE hosts ADD COLUMN disk_gib BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN disk_free_gib BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN templates TEXT NOT NULL DEFAULT '[]';"
	"ALTER TABLE volumes ADD COLUMN host_id TEXT NOT NULL DEFAULT 'local';"
	"DROP INDEX alerts_tenant;"
	"ALTER TABLE alerts RENAME TO alerts_v7;"
	"CREATE TABLE alerts ("
	"  id BIGSERIAL PRIMARY KEY, host_id TEXT NOT NULL, seq BIGINT NOT NULL,"
	"  tenant_id TEXT, volume_id TEXT, kind TEXT NOT NULL,"
	"  off BIGINT, signature TEXT, engine TEXT, source TEXT, device BIGINT,"
	"  message TEXT NOT NULL DEFAULT '', time TEXT NOT NULL, UNIQUE (host_id, seq));"
	"INSERT INTO alerts (host_id, seq, tenant_id, volume_id, kind, off, signature, engine,"
	"  source, device, message, time) SELECT 'local', seq, tenant_id, volume_id, kind, off,"
	"  signature, engine, source, device, message, time FROM alerts_v7 ORDER BY seq;"
	"DROP TABLE alerts_v7;"
	"CREATE INDEX alerts_tenant ON alerts (tenant_id, id);"
	"ALTER TABLE hosts ADD COLUMN address TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN protocol TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN reason TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE join_tokens ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL, hash BYTEA NOT NULL UNIQUE,"
	"  expires_at BIGINT NOT NULL, created_at TEXT NOT NULL);"
	"ALTER TABLE tenants ADD COLUMN ids_enabled BIGINT NOT NULL DEFAULT 1;"
	"ALTER TABLE tenants ADD COLUMN ids_rules TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE ids_alerts ("
	"  id BIGSERIAL PRIMARY KEY, host_id TEXT NOT NULL, seq BIGINT NOT NULL,"
	"  tenant_id TEXT, network_id TEXT, time TEXT NOT NULL, sid BIGINT NOT NULL,"
	"  severity BIGINT NOT NULL, signature TEXT NOT NULL, category TEXT NOT NULL,"
	"  src_ip TEXT, src_port BIGINT, dest_ip TEXT, dest_port BIGINT, proto TEXT,"
	"  app_proto TEXT, src_vm TEXT, dest_vm TEXT, eve TEXT NOT NULL,"
	"  UNIQUE (host_id, seq, time));"
	"CREATE INDEX ids_alerts_tenant ON ids_alerts (tenant_id, id);"
	"ALTER TABLE vms ADD COLUMN migrating_to TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE ssh_keys ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, type TEXT NOT NULL, bits BIGINT NOT NULL,"
	"  fingerprint TEXT NOT NULL, public_key TEXT NOT NULL, created_at TEXT NOT NULL,"
	"  UNIQUE (tenant_id, name));"
	"ALTER TABLE vms ADD COLUMN ssh_keys TEXT;"
	"ALTER TABLE operations ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE operations ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;"
	"CREATE INDEX operations_state ON operations (state, lease_until);"
	"ALTER TABLE tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE tokens ADD COLUMN expires_at BIGINT;"
	"ALTER TABLE tokens ADD COLUMN last_used TEXT;",
	/* 9: as SQLite's step 9 (VPN channels). */
	"CREATE TABLE vpn_gateways ("
	"  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,"
	"  listen_port BIGINT NOT NULL, pool TEXT NOT NULL, public_key TEXT NOT NULL,"
	"  created_at TEXT NOT NULL);"
	"CREATE TABLE vpn_channels ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, kind TEXT NOT NULL, network_id TEXT, vms TEXT NOT NULL DEFAULT '[]',"
	"  remote_cidrs TEXT NOT NULL DEFAULT '[]', dns TEXT NOT NULL DEFAULT '',"
	"  created_at TEXT NOT NULL, UNIQUE (tenant_id, name));"
	"CREATE TABLE vpn_peers ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  channel_id TEXT NOT NULL REFERENCES vpn_channels(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, public_key TEXT NOT NULL, address TEXT NOT NULL,"
	"  endpoint TEXT NOT NULL DEFAULT '', expires_at BIGINT, created_at TEXT NOT NULL,"
	"  UNIQUE (tenant_id, public_key), UNIQUE (tenant_id, address),"
	"  UNIQUE (channel_id, name));",
	/* 10: as SQLite's step 10 (intrusion detection suppressions). */
	"CREATE TABLE ids_suppressions ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  sid BIGINT NOT NULL, gid BIGINT NOT NULL, track TEXT NOT NULL DEFAULT '',"
	"  ip TEXT NOT NULL DEFAULT '', expires BIGINT NOT NULL DEFAULT 0,"
	"  created_at TEXT NOT NULL);"
	"CREATE INDEX ids_suppressions_tenant ON ids_suppressions (tenant_id);",
	/* 11: as SQLite's step 11 (uploaded images). */
	"CREATE TABLE images ("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, source_format TEXT NOT NULL, virtual_size BIGINT NOT NULL,"
	"  created_at TEXT NOT NULL, UNIQUE (tenant_id, name));",
	/* 12: as SQLite's step 12 (sites). */
	"ALTER TABLE hosts ADD COLUMN site TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE vm_replicas ("
	"  vm_id TEXT PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,"
	"  host_id TEXT NOT NULL, agent_id TEXT NOT NULL, created_at TEXT NOT NULL);",
	/* 13: as SQLite's step 13 (the VM-to-VM tunnel's slot). */
	"CREATE TABLE vpn_vmvm ("
	"  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,"
	"  slot BIGINT NOT NULL UNIQUE, created_at TEXT NOT NULL);",
};

const size_t store_schema_sqlite_len = ARRAY_LEN(store_schema_sqlite);
const size_t store_schema_pg_len = ARRAY_LEN(store_schema_pg);
